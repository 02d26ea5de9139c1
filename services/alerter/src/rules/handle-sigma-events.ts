import { canRetry, TransientError, type DeliveredMessage } from '@vigil/platform'
import { sigmaEventOfFeatures, sigmaEventOfScore, sourceOf, type SigmaEngine, type SigmaEvent } from '@vigil/sigma'
import { ENTITY_KINDS, evidenceOf, type Alert, type Entity, type FeatureRecord, type Score } from '@vigil/schemas'
import type { CorrelationFeed } from './correlation-feed.ts'
import type { Flag, FlaggedEntities } from './flagged-entities.ts'
import { raiseAlerts, type RaiseDeps } from './raise-alerts.ts'
import { correlationAlert, detectionAlert, evidenceOfQuote, quoteOf, sigmaDetector, type HitContext, type RaisedAlert } from './sigma-alerts.ts'

/** Counters for rule hits (prom-client's Counter has this shape), e.g. app_sigma_matches_total{kind}. */
export interface MatchCounter {
  inc(labels: { kind: 'detection' | 'correlation' }, value?: number): void
}

export interface SigmaDeps extends RaiseDeps {
  engine: SigmaEngine
  correlations: CorrelationFeed
  flags: FlaggedEntities
  /** the rule set's version, which Sigma alerts carry as modelVersion */
  version: string
  /** ALERT_WINDOW_MS: one alert per entity, rule and window, or longer while an attack goes on (alert-store.ts) */
  windowMs: number
  /** ALERT_MAX_EVIDENCE: original lines a correlation alert starts with */
  maxEvidence: number
  matches?: MatchCounter | null
  now?: () => number
}

/**
 * features batch → Sigma hits → alerts. Each record is matched against the rules; matches feed
 * the correlations (state in Redis), then every detection rule that alerts and every correlation
 * that fired raises an alert (`sigma:<rule id>`, severity from the rule's level, its attribution
 * in the reasons), flags the entity for the trainer over the hit's event time, and goes the way
 * of every alert (raise-alerts.ts), joined with the model's alerts of the same entity and window.
 * The entity is the event's, or a correlation's group when it is grouped by one entity field (groupEntity).
 * A correlation joins the model's alerts of its entity too: a host that many named clients failed on,
 * whose own lines the model found anomalous in that window, is the pair an analyst looks at first.
 * Returns the alerts published.
 */
export async function handleFeatureRecords(messages: readonly DeliveredMessage<FeatureRecord>[], deps: SigmaDeps): Promise<Alert[]> {
  return handleSigmaEvents(messages.map(({ value: r }) => ({
    event: sigmaEventOfFeatures(r),
    hit: { entity: r.entity, eventTime: r.eventTime, features: { ...r.vector } as Record<string, number>, evidence: { eventId: r.eventId, ...evidenceOf(r) } },
  })), deps)
}

/**
 * scores batch → the same, for rules over ML anomalies (logsource product vigil, category anomaly)
 * and correlations that order them against log events (packages/sigma/rules/vigil).
 */
export async function handleScoreRecords(messages: readonly DeliveredMessage<Score>[], deps: SigmaDeps): Promise<Alert[]> {
  return handleSigmaEvents(messages.map(({ value: s }) => ({
    event: sigmaEventOfScore(s),
    hit: { entity: s.entity, eventTime: s.eventTime, features: s.features, evidence: { eventId: s.eventId, ...s.evidence } },
  })), deps)
}

async function handleSigmaEvents(items: readonly { event: SigmaEvent; hit: HitContext }[], deps: SigmaDeps): Promise<Alert[]> {
  const now = (deps.now ?? Date.now)()
  const matched = items.map(({ event, hit }) => ({ event, source: sourceOf(event), matches: deps.engine.match(event), quote: () => quoteOf(hit.evidence) }))
  const firings = await deps.correlations.observe(matched).catch((cause) => {
    if (canRetry(cause)) throw cause
    throw new TransientError('SIGMA_STATE_UNAVAILABLE', `redis: ${(cause as Error).message}`, { cause })
  })
  // Correlation evidence: each member's quote (its event's evidence, kept with the correlation's
  // state, so members of earlier batches are cited too); a firing given again to a redelivered event
  // comes without quotes, and cites the members this batch holds.
  const evidenceOf = new Map(items.map(({ event, hit }) => [event.eventId, hit.evidence]))

  const raised: RaisedAlert[] = []
  const flags: Flag[] = []
  let detections = 0
  let correlations = 0
  items.forEach(({ hit }, i) => {
    const { entity, eventTime } = hit
    for (const match of matched[i]!.matches) {
      detections++
      if (!match.alert) continue
      raised.push(detectionAlert(match, hit, deps.version, deps.windowMs, now))
      flags.push({ entity, from: eventTime, to: eventTime, reason: match.rule.title, source: sigmaDetector(match.rule.id) })
    }
    for (const firing of firings[i]!) {
      correlations++
      const members = firing.members.flatMap((id, m) => {
        const quoted = evidenceOfQuote(firing.quotes[m] ?? null)
        // A member is an event id but for value_count (a value): a quote of another event is stale,
        // left by an older alerter that did not clear quotes (a rolling upgrade), and not cited.
        const fits = quoted !== null && (firing.type === 'value_count' || quoted.eventId === id)
        return (fits ? quoted : evidenceOf.get(id)) ?? []
      })
      const group = groupEntity(firing.groupBy)
      // An alert about its group (a host) is not described by the features of the event that completed the count (one client's window).
      const about = group && (group.kind !== entity.kind || group.id !== entity.id) ? { ...hit, entity: group, features: {} } : hit
      raised.push(correlationAlert(firing, about, members, deps.version, deps.windowMs, deps.maxEvidence, now))
      // The correlation's window: every event it counted lies in it. What it counted is kept out of
      // training: the entities whose distinct values a value_count counted (the clients, not the host
      // they failed on, whose own lines are its baseline), else the alert's entity.
      const countedKind = firing.type === 'value_count' ? ENTITY_KINDS.find((k) => k === firing.valueField) : undefined
      const flagged = countedKind ? firing.members.map((id) => ({ kind: countedKind, id })) : [about.entity]
      for (const e of flagged) flags.push({ entity: e, from: eventTime - firing.timespanMs, to: eventTime, reason: firing.rule.title, source: sigmaDetector(firing.rule.id) })
    }
  })
  await deps.flags.flag(flags)
  const published = await raiseAlerts(raised, deps)
  if (detections > 0) deps.matches?.inc({ kind: 'detection' }, detections)
  if (correlations > 0) deps.matches?.inc({ kind: 'correlation' }, correlations)
  return published
}

/**
 * The entity a correlation grouped by one entity field alone is about: its group (many named
 * clients failing on one host is about the host, not the client that made the count). Null for
 * other groupings, whose alert is the completing event's entity's.
 */
function groupEntity(groupBy: Readonly<Record<string, string>>): Entity | null {
  const fields = Object.keys(groupBy)
  const kind = fields.length === 1 ? ENTITY_KINDS.find((k) => k === fields[0]) : undefined
  return kind === undefined ? null : { kind, id: groupBy[kind]! }
}
