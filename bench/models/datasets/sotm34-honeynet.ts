import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { allTopics, CodecError, createCodec, featureNames, type RawLog } from '@vigil/schemas'
import { createRawLogDecoder } from '../../../services/featurizer/src/decode-raw-log.ts'
import { SHARED_DATA_DIR } from './dataset-files.ts'
import { orderedSplit, type PreparedDataset } from './labeled-matrix.ts'
import type { VigilFeaturizer } from './vigil-featurizer.ts'

const FOLDER = join(SHARED_DATA_DIR, 'sotm34-honeynet')
/** Rotations oldest first: row i of each labeled CSV is line i of these concatenated (README). */
const ROTATIONS = ['6', '5', '4', '3', '2']
const LOGS = [
  { raw: 'http/access_log', labeled: 'http_access_log.csv' },
  { raw: 'http/error_log', labeled: 'http_error_log.csv' },
  { raw: 'http/ssl_error_log', labeled: 'http_ssl_error.csv' },
  { raw: 'syslog/secure', labeled: 'syslog_secure.csv' },
  { raw: 'syslog/messages', labeled: 'syslog_messages.csv' },
  { raw: 'syslog/maillog', labeled: 'syslog_maillog.csv' },
]

/**
 * The labels are event types, not attack/benign. Everything reaching a honeypot from outside is
 * unsolicited, so the benign class is the host's own routine operation, the README's "routine
 * system messages": Apache start-up notices and warnings (B11, B12), SSL server notices (C04),
 * syslog's "last message repeated" (D01), CUPS, syslogd, httpd, rpc.statd, kernel and xinetd
 * messages (D03–D08, E06), cron's su sessions (D09), console logins (D11), local mail (F01, F02,
 * F05, F07). Every other type is an outsider's action: web scans, probes and proxy abuse (A*), the
 * errors those requests cause and the intruders' downloads (B01–B10), TLS handshake probes (C01–C03),
 * SSH guessing, scans and the password logins into the `test` account from ten countries (E01–E05,
 * D02, and D10, their sshd sessions), SMTP probes and relay attempts (F03, F04, F06).
 */
const ROUTINE_EVENT_TYPES = new Set(['B11', 'B12', 'C04', 'D01', 'D03', 'D04', 'D05', 'D06', 'D07', 'D08', 'D09', 'D11', 'E06', 'F01', 'F02', 'F05', 'F07'])
// The raw syslog lines carry no year; the decoder infers it from the time the line is received.
const RECEIVED_AT = Date.UTC(2005, 2, 7)

/**
 * The honeypot's Apache access, error and SSL error logs and its secure, messages and mail logs
 * (rotations .6–.2), line by line as a shipper sends a file with kcat (the featurizer's raw-logs
 * decoder reads plain text lines), merged in the order the events happened (the labelers' aligned
 * clock) and run through the featurizer; each line's label is its event type (see
 * ROUTINE_EVENT_TYPES). The earlier half of the events trains, the later half tests.
 */
export async function prepareSotm34Honeynet(featurizer: VigilFeaturizer): Promise<PreparedDataset> {
  const decode = createRawLogDecoder(await createCodec({ kafkaName: (t) => t.name, topics: allTopics() }), 'raw-logs', { now: () => RECEIVED_AT })
  const events: Array<{ at: string; record: RawLog; eventType: string }> = []
  let deadLettered = 0
  for (const log of LOGS) {
    const lines = ROTATIONS.flatMap((r) => readFileSync(join(FOLDER, 'raw', `${log.raw}.${r}`), 'utf8').split('\n').filter((l) => l !== ''))
    const labeled = readFileSync(join(FOLDER, 'labeled', log.labeled), 'utf8').split('\n').filter((l) => l !== '').slice(1).map(csvFields)
    if (labeled.length !== lines.length) throw new Error(`${log.labeled}: ${labeled.length} rows for ${lines.length} raw lines`)
    for (const [i, line] of lines.entries()) {
      const row = labeled[i]!
      let record: RawLog
      try {
        record = await decode(Buffer.from(line), {})
      } catch (err) {
        // The featurizer dead-letters these (binary request lines, control characters): no features, no score.
        if (!(err instanceof CodecError)) throw err
        deadLettered++
        continue
      }
      events.push({ at: `${row[0]} ${row[1]}`, record, eventType: row[row.length - 2]! })
    }
  }
  // A stable sort: lines of one log with the same second keep their file order.
  events.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
  const { vectors, families } = await featurizer.featurize(events.map((e) => e.record))
  const familyCounts: Record<string, number> = { 'dead-lettered': deadLettered }
  for (const f of families) familyCounts[f] = (familyCounts[f] ?? 0) + 1
  return {
    name: 'sotm34-honeynet',
    description: 'SotM34 honeypot logs (Apache access/error/SSL error, secure, messages, maillog; rotations .6–.2), each line sent as a '
      + `plain text line through the featurizer's raw-logs decoder and handleRawLogs in event order (lines the decoder dead-letters are left out): Vigil's ${featureNames.length} features. `
      + `Label: event type not in {${[...ROUTINE_EVENT_TYPES].join(', ')}} (the host's routine operation) = 1. `
      + 'Split: earlier half of the events trains, later half tests.',
    featureNames: [...featureNames],
    ...orderedSplit({ rows: vectors, labels: events.map((e) => (ROUTINE_EVENT_TYPES.has(e.eventType) ? 0 : 1)) }),
    families: familyCounts,
  }
}

/** The fields of one CSV line: comma-separated, `"…"` quoting with `""` for a quote. */
function csvFields(line: string): string[] {
  const fields: string[] = []
  let i = 0
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = ''
      i++
      while (i < line.length) {
        if (line[i] === '"' && line[i + 1] === '"') { value += '"'; i += 2 } else if (line[i] === '"') { i++; break } else value += line[i++]
      }
      fields.push(value)
      i++ // the comma
    } else {
      const end = line.indexOf(',', i)
      fields.push(line.slice(i, end === -1 ? line.length : end))
      i = end === -1 ? line.length + 1 : end + 1
    }
  }
  return fields
}
