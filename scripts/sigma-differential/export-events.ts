// Real log lines (the samples in test/fixtures) → the featurizer's normalized events → events.jsonl, for the differential test:
// each event with what both engines read: its Sigma logsource (product, categories, services), the
// Sigma fields the loaded rules name (through packages/sigma/src/field-mapping.ts, the one mapping),
// and the full-text column (the original line) that keywords search.
// Usage: tsx scripts/sigma-differential/export-events.ts <out.jsonl> [rules dir...]
import { createWriteStream, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import type { DeliveredMessage } from '@vigil/platform'
import { allTopics, createCodec, type RawLog } from '@vigil/schemas'
import { REPO_ROOT } from '@vigil/testkit'
import { loadRuleSet } from '../../packages/sigma/src/load-rules.ts'
import { type SigmaEvent } from '../../packages/sigma/src/sigma-event.ts'
import { sourceOf, keywordText } from '../../packages/sigma/src/field-mapping.ts'
import { createRawLogDecoder } from '../../services/featurizer/src/decode-raw-log.ts'
import { normalizeEvent } from '../../services/featurizer/src/normalize-event.ts'
import { createZeekHeaderTracker } from '../../services/ingestor/src/zeek/zeek-header-tracker.ts'

/** Everything here reads only the repository's copies (each folder's README says source and license). */
export const FIXTURES = join(REPO_ROOT, 'test', 'fixtures')
/** SigmaHQ's linux, web and zeek rules (test/fixtures/sigma/README.md). */
export const SIGMA_RULES = join(FIXTURES, 'sigma')

type Kind = 'text' | 'wrapped-access' | 'zeek' | 'csic'
/** The real samples, under FIXTURES, read whole (each is already a small sample). */
export const SAMPLES: { path: string; kind: Kind }[] = [
  ...['OpenSSH_2k.log', 'Linux_2k.log', 'Apache_2k.log'].map((f) => ({ path: `loghub/${f}`, kind: 'text' as const })),
  ...[2, 3, 4, 5, 6].flatMap((n) =>
    [`http/access_log.${n}`, `http/error_log.${n}`, `http/ssl_error_log.${n}`, `syslog/secure.${n}`, `syslog/messages.${n}`]
      .map((f) => ({ path: `sotm34-honeynet/${f}`, kind: 'text' as const }))),
  { path: 'sotm34-honeynet/iptables/iptablesyslog-sample.gz', kind: 'text' },
  { path: 'apache-scanner-logs/netsparker-sample.txt', kind: 'wrapped-access' },
  { path: 'apache-scanner-logs/netsparker-sigma-hits.txt', kind: 'wrapped-access' },
  { path: 'apache-scanner-logs/w3af-sample.txt', kind: 'wrapped-access' },
  { path: 'csic2010-requests/anomalous-sample.txt', kind: 'csic' },
  { path: 'csic2010-requests/normal-sample.txt', kind: 'csic' },
  ...[
    '001-zeek-scenario-malicious/conn.log', '002-zeek-scenario-port-scanning/conn.log', '003-zeek-scenario-malicious/dns.log',
    '004-zeek-scenario-ssh/ssh.log', '005-zeek-scenario-malicious/dns.log', '005-zeek-scenario-malicious/http.log',
    '006-zeek-scenario-ssh/conn.log', '006-zeek-scenario-ssh/ssh.log', '008-zeek-mixed/data/http.log.labeled',
    '008-zeek-mixed/data/notice.log.labeled', '008-zeek-mixed/data/ssl.log.labeled', '008-zeek-mixed/data/weird.log.labeled',
    '009-zeek-malicious/data/dns.log.labeled', '009-zeek-malicious/data/files.log.labeled', '009-zeek-malicious/data/http.log.labeled',
    '009-zeek-malicious/data/notice.log.labeled', '009-zeek-malicious/data/weird.log.labeled', '011-zeek-mixed/data/conn.log.labeled',
    '011-zeek-mixed/data/http.log.labeled', '011-zeek-mixed/data/ssl.log.labeled',
  ].map((p) => ({ path: `stratosphere-zeek/${p}`, kind: 'zeek' as const })),
  // The JSON encoding only: zeek-default holds the same rows as TSV.
  ...[
    'dce_rpc', 'dns', 'kerberos', 'notice', 'rdp', 'smb_files', 'smb_mapping', 'ssh', 'ssl', 'x509', 'weird',
    'ftp', 'ntlm', 'software', 'pe', 'known_services',
  ].map((log) => ({ path: `zeek-wrccdc2018/zeek-json/${log}.json`, kind: 'zeek' as const })),
]

/**
 * CSIC 2010 keeps requests as `get http://localhost:8080/path?query`, percent-decoded (see its
 * README): written here as an access-log line, with only what a request line cannot hold
 * (spaces, quotes) percent-encoded again. Status and size are unknown (`-`).
 */
function csicAccessLine(request: string): string | null {
  const m = /^(get|post|put) https?:\/\/[^/\s]+(\/.*)$/.exec(request)
  if (m === null) return null
  const target = m[2]!.replace(/ /g, '%20').replace(/"/g, '%22')
  return `127.0.0.1 - - [01/Jan/2010:00:00:00 +0000] "${m[1]!.toUpperCase()} ${target} HTTP/1.1" - - "-" "-"`
}

/** One exported event: the event itself, and the columns the SQLite side loads. */
export interface ExportedEvent {
  event: SigmaEvent
  source: string
  product: string | null
  categories: readonly string[]
  services: readonly string[]
  fulltext: string
  /** Sigma field → value (lists joined with ',', booleans as 'true'/'false', absent fields left out) */
  fields: Record<string, string | number>
}

/** Reads the samples through the featurizer's own decoding and parsing. */
export async function readSampleEvents(dataDir = FIXTURES): Promise<SigmaEvent[]> {
  const codec = await createCodec({ registryUrl: undefined, kafkaName: (t) => t.name, topics: allTopics() })
  const decode = createRawLogDecoder(codec, 'raw-logs', { now: () => 0 })
  const events: SigmaEvent[] = []
  let offset = 0
  const push = (raw: RawLog, file: string) => {
    const message: DeliveredMessage<RawLog> = { value: raw, key: null, topic: file, partition: 0, offset: String(offset++), timestamp: 0, headers: {} }
    const n = normalizeEvent(message)
    events.push({ eventId: `${file}:${message.offset}`, family: n.family, eventTime: n.ecs.timestamp, event: n.ecs })
  }
  for (const sample of SAMPLES) {
    const bytes = readFileSync(join(dataDir, sample.path))
    const text = (sample.path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8')
    const lines = text.split(/\r?\n/).filter((l) => l.length > 0)
    const file = sample.path
    if (sample.kind === 'zeek') {
      const tracker = createZeekHeaderTracker({ defaultLog: basename(file).replace(/\.(log|json)(\.labeled)?$/, '') })
      for (const line of lines) {
        const verdict = tracker.classify(Buffer.from(line, 'utf8'))
        if (verdict.kind !== 'data') continue
        push({ line, receivedAt: 0, transport: 'file', peer: null, syslog: null, zeek: verdict.zeek }, file)
      }
      continue
    }
    for (const original of lines) {
      const line = sample.kind === 'csic' ? csicAccessLine(original)
        // apache-scanner-logs: most lines are wrapped in one extra pair of quotes (see its README).
        : sample.kind === 'wrapped-access' && original.startsWith('"') && original.endsWith('"') ? original.slice(1, -1) : original
      if (line === null) continue
      try {
        push(await decode(Buffer.from(line, 'utf8'), {}), file)
      } catch {
        // lines the decoder dead-letters (not text) are not events
      }
    }
  }
  return events
}

/** The columns of one event for the fields the rule set reads. */
export function exportEvent(event: SigmaEvent, fieldsBySource: Map<string, Set<string>>): ExportedEvent {
  const source = sourceOf(event)
  const fields: Record<string, string | number> = {}
  for (const name of fieldsBySource.get(source.key) ?? []) {
    const value = source.reader(name)?.(event)
    if (value === null || value === undefined) continue
    const v = Array.isArray(value) ? (value.length === 0 ? null : value.join(',')) : typeof value === 'boolean' ? String(value) : value
    if (v !== null) fields[name] = v as string | number
  }
  return {
    event, source: source.key, product: source.product, categories: source.categories, services: source.services,
    fulltext: keywordText(event), fields,
  }
}

async function main(): Promise<void> {
  const [out, ...dirs] = process.argv.slice(2)
  if (!out) throw new Error('usage: export-events.ts <out.jsonl> [rules dir...]')
  const set = loadRuleSet(dirs.length > 0 ? dirs : [SIGMA_RULES])
  const fieldsBySource = new Map<string, Set<string>>()
  for (const d of set.detections) {
    for (const c of d.compiled) {
      const names = fieldsBySource.get(c.source.key) ?? new Set<string>()
      for (const f of c.fields.keys()) names.add(f)
      fieldsBySource.set(c.source.key, names)
    }
  }
  const events = await readSampleEvents()
  const stream = createWriteStream(out)
  for (const e of events) stream.write(JSON.stringify(exportEvent(e, fieldsBySource)) + '\n')
  await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())))
  const bySource = new Map<string, number>()
  for (const e of events) bySource.set(sourceOf(e).key, (bySource.get(sourceOf(e).key) ?? 0) + 1)
  console.log(`${events.length} events → ${out}`, Object.fromEntries([...bySource].sort()))
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) await main()
