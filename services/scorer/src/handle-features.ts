import type { DeliveredMessage, TypedProducer } from '@vigil/platform'
import { toFeatureArray, topics, type FeatureRecord, type Score } from '@vigil/schemas'
import type { RunningModel } from './adapters/live-model.ts'

/** features batch → one score per event, all by the same model version. */
export async function handleFeatures(messages: DeliveredMessage<FeatureRecord>[], running: RunningModel, producer: TypedProducer): Promise<void> {
  const { model, version } = running
  const rows = messages.map((m) => toFeatureArray(m.value.vector, model.featureNames))
  const scores = model.score(rows)
  const scoredAt = Date.now()
  await producer.send(topics.scores, messages.map(({ value: f }, i): { key: string; value: Score } => ({
    key: f.entity.id,
    value: {
      eventId: f.eventId,
      entity: f.entity,
      eventTime: f.eventTime,
      receivedAt: f.receivedAt,
      scoredAt,
      family: f.family,
      action: f.event.event.action,
      score: scores[i]!.calibrated,
      rawScore: scores[i]!.raw,
      modelVersion: version,
      features: { ...f.vector },
      evidence: f.evidence,
    },
  })))
}
