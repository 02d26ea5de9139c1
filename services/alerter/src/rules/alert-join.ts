import { pgFailure, type PgPool } from '@vigil/platform'
import { usersNamedIn, type Alert } from '@vigil/schemas'
import { ALERT_STORE_ERRORS } from '../adapters/alert-store.ts'
import { alertUsersSql } from '../adapters/alert-users.ts'
import { citedEvidence } from '../alert-evidence.ts'
import { alertIdOf, bucketOf, escalate, MODEL_DETECTOR_PREFIX, severityOfLevel, SEVERITY_IDS, SIGMA_DETECTOR_PREFIX, type RaisedAlert, type Severity } from './sigma-alerts.ts'

/** The detector of alerts where a Sigma rule and the anomaly model agree on an entity. */
export const CORRELATED_DETECTOR = 'correlated'

export type AlertKind = 'sigma' | 'model'

export const kindOf = (alert: Pick<Alert, 'detector'>): AlertKind | null =>
  alert.detector.startsWith(SIGMA_DETECTOR_PREFIX) ? 'sigma' : alert.detector.startsWith(MODEL_DETECTOR_PREFIX) ? 'model' : null

/**
 * An alert as stored, with every user its events named (the alerts table's users column) and,
 * when just recorded, the event time of the latest event recorded into it (an alert that went on
 * across windows reaches past its first).
 */
export type AlertWithUsers = Alert & { users: readonly string[]; seenUntil?: number }
/** An alert that may carry those users; without them, its evidence names its users. */
export type AlertMaybeWithUsers = Alert & Partial<Pick<AlertWithUsers, 'users'>>

export interface AlertJoin {
  /**
   * The correlated alerts that just-recorded alerts complete: each Sigma alert paired with each
   * model alert of the same entity whose events reach into its windows (those from its first event
   * to `seenUntil`) or an adjacent one (joinedWindows), and the reverse. Alerts resolved as
   * suppressed, and those `suppressed` says an active suppression covers, take part on neither
   * side. A correlated alert names the users of both.
   */
  correlatedWith(recorded: readonly AlertWithUsers[], suppressed?: (alert: AlertWithUsers) => boolean): Promise<RaisedAlert[]>
}

/**
 * The join of rules and the model, over the alerts table. When an entity has a Sigma alert and a
 * model alert whose events reach into the rule's alert windows (ALERT_WINDOW_MS) or an adjacent
 * one (one attack across a window boundary), one `correlated` alert, a step
 * more severe than the more severe of the two, cites both: their titles, reasons (the rule's
 * attribution, the model's explanations) and evidence. It is the rule's window's: id hash(entity,
 * correlated, that window), first seen when both had fired, so whichever kind arrives second (on
 * whichever instance: scores and features are consumed apart) names the same alert, each pair
 * counts once in it (its event id is the pair of alert ids), and one Sigma alert makes one
 * correlated alert, however many model alerts it meets.
 *
 * Alerters before this one named a pair across a window boundary by the earlier window; a pair
 * whose model alert came a window before the rule's, found joined under that id, is not joined
 * again (joinedByOlderAlerters).
 *
 * Each side looks for the other after its own alert is committed, so of two alerts recorded at
 * the same moment on two instances at least one sees the other.
 *
 * A suppressed alert (a silenced rule or detector, entity, network or user) takes no part: a
 * correlated alert stands on two alerts that each would notify, never on one an analyst silenced,
 * which would otherwise come back a step more severe. The other side still alerts on its own.
 */
export function createAlertJoin(pool: Pick<PgPool, 'query'>, options: { windowMs: number; maxSpanMs?: number; maxEvidence: number; now?: () => number }): AlertJoin {
  const { windowMs, maxEvidence } = options
  // The longest an alert runs: its first window, or as long as it may go on, and the window its last event opened.
  const longestAlertMs = (options.maxSpanMs ?? 0) + windowMs
  const now = options.now ?? Date.now
  return {
    async correlatedWith(recorded, suppressed = () => false) {
      const out: RaisedAlert[] = []
      const crossing: Array<{ pair: string; earlierId: string }> = []
      for (const alert of recorded) {
        const kind = kindOf(alert)
        if (kind === null || suppressed(alert)) continue
        // An alert that went on across windows (alert-store's continuation) is joined over all of them.
        const [from] = joinedWindows(kind, bucketOf(alert.firstSeen, windowMs))
        const [, to] = joinedWindows(kind, bucketOf(Math.max(alert.firstSeen, alert.seenUntil ?? alert.firstSeen), windowMs))
        const { rows } = await pool.query<{ body: Alert; users: string[] }>(
          `SELECT body, ${alertUsersSql('alerts')} AS users FROM alerts
           WHERE entity_kind = $1 AND entity_id = $2 AND starts_with(detector, $3)
             AND first_seen < to_timestamp($5 / 1000.0) AND last_seen >= to_timestamp($4 / 1000.0)
             AND first_seen >= to_timestamp(($4::float8 - $6::float8) / 1000.0)
             AND resolution IS DISTINCT FROM 'suppressed'
           ORDER BY first_seen, alert_id`,
          [alert.entity.kind, alert.entity.id, kind === 'sigma' ? MODEL_DETECTOR_PREFIX : SIGMA_DETECTOR_PREFIX, from * windowMs, to * windowMs, longestAlertMs],
        ).catch(storeFailure)
        for (const { body, users } of rows) {
          const other = { ...body, users }
          if (suppressed(other)) continue
          const [sigma, model] = kind === 'sigma' ? [alert, other] : [other, alert]
          const joined = correlatedAlert(sigma, model, windowMs, maxEvidence, now())
          out.push(joined)
          const modelWindow = bucketOf(model.firstSeen, windowMs)
          if (modelWindow < bucketOf(sigma.firstSeen, windowMs)) {
            crossing.push({ pair: joined.eventId, earlierId: alertIdOf(sigma.entity, CORRELATED_DETECTOR, modelWindow) })
          }
        }
      }
      const joinedBefore = await joinedByOlderAlerters(pool, crossing)
      return out.filter((r) => !joinedBefore.has(r.eventId))
    },
  }
}

/**
 * The windows [from, to) where an alert of `kind` in window `bucket` finds the other kind: its own
 * and both adjacent ones, from either side. Whichever the model alert's, the correlated alert is
 * the rule's window's, so one Sigma alert still makes one correlated alert.
 */
export const joinedWindows = (_kind: AlertKind, bucket: number): [number, number] => [bucket - 1, bucket + 2]

/**
 * The pairs of `crossing` (pairs across a window boundary) already joined under the earlier
 * window's id, as alerters before this one named them: during and after a rolling upgrade, a pair
 * they joined that is redone here (a redelivery, a later event of either alert) is not joined a
 * second time under the rule's window. One lookup by primary key per pair.
 */
async function joinedByOlderAlerters(pool: Pick<PgPool, 'query'>, crossing: ReadonlyArray<{ pair: string; earlierId: string }>): Promise<Set<string>> {
  if (crossing.length === 0) return new Set()
  const { rows } = await pool.query<{ event_id: string }>(
    `SELECT e.event_id FROM unnest($1::text[], $2::text[]) AS c(alert_id, event_id)
     JOIN alert_events e ON e.alert_id = c.alert_id AND e.event_id = c.event_id`,
    [crossing.map((c) => c.earlierId), crossing.map((c) => c.pair)],
  ).catch(storeFailure)
  return new Set(rows.map((r) => r.event_id))
}

const storeFailure = (cause: unknown): never => {
  throw pgFailure(cause, ALERT_STORE_ERRORS)
}

/**
 * The alert citing a Sigma alert and a model alert of one entity, in the Sigma alert's window (see
 * joinedWindows). Its score and features are the model alert's, so its first line is the model
 * alert's (the event they come from), then the Sigma alert's lines, then the model alert's others.
 */
export function correlatedAlert(
  sigma: AlertMaybeWithUsers, model: AlertMaybeWithUsers, windowMs: number, maxEvidence: number, now = Date.now(),
): RaisedAlert {
  // When both had fired.
  const firstSeen = Math.max(sigma.firstSeen, model.firstSeen)
  const severity = escalate(moreSevere(asSeverity(sigma.severity), asSeverity(model.severity)))
  const evidence = citedEvidence([...model.evidence.slice(0, 1), ...sigma.evidence, ...model.evidence.slice(1)], maxEvidence)
  const { entity } = sigma
  return {
    alert: {
      alertId: alertIdOf(entity, CORRELATED_DETECTOR, bucketOf(sigma.firstSeen, windowMs)),
      detector: CORRELATED_DETECTOR,
      title: `Sigma rule and anomaly model agree on ${entity.kind} ${entity.id}: ${sigma.title}`,
      severity,
      severityId: SEVERITY_IDS[severity],
      entity,
      firstSeen,
      createdAt: now,
      score: model.score,
      threshold: model.threshold,
      modelVersion: model.modelVersion,
      model: model.model ?? null,
      features: model.features,
      reasons: [
        `Sigma alert ${sigma.alertId} (${sigma.detector}, ${sigma.severity}): ${sigma.title}`,
        ...(sigma.reasons ?? []),
        `model alert ${model.alertId} (${model.detector}, ${model.severity}, score ${model.score.toFixed(4)}): ${model.title}`,
        ...(model.reasons ?? []),
      ],
      explanations: model.explanations ?? [],
      rules: sigma.rules ?? [],
      evidence,
    },
    eventId: `${sigma.alertId}+${model.alertId}`,
    eventTime: firstSeen,
    users: [...new Set([...(sigma.users ?? usersNamedIn(sigma)), ...(model.users ?? usersNamedIn(model))])],
  }
}

const asSeverity = (s: string): Severity => (s in SEVERITY_IDS ? (s as Severity) : severityOfLevel(s))
const moreSevere = (a: Severity, b: Severity): Severity => (SEVERITY_IDS[a] >= SEVERITY_IDS[b] ? a : b)
