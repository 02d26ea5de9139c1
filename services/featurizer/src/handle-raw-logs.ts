import { REDRIVEN_FROM_HEADER, type DeliveredMessage, type Metrics, type OutgoingRecord, type TypedProducer } from '@vigil/platform'
import { topics, type FeatureRecord, type RawLog } from '@vigil/schemas'
import type { FeatureStore, WindowStats } from './adapters/feature-store.ts'
import type { GeoLookup } from './adapters/geo.ts'
import { computeFeatures, SSHD_NO_IDENTIFICATION_ACTION, sshdLineOf, windowMarksOf, type FeatureContext, type SshdLine } from './compute-features.ts'
import { atSessionAddress, enrichEvent } from './enrich-event.ts'
import { normalizeEvent, type NormalizedEvent } from './normalize-event.ts'
import type { SourceTimeZones } from './source-time-zones.ts'

export interface RawLogsDeps {
  featureStore: FeatureStore
  producer: TypedProducer
  geo: GeoLookup | null
  context: FeatureContext
  /** senders' zones, for line times written without one; UTC for every sender when absent */
  timeZones?: SourceTimeZones
  metrics: Metrics
}

/**
 * raw-logs batch → one feature record per line, keyed by entity so each entity's windows stay on one
 * scorer partition. The features of a redriven dead letter carry its REDRIVEN_FROM_HEADER on.
 */
export async function handleRawLogs(messages: DeliveredMessage<RawLog>[], deps: RawLogsDeps): Promise<void> {
  const normalized = messages.map((m) => {
    const event = enrichEvent(normalizeEvent(m, deps.timeZones), deps.geo)
    deps.metrics.events.inc({ family: event.family, parsed: String(event.parsed) })
    if (event.datedAhead) deps.metrics.eventsDatedAhead.inc({ family: event.family })
    return event
  })
  const events = await withWindowMarks(normalized, deps.featureStore, deps.geo)
  const windows = await deps.featureStore.update(events)
  windows.forEach((window, i) => {
    if (window.lateBeyondGrace) deps.metrics.eventsLate.inc({ family: events[i]!.event.family })
  })
  await deps.producer.send(topics.features, events.map(({ event }, i) => ({
    key: event.entity.id, value: toFeatureRecord(event, windows[i]!, deps.context), ...provenanceOf(messages[i]!),
  })))
}

/**
 * The batch's events placed and marked for their windows: an sshd line read against its host's
 * sessions (FeatureStore.sshdSessions) may move to its connection's client address, and be, or not
 * be, the attempt it records. A verdict, PAM failure or `Invalid user` (or `User … not allowed`) line says which in
 * `ssh.attempt`, so rules count attempts as the windows do: once each, on hosts that log only PAM's
 * lines, and for clients that try no password, too.
 */
export async function withWindowMarks(normalized: NormalizedEvent[], featureStore: FeatureStore, geo: GeoLookup | null) {
  const sshdLines = normalized.map(sshdLineOf)
  const sessions = await featureStore.sshdSessions(sshdLines.filter((line) => line !== null))
  return normalized.map((normalizedEvent, i) => {
    const line = sshdLines[i]
    const session = line ? sessions.get(line) : undefined
    const placed = session?.sessionIp ? atSessionAddress(normalizedEvent, session.sessionIp, geo) : normalizedEvent
    // The line that ends a connection whose client sent no identification is that connection's record (compute-features.ts).
    if (line?.kind === 'closing') return { event: session?.counts ? asNoIdentification(placed) : placed, marks: windowMarksOf(placed) }
    const marks = windowMarksOf(placed, session?.counts)
    const event = line && ATTEMPT_KINDS.has(line.kind) ? withAttemptMark(placed, marks.authAttempt) : placed
    return { event, marks }
  })
}

/** The lines whose event says whether it is the attempt the windows count (`ssh.attempt`). */
const ATTEMPT_KINDS: ReadonlySet<SshdLine['kind']> = new Set(['failed-verdict', 'accepted-verdict', 'pam-failure', 'invalid-user'])

const asNoIdentification = (event: NormalizedEvent): NormalizedEvent =>
  ({ ...event, ecs: { ...event.ecs, event: { ...event.ecs.event, action: SSHD_NO_IDENTIFICATION_ACTION, outcome: 'failure' } } })

const withAttemptMark = (event: NormalizedEvent, attempt: boolean): NormalizedEvent =>
  ({ ...event, ecs: { ...event.ecs, ssh: { ...event.ecs.ssh, attempt } } })

// A line that was dead-lettered and then redriven is not taken for what normal looks like: the
// trainer keeps it out of training, and reads only the features, so they say where the line came from.
function provenanceOf(message: DeliveredMessage<RawLog>): Pick<OutgoingRecord<FeatureRecord>, 'headers'> {
  const redrivenFrom = message.headers[REDRIVEN_FROM_HEADER]
  return redrivenFrom === undefined ? {} : { headers: { [REDRIVEN_FROM_HEADER]: redrivenFrom } }
}

export function toFeatureRecord(event: NormalizedEvent, stats: WindowStats, context: FeatureContext): FeatureRecord {
  return {
    eventId: event.eventId,
    entity: event.entity,
    eventTime: event.ecs.timestamp,
    receivedAt: event.receivedAt,
    family: event.family,
    event: event.ecs,
    evidence: event.evidence,
    vector: computeFeatures(event, stats, context),
  }
}
