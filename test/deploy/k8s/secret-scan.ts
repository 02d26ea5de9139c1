import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

// Finds what looks like a real secret in text: key material, tokens with a known shape, passwords
// in URLs and in NAME=value settings. Placeholders (<password>, $VAR, ${VAR}, CHANGE_ME, …) pass.

/**
 * Credentials that are public on purpose, with where and why: the loopback development stack's
 * role (deploy/local/README.md documents user vigil, password vigil, listening on 127.0.0.1 only).
 */
const PUBLIC_CREDENTIALS = new Set(['vigil'])

const PLACEHOLDER = /^(?:<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\.\.\.|…|(?:CHANGE|REPLACE)[_-]?ME|changeme|example|x+|\*+|placeholder|pass(?:word)?|secret|token)$/i

const PATTERNS: Array<{ what: string; re: RegExp; value?: number }> = [
  { what: 'a private key', re: /-----BEGIN [A-Z ]*PRIVATE KEY-----/g },
  { what: 'a certificate (CA bundles go in the Secret vigil-ca, not in the repository)', re: /-----BEGIN CERTIFICATE-----/g },
  { what: 'a Slack webhook URL', re: /hooks\.slack\.com\/services\/T[A-Z0-9]+\/B[A-Z0-9]+\/[A-Za-z0-9]+/g },
  { what: 'a Slack token', re: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g },
  { what: 'an AWS access key id', re: /\bAKIA[0-9A-Z]{16}\b/g },
  { what: 'a GitHub token', re: /\bgh[pousr]_[A-Za-z0-9]{36,}\b/g },
  // scheme://user:password@host
  { what: 'a password in a URL', re: /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@"'`]+:([^\s/@"'`]+)@/gi, value: 1 },
  // KAFKA_SASL_PASSWORD=…, API_TOKEN: "…", --from-literal=WEBHOOK_SECRET=… (names in capitals, as env and Secret keys are)
  { what: 'a secret setting with a value', re: /\b[A-Z][A-Z0-9_]*(?:PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)[A-Z0-9_]*"?\s*[:=]\s*["']?([^\s"'`,;)}]+)/g, value: 1 },
]

/** Each secret-looking value in `text`, as "line N: what"; empty when there is none. */
export function findSecretValues(text: string): string[] {
  const hits: string[] = []
  for (const { what, re, value } of PATTERNS) {
    for (const m of text.matchAll(re)) {
      const secret = value === undefined ? m[0] : m[value]!
      if (value !== undefined && (PLACEHOLDER.test(secret) || PUBLIC_CREDENTIALS.has(secret) || secret.startsWith('$'))) continue
      const line = text.slice(0, m.index).split('\n').length
      hits.push(`line ${line}: ${what} (${redact(secret)})`)
    }
  }
  return hits
}

/** Each text file under `dir` with secret-looking values, as "path: line N: what". */
export function scanTree(dir: string, root = dir): string[] {
  const hits: string[] = []
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) {
      hits.push(...scanTree(path, root))
      continue
    }
    const bytes = readFileSync(path)
    if (bytes.includes(0)) continue // binary
    for (const hit of findSecretValues(bytes.toString('utf8'))) hits.push(`${relative(root, path)}: ${hit}`)
  }
  return hits
}

const redact = (s: string) => (s.length <= 6 ? '***' : `${s.slice(0, 3)}…${s.length} chars`)
