import { createHash } from 'node:crypto'
import type { Attribution, CorrelationMatch, DetectionMatch } from '@vigil/sigma'
import { usersNamedIn, type Alert, type AlertEvidence, type Entity, type MatchedRule } from '@vigil/schemas'

/** An alert as raised by one event, before the store folds it into the alert of its window. */
export interface RaisedAlert {
  alert: Alert
  /** what counts once in the alert (alert_events): the event, the completing event of a firing, or a pair of alerts */
  eventId: string
  /** event time, ms */
  eventTime: number
  /**
   * every user the events it stands for name, where that is more than its evidence cites (a
   * correlation's members past the evidence cap, the two alerts a join combines); absent, its evidence's
   */
  users?: readonly string[]
}

/** What a rule hit happened to: the event's entity, time, feature vector and original line. */
export interface HitContext {
  entity: Entity
  eventTime: number
  features: Record<string, number>
  evidence: AlertEvidence
}

/** Alert severities by name with their OCSF severity_id (the alerts schema's). */
export const SEVERITY_IDS = { low: 2, medium: 3, high: 4, critical: 5 } as const
export type Severity = keyof typeof SEVERITY_IDS
const SEVERITIES = Object.keys(SEVERITY_IDS) as Severity[]

/**
 * A Sigma level as an alert severity. Sigma's `informational` has no alert severity of its own (the
 * alerts schema starts at low); a rule without a level is taken as medium, Sigma's usual default.
 */
export function severityOfLevel(level: string | null): Severity {
  switch (level?.toLowerCase()) {
    case 'informational':
    case 'low': return 'low'
    case 'high': return 'high'
    case 'critical': return 'critical'
    default: return 'medium'
  }
}

/** One step more severe, at most critical: for an alert where two detectors agree. */
export const escalate = (s: Severity): Severity => SEVERITIES[Math.min(SEVERITIES.indexOf(s) + 1, SEVERITIES.length - 1)]!

export const SIGMA_DETECTOR_PREFIX = 'sigma:'
/** Model alerts' detectors start with it (build-alert.ts: `model:<name>`). */
export const MODEL_DETECTOR_PREFIX = 'model:'
/** The detector name of a Sigma rule (a detection or a correlation). */
export const sigmaDetector = (ruleId: string) => `${SIGMA_DETECTOR_PREFIX}${ruleId}`

/**
 * An alert's id: entity, detector and event-time window, so repeats and redeliveries land on the
 * same alert (the formula buildAlert uses for model alerts).
 */
export function alertIdOf(entity: Entity, detector: string, bucket: number): string {
  return createHash('sha256').update(`${entity.kind}|${entity.id}|${detector}|${bucket}`).digest('hex').slice(0, 32)
}

/** The event-time window an event time falls in. */
export const bucketOf = (eventTime: number, windowMs: number) => Math.floor(eventTime / windowMs)

// A rule match is certain by the rule's own definition: Sigma alerts carry score 1 at threshold 1.
const RULE_SCORE = 1

/**
 * The rule's attribution in words, as the Detection Rule License asks alerts to keep it: title, id,
 * level, author and license, then its references.
 */
export function attributionText(rule: Attribution, kind = 'Sigma rule'): string[] {
  const lines = [
    `${kind} "${rule.title}" (${rule.id}), level ${rule.level ?? 'unset'}, by ${rule.author ?? 'an unnamed author'}`
      + `${rule.license ? `, license ${rule.license}` : ''}`,
  ]
  if (rule.references.length > 0) lines.push(`references: ${rule.references.join(' ')}`)
  return lines
}

/** The alert one detection rule raises for one event. */
export function detectionAlert(match: DetectionMatch, hit: HitContext, version: string, windowMs: number, now = Date.now()): RaisedAlert {
  return {
    alert: ruleAlert(match.rule, hit, version, windowMs, attributionText(match.rule), [hit.evidence], [matchedRule(match.rule, 'detection')], now),
    eventId: hit.evidence.eventId,
    eventTime: hit.eventTime,
  }
}

/**
 * The alert a fired correlation raises: the correlation rule's attribution and that of every rule
 * it correlates, what it counted, and as evidence the completing event and the members it cites.
 */
export function correlationAlert(
  firing: CorrelationMatch, hit: HitContext, members: readonly AlertEvidence[], version: string, windowMs: number, maxEvidence: number, now = Date.now(),
): RaisedAlert {
  const counted = firing.type === 'value_count' ? 'distinct values' : firing.type === 'event_count' ? 'events' : 'rules matched'
  const group = Object.entries(firing.groupBy).map(([k, v]) => `${k}=${v}`).join(', ')
  // One event can be two members (two steps of a temporal correlation); the completing event is cited as it came.
  const citedIds = new Set<string>()
  const cited = [hit.evidence, ...members].filter((m) => !citedIds.has(m.eventId) && citedIds.add(m.eventId))
  const evidence = cited.slice(0, maxEvidence)
  const reasons = [
    `${firing.count} ${counted} (${firing.type})${group ? ` for ${group}` : ''}`,
    ...attributionText(firing.rule, 'Sigma correlation'),
    ...firing.correlated.flatMap((r) => attributionText(r)),
  ]
  const rules = [matchedRule(firing.rule, 'correlation'), ...firing.correlated.map((r) => matchedRule(r, 'detection'))]
  return {
    alert: ruleAlert(firing.rule, hit, version, windowMs, reasons, evidence, rules, now), eventId: firing.eventId, eventTime: hit.eventTime,
    users: usersNamedIn({ evidence: cited }),
  }
}

/**
 * A correlation member's quote: the evidence of the event that made it, kept in the correlation's
 * state (Redis) while the correlation counts it, its line cut to MAX_QUOTED_LINE_CHARS (a window may
 * keep a hundred of them, per group); topic, partition and offset still lead to the whole line.
 */
export function quoteOf(evidence: AlertEvidence): string {
  const { line } = evidence
  if (line.length <= MAX_QUOTED_LINE_CHARS) return JSON.stringify(evidence)
  // Not between the two halves of a surrogate pair: Postgres's jsonb refuses a lone one.
  const end = isHighSurrogate(line.charCodeAt(MAX_QUOTED_LINE_CHARS - 1)) ? MAX_QUOTED_LINE_CHARS - 1 : MAX_QUOTED_LINE_CHARS
  return JSON.stringify({ ...evidence, line: `${line.slice(0, end)}${QUOTE_CUT_MARK}` })
}
export const MAX_QUOTED_LINE_CHARS = 2048
/** ends a quoted line that was cut */
export const QUOTE_CUT_MARK = ' …[cut]'
const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff

/** The evidence a quote keeps; null for none, or for a quote that is not one (which nothing writes, but Redis is shared). */
export function evidenceOfQuote(quote: string | null): AlertEvidence | null {
  if (quote === null) return null
  let value: unknown
  try {
    value = JSON.parse(quote)
  } catch {
    return null
  }
  const e = value as Partial<AlertEvidence> | null
  if (e === null || typeof e !== 'object' || typeof e.eventId !== 'string' || typeof e.topic !== 'string' || typeof e.partition !== 'number'
    || typeof e.offset !== 'string' || typeof e.line !== 'string' || !(e.users === undefined || (Array.isArray(e.users) && e.users.every((u) => typeof u === 'string')))) {
    return null
  }
  return { eventId: e.eventId, topic: e.topic, partition: e.partition, offset: e.offset, line: e.line, ...(e.users !== undefined && { users: e.users }) }
}

/** A rule as an alert names it, with the author the Detection Rule License asks alerts to keep. */
export const matchedRule = (rule: Attribution, kind: 'detection' | 'correlation'): MatchedRule => ({
  id: rule.id, title: rule.title, level: rule.level ?? 'medium', kind, author: rule.author ?? null, tags: rule.tags,
})

/** The alert a rule (detection or correlation) raises for an entity: its id, detector and severity come from the rule. */
function ruleAlert(
  rule: Attribution, hit: HitContext, version: string, windowMs: number, reasons: string[], evidence: AlertEvidence[], rules: MatchedRule[], now: number,
): Alert {
  const detector = sigmaDetector(rule.id)
  const severity = severityOfLevel(rule.level)
  return {
    alertId: alertIdOf(hit.entity, detector, bucketOf(hit.eventTime, windowMs)),
    detector,
    title: `${rule.title}: ${hit.entity.kind} ${hit.entity.id}`,
    severity,
    severityId: SEVERITY_IDS[severity],
    entity: hit.entity,
    firstSeen: hit.eventTime,
    createdAt: now,
    score: RULE_SCORE,
    threshold: RULE_SCORE,
    modelVersion: version,
    features: hit.features,
    reasons,
    explanations: [],
    rules,
    evidence,
  }
}
