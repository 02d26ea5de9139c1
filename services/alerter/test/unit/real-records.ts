// `features` records of real log lines, made by the ingestor's and the featurizer's own code: what
// the Sigma rules read of a line is what production reads. Only the windows (Redis) are left out,
// and the vector is zeros: no rule reads them.
import type { DeliveredMessage } from '@vigil/platform'
import { featureNames, type FeatureRecord, type RawLog } from '@vigil/schemas'
import { normalizeEvent } from '../../../featurizer/src/normalize-event.ts'
import { handleInput, type ReceivedInput } from '../../../ingestor/src/handle-input.ts'
import { createZeekHeaderTracker } from '../../../ingestor/src/zeek/zeek-header-tracker.ts'

/**
 * Syslog lines (with or without `<PRI>`: a file's lines are sent with one), received at `receivedAt` (a
 * year-less date reads in its year). Event ids are the lines' positions: one call's records are one stream.
 */
export function syslogRecords(lines: readonly string[], receivedAt: number): FeatureRecord[] {
  return lines.map((line, i) => recordOf({ bytes: Buffer.from(line.startsWith('<') ? line : `<13>${line}`), transport: 'syslog-tcp', peer: '192.0.2.1:514', receivedAt }, i))
}

/** The lines of one Zeek log file (TSV with its headers, or JSON lines of log `log`), as a Zeek host streams them. */
export function zeekRecords(text: string, log: string, receivedAt: number): FeatureRecord[] {
  const tracker = createZeekHeaderTracker({ defaultLog: log })
  const records: FeatureRecord[] = []
  for (const line of text.split('\n').filter((l) => l !== '')) {
    const verdict = tracker.classify(Buffer.from(line))
    if (verdict.kind === 'reject') throw new Error(`${verdict.code}: ${verdict.reason}`)
    if (verdict.kind === 'data') records.push(recordOf({ bytes: Buffer.from(line), transport: 'zeek-tcp', peer: '192.0.2.9:47760', receivedAt, zeek: verdict.zeek }, records.length))
  }
  return records
}

function recordOf(input: ReceivedInput, offset: number): FeatureRecord {
  const verdict = handleInput(input)
  if (!verdict.ok) throw new Error(`${verdict.code}: ${verdict.reason}`)
  const message: DeliveredMessage<RawLog> = { value: verdict.record, key: verdict.key, topic: 'raw-logs', partition: 0, offset: String(offset), timestamp: input.receivedAt, headers: {} }
  const event = normalizeEvent(message)
  return {
    eventId: event.eventId, entity: event.entity, eventTime: event.ecs.timestamp, receivedAt: event.receivedAt, family: event.family,
    event: event.ecs, evidence: event.evidence,
    vector: Object.fromEntries(featureNames.map((n) => [n, 0])) as unknown as FeatureRecord['vector'],
  }
}
