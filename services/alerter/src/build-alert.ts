import { createHash } from 'node:crypto'
import type { Alert, Score } from '@vigil/schemas'

export interface AlertPolicy {
  threshold: number
  windowMs: number
}

/** The detector name of model scores. */
export const modelDetector = (modelName = 'default') => `model:${modelName}`

/**
 * The alert a score over the threshold raises. Its id depends only on entity, detector and the
 * event-time window, so repeats and redeliveries land on the same alert.
 */
export function buildAlert(score: Score, policy: AlertPolicy, now = Date.now()): Alert {
  const detector = modelDetector()
  const bucket = Math.floor(score.eventTime / policy.windowMs)
  const alertId = createHash('sha256').update(`${score.entity.kind}|${score.entity.id}|${detector}|${bucket}`).digest('hex').slice(0, 32)
  const severityId = score.score >= 0.999 ? 4 : 3
  return {
    alertId,
    detector,
    title: `Anomalous ${score.family} activity from ${score.entity.kind} ${score.entity.id}`,
    severity: severityId === 4 ? 'high' : 'medium',
    severityId,
    entity: score.entity,
    firstSeen: score.eventTime,
    createdAt: now,
    score: score.score,
    threshold: policy.threshold,
    modelVersion: score.modelVersion,
    features: score.features,
    evidence: [{ eventId: score.eventId, ...score.evidence }],
  }
}
