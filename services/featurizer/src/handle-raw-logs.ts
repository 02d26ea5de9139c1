import type { DeliveredMessage, TypedProducer } from '@vigil/platform'
import { topics, type FeatureRecord, type RawLog } from '@vigil/schemas'
import type { FeatureStore, WindowStats } from './adapters/feature-store.ts'
import { computeFeatures, windowMarksOf } from './compute-features.ts'
import { normalizeEvent, type NormalizedEvent } from './normalize-event.ts'

export interface RawLogsDeps {
  featureStore: FeatureStore
  producer: TypedProducer
}

/** raw-logs batch → one feature record per line, keyed by entity so each entity's windows stay on one scorer partition. */
export async function handleRawLogs(messages: DeliveredMessage<RawLog>[], { featureStore, producer }: RawLogsDeps): Promise<void> {
  const events = messages.map((m) => {
    const event = normalizeEvent(m)
    return { event, marks: windowMarksOf(event) }
  })
  const windows = await featureStore.update(events)
  await producer.send(topics.features, events.map(({ event }, i) => ({ key: event.entity.id, value: toFeatureRecord(event, windows[i]!) })))
}

function toFeatureRecord(event: NormalizedEvent, stats: WindowStats): FeatureRecord {
  return {
    eventId: event.eventId,
    entity: event.entity,
    eventTime: event.ecs.timestamp,
    receivedAt: event.receivedAt,
    family: event.family,
    event: event.ecs,
    evidence: event.evidence,
    vector: computeFeatures(event, stats),
  }
}
