import { pgFailure, type PgPool } from '@vigil/platform'
import { usersNamedIn, type Alert, type AlertEvidence } from '@vigil/schemas'
import { ALERT_STORE_ERRORS } from '../adapters/alert-store.ts'
import { alertUsersSql } from '../adapters/alert-users.ts'
import { alertIdOf, bucketOf, escalate, severityOfLevel, SEVERITY_IDS, SIGMA_DETECTOR_PREFIX, type RaisedAlert, type Severity } from './sigma-alerts.ts'

/** The detector of alerts where a Sigma rule and the anomaly model agree on an entity. */
export const CORRELATED_DETECTOR = 'correlated'
/** Model alerts' detectors start with it (build-alert.ts: `model:<name>`). */
export const MODEL_DETECTOR_PREFIX = 'model:'

export type AlertKind = 'sigma' | 'model'

export const kindOf = (alert: Pick<Alert, 'detector'>): AlertKind | null =>
  alert.detector.startsWith(SIGMA_DETECTOR_PREFIX) ? 'sigma' : alert.detector.startsWith(MODEL_DETECTOR_PREFIX) ? 'model' : null

/** An alert as stored, with every user its events named (the alerts table's users column). */
export type AlertWithUsers = Alert & { users: readonly string[] }
/** An alert that may carry those users; without them, its evidence names its users. */
export type AlertMaybeWithUsers = Alert & Partial<Pick<AlertWithUsers, 'users'>>

export interface AlertJoin {
  /**
   * The correlated alerts that just-recorded alerts complete: each Sigma alert paired with each
   * model alert of the same entity whose window is the same or adjacent, and the reverse. Alerts
   * resolved as suppressed, and those `suppressed` says an active suppression covers, take part
   * on neither side. A correlated alert names the users of both.
   */
  correlatedWith(recorded: readonly AlertWithUsers[], suppressed?: (alert: AlertWithUsers) => boolean): Promise<RaisedAlert[]>
}

/**
 * The join of rules and the model, over the alerts table. When an entity has a Sigma alert and a
 * model alert in the same alert window (ALERT_WINDOW_MS) or adjacent ones, one `correlated` alert,
 * a step more severe than the more severe of the two, cites both: their titles, reasons (the
 * rule's attribution, the model's explanations) and evidence. Its id is hash(entity, correlated,
 * window), the window being the earlier of the two, so whichever kind arrives second (on whichever
 * instance: scores and features are consumed apart) names the same alert, and each pair counts once
 * in it (its event id is the pair of alert ids).
 *
 * Each side looks for the other after its own alert is committed, so of two alerts recorded at
 * the same moment on two instances at least one sees the other.
 *
 * A suppressed alert (a silenced rule or detector, entity, network or user) takes no part: a
 * correlated alert stands on two alerts that each would notify, never on one an analyst silenced,
 * which would otherwise come back a step more severe. The other side still alerts on its own.
 */
export function createAlertJoin(pool: Pick<PgPool, 'query'>, options: { windowMs: number; maxEvidence: number; now?: () => number }): AlertJoin {
  const { windowMs, maxEvidence } = options
  const now = options.now ?? Date.now
  return {
    async correlatedWith(recorded, suppressed = () => false) {
      const out: RaisedAlert[] = []
      for (const alert of recorded) {
        const kind = kindOf(alert)
        if (kind === null || suppressed(alert)) continue
        const bucket = bucketOf(alert.firstSeen, windowMs)
        const { rows } = await pool.query<{ body: Alert; users: string[] }>(
          `SELECT body, ${alertUsersSql('alerts')} AS users FROM alerts
           WHERE entity_kind = $1 AND entity_id = $2 AND starts_with(detector, $3)
             AND first_seen >= to_timestamp($4 / 1000.0) AND first_seen < to_timestamp($5 / 1000.0)
             AND resolution IS DISTINCT FROM 'suppressed'
           ORDER BY first_seen, alert_id`,
          [alert.entity.kind, alert.entity.id, kind === 'sigma' ? MODEL_DETECTOR_PREFIX : SIGMA_DETECTOR_PREFIX, (bucket - 1) * windowMs, (bucket + 2) * windowMs],
        ).catch((cause: unknown) => {
          throw pgFailure(cause, ALERT_STORE_ERRORS)
        })
        for (const { body, users } of rows) {
          const other = { ...body, users }
          if (suppressed(other)) continue
          out.push(kind === 'sigma' ? correlatedAlert(alert, other, windowMs, maxEvidence, now()) : correlatedAlert(other, alert, windowMs, maxEvidence, now()))
        }
      }
      return out
    },
  }
}

/** The alert citing a Sigma alert and a model alert of one entity. */
export function correlatedAlert(
  sigma: AlertMaybeWithUsers, model: AlertMaybeWithUsers, windowMs: number, maxEvidence: number, now = Date.now(),
): RaisedAlert {
  const firstSeen = Math.min(sigma.firstSeen, model.firstSeen)
  const severity = escalate(moreSevere(asSeverity(sigma.severity), asSeverity(model.severity)))
  const seen = new Set<string>()
  const evidence: AlertEvidence[] = []
  for (const e of [...sigma.evidence, ...model.evidence]) {
    if (seen.has(e.eventId) || evidence.length >= maxEvidence) continue
    seen.add(e.eventId)
    evidence.push(e)
  }
  const { entity } = sigma
  return {
    alert: {
      alertId: alertIdOf(entity, CORRELATED_DETECTOR, bucketOf(firstSeen, windowMs)),
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
