import { encodeArtifact, ISOLATION_FOREST, saveModelVersion, trainModel } from '@vigil/models'
import type { Logger, PgPool, TypedProducer } from '@vigil/platform'
import { topics } from '@vigil/schemas'
import type { FeatureHistory } from './adapters/feature-history.ts'

export interface TrainDeps {
  pool: PgPool
  history: FeatureHistory
  producer: TypedProducer
  log: Logger
  modelName: string
  maxRows: number
  trees: number
}

/** Trains a version on the newest history, records it in the registry, and publishes it on model-control. */
export async function trainAndPublish(deps: TrainDeps, reason: string): Promise<string> {
  const { pool, history, producer, log, modelName } = deps
  const started = Date.now()
  const set = await history.trainingSet(deps.maxRows)
  // A feature that never varied in the training window cannot isolate anything; random splits on it only dilute the forest.
  const varying = set.featureNames.map((_, j) => j).filter((j) => set.rows.some((r) => r[j] !== set.rows[0]![j]))
  const featureNames = varying.map((j) => set.featureNames[j]!)
  const rows = set.rows.map((r) => varying.map((j) => r[j]!))
  const artifact = trainModel(rows, featureNames, { trees: deps.trees })
  const { bytes, sha256 } = encodeArtifact(artifact)
  const version = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${sha256.slice(0, 8)}`
  const trainSeconds = (Date.now() - started) / 1000
  await saveModelVersion(pool, {
    model: modelName, version, algorithm: ISOLATION_FOREST, trainingRows: set.rows.length,
    windowStart: set.windowStart, windowEnd: set.windowEnd, featureNames,
    params: { trees: deps.trees, maxRows: deps.maxRows, library: 'ml-isolation-forest', constantFeaturesDropped: set.featureNames.length - featureNames.length },
    metrics: { trainSeconds, artifactBytes: bytes.length }, artifact: bytes, sha256, status: 'published',
  })
  await producer.send(topics.modelControl, [{
    key: modelName,
    value: { model: modelName, version, algorithm: ISOLATION_FOREST, sha256, featureNames, publishedAt: Date.now(), reason },
  }])
  log.info({ model: modelName, version, rows: set.rows.length, features: featureNames, trainSeconds, artifactBytes: bytes.length, reason }, 'model trained and published')
  return version
}
