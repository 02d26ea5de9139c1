import type { DeliveredMessage, TypedProducer } from '@vigil/platform'
import { topics, type Alert, type Score } from '@vigil/schemas'
import type { AlertStore } from './adapters/alert-store.ts'
import { buildAlert, thresholdFor, type AlertPolicy } from './build-alert.ts'
import type { Notifier } from './sinks/create-sinks.ts'

/**
 * scores batch → alerts. Each score over the threshold is folded into its alert in Postgres first;
 * an alert goes to the alerts topic once, when opened (or again if a crash came between storing and
 * publishing), and is marked published only after the broker acknowledged it. Notifications are
 * queued in the sinks' outbox first, once per alert and sink.
 */
export async function handleScores(
  messages: DeliveredMessage<Score>[], policy: AlertPolicy, store: AlertStore, producer: TypedProducer, sinks: Pick<Notifier, 'enqueue'>,
): Promise<void> {
  const toPublish = new Map<string, Alert>()
  for (const { value: score } of messages) {
    if (score.score < thresholdFor(score, policy)) continue
    const recorded = await store.record(buildAlert(score, policy), score.eventId, score.eventTime)
    if (recorded?.needsPublishing) toPublish.set(recorded.alert.alertId, recorded.alert)
  }
  if (toPublish.size === 0) return
  const alerts = [...toPublish.values()]
  // Before publishing: a crash in between re-enqueues on redelivery, and the outbox keeps one row per alert and sink.
  await sinks.enqueue(alerts)
  await producer.send(topics.alerts, alerts.map((a) => ({ key: a.entity.id, value: a })))
  await store.markPublished(alerts.map((a) => a.alertId))
}
