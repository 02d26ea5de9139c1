import type { DeliveredMessage, TypedProducer } from '@vigil/platform'
import { evidenceOf, toFeatureArray, topics, type FeatureRecord, type Score } from '@vigil/schemas'
import type { ScoreOptions } from '@vigil/models'
import type { ModelPair, RunningModel } from './adapters/running-models.ts'

/**
 * features batch → one score per event, all by the same live version, on `scores`; while a shadow
 * version runs, its scores of the same events go to `scores-shadow`, never to the alerter.
 * `explain`: which scores carry their top features (the EXPLAIN setting, and the alerter's threshold when set).
 */
export async function handleFeatures(messages: DeliveredMessage<FeatureRecord>[], models: ModelPair, producer: TypedProducer, explain: ScoreOptions): Promise<void> {
  const records = messages.map((m) => m.value)
  await producer.send(topics.scores, await scoresOf(records, models.live, explain))
  if (models.shadow && models.shadow.version !== models.live.version) {
    // A shadow's scores never alert: explained as its own threshold says, whatever the alerter's.
    await producer.send(topics.scoresShadow, await scoresOf(records, models.shadow, { explain: explain.explain }))
  }
}

async function scoresOf(records: FeatureRecord[], model: RunningModel, explain: ScoreOptions): Promise<Array<{ key: string; value: Score }>> {
  const { ensemble, version, memberNames } = model
  const rows = records.map((f) => toFeatureArray(f.vector, ensemble.featureNames))
  const scored = await ensemble.score(rows, explain)
  const scoredAt = Date.now()
  return records.map((f, i) => ({
    key: f.entity.id,
    value: {
      eventId: f.eventId,
      entity: f.entity,
      eventTime: f.eventTime,
      receivedAt: f.receivedAt,
      scoredAt,
      family: f.family,
      action: f.event.event.action,
      score: scored.score[i]!,
      rawScore: scored.surprisal[i]!,
      modelVersion: version,
      model: model.model,
      threshold: ensemble.threshold,
      members: Object.fromEntries(memberNames.map((name, m) => [name, scored.members[m]![i]!])),
      explanations: (scored.topFeatures[i] ?? []).map((t) => ({
        feature: t.feature, value: t.value, baselineP50: t.p50, baselineP99: t.p99, contribution: t.share,
        ...(t.nearest && { nearestLow: t.nearest.low, nearestHigh: t.nearest.high }),
        ...(t.outerTenth !== undefined && { outerTenth: t.outerTenth }), text: t.text,
      })),
      features: { ...f.vector },
      evidence: evidenceOf(f),
    },
  }))
}
