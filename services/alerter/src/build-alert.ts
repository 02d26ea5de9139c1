import type { Alert, Score } from '@vigil/schemas'
import { alertIdOf, bucketOf, MODEL_DETECTOR_PREFIX } from './rules/sigma-alerts.ts'

export interface AlertPolicy {
  /** overrides the threshold each score carries from its model version */
  threshold?: number | undefined
  windowMs: number
}

/** The threshold a score is judged by: the configured one, else its model version's. */
export const thresholdFor = (score: Score, policy: AlertPolicy) => policy.threshold ?? score.threshold ?? 1

/**
 * An alert's reasons in words: the score's top features. A score without them (its model's members
 * that explain saw nothing unusual, or a user's ONNX member, which cannot explain, carried most of
 * the score) says which members scored it high, so that no model alert goes out without a reason.
 */
function reasonsOf(score: Score): string[] {
  const explained = (score.explanations ?? []).map((e) => e.text)
  if (explained.length > 0) return explained
  const members = Object.entries(score.members ?? {}).sort((a, b) => b[1] - a[1]).slice(0, MEMBERS_IN_REASON)
  if (members.length === 0) return []
  return [`no feature stands out; the members scored ${members.map(([name, value]) => `${name} ${value.toFixed(4)}`).join(', ')} (calibrated, of 1)`]
}
const MEMBERS_IN_REASON = 3

/** The detector name of model scores. */
export const modelDetector = (modelName = 'default') => `${MODEL_DETECTOR_PREFIX}${modelName}`

/**
 * The alert a score over the threshold raises. Its id depends only on entity, detector and the
 * event-time window, so repeats and redeliveries land on the same alert.
 */
export function buildAlert(score: Score, policy: AlertPolicy, now = Date.now()): Alert {
  // Scores written before they named their model are the default model's.
  const model = score.model ?? 'default'
  const detector = modelDetector(model)
  const alertId = alertIdOf(score.entity, detector, bucketOf(score.eventTime, policy.windowMs))
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
    threshold: thresholdFor(score, policy),
    modelVersion: score.modelVersion,
    model,
    features: score.features,
    reasons: reasonsOf(score),
    explanations: (score.explanations ?? []).map(({ text: _text, ...explanation }) => explanation),
    rules: [],
    evidence: [{ eventId: score.eventId, ...score.evidence }],
  }
}
