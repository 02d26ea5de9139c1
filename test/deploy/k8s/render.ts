import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'

/** An object as kustomize renders it: the fields every Kubernetes object has, the rest unchecked until validated. */
export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  [field: string]: unknown
}

/** What renders a kustomization directory to YAML. */
export interface Renderer {
  /** e.g. "kubectl v1.32.4 (kustomize v5.5.0)", for the test's title */
  name: string
  render(dir: string): string
}

const INSTALL_HINT = 'run `bash scripts/install-test-deps.sh` (it installs kustomize v5 into .cache/bin with `go install`), or put kubectl >= 1.24 on PATH'

/**
 * kubectl's kustomize when it is v4.5 or later (components, JSON patches with targets, replacements),
 * else a standalone kustomize from .cache/bin or PATH. Throws, saying how to install one, when neither is there.
 */
export function findRenderer(repoRoot: string): Renderer {
  const kubectl = kubectlKustomize()
  if (kubectl) return kubectl
  for (const bin of [join(repoRoot, '.cache', 'bin', 'kustomize'), 'kustomize']) {
    const version = run(bin, ['version'])
    if (version === null) continue
    if (/\bv([23]|4\.[0-4])\./.test(version)) continue // replacements with wildcards need v4.5
    return { name: `kustomize ${version.trim()}`, render: (dir) => execFileSync(bin, ['build', dir], { encoding: 'utf8', maxBuffer: 64 << 20 }) }
  }
  throw new Error(`kustomize >= v4.5 is needed to render deploy/k8s and none was found: ${INSTALL_HINT}. `
    + "(Debian bookworm's kubernetes-client is kubectl 1.20 with kustomize v2.0.3, too old for these manifests.)")
}

function kubectlKustomize(): Renderer | null {
  const out = run('kubectl', ['version', '--client', '-o', 'json'])
  if (out === null) return null
  let info: { clientVersion?: { gitVersion?: string }; kustomizeVersion?: string }
  try {
    info = JSON.parse(out) as typeof info
  } catch {
    return null
  }
  // kubectl reports its kustomize from 1.24 on (v4.5.4); older ones bundle v4.0.5 or v2.0.3 and say nothing.
  const kustomize = info.kustomizeVersion ?? ''
  const [, major = 0, minor = 0] = (/^v(\d+)\.(\d+)/.exec(kustomize) ?? []).map(Number)
  if (major < 4 || (major === 4 && minor < 5)) return null
  return {
    name: `kubectl ${info.clientVersion?.gitVersion ?? '?'} (kustomize ${kustomize})`,
    render: (dir) => execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 << 20 }),
  }
}

function run(bin: string, args: string[]): string | null {
  if (bin.includes('/') && !existsSync(bin)) return null
  try {
    return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  } catch {
    return null
  }
}

/** The objects of a rendered multi-document YAML stream; a document that is not an object with a kind and a name is an error. */
export function parseObjects(yamlText: string): K8sObject[] {
  return parseAllDocuments(yamlText).map((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`document ${i}: ${doc.errors.map((e) => e.message).join('; ')}`)
    const value: unknown = doc.toJS()
    const o = value as Partial<K8sObject> | null
    if (!o || typeof o !== 'object' || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') {
      throw new Error(`document ${i} is not a Kubernetes object (apiVersion, kind, metadata.name)`)
    }
    return o as K8sObject
  })
}
