import type { DeliveredMessage } from '@vigil/platform'
import type { Alert, Score } from '@vigil/schemas'
import { buildAlert, thresholdFor, type AlertPolicy } from './build-alert.ts'
import { raiseAlerts, type RaiseDeps } from './rules/raise-alerts.ts'
import type { SigmaRules } from './rules/sigma-rules.ts'

/**
 * scores batch → alerts. Each score over the threshold raises the model's alert, folded into its
 * alert in Postgres (raise-alerts.ts: stored first, joined with Sigma alerts of the same entity,
 * notified once, published once). Then the Sigma rules over ML anomalies see the batch. Returns
 * the alerts published.
 */
export async function handleScores(
  messages: DeliveredMessage<Score>[], policy: AlertPolicy, deps: RaiseDeps, sigma: Pick<SigmaRules, 'handleScoreRecords'> | null,
): Promise<Alert[]> {
  const raised = messages
    .filter(({ value: score }) => score.score >= thresholdFor(score, policy))
    .map(({ value: score }) => ({ alert: buildAlert(score, policy), eventId: score.eventId, eventTime: score.eventTime }))
  const published = await raiseAlerts(raised, deps)
  if (sigma) published.push(...await sigma.handleScoreRecords(messages))
  return published
}
