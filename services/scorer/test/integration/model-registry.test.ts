import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { encodeEnsembleArtifact, MODEL_REGISTRY_MIGRATIONS, saveModelVersion, seededRandom, trainEnsemble, type EnsembleArtifact } from '@vigil/models'
import { createLogger, runMigrations } from '@vigil/platform'
import { featureNames, type ModelControl } from '@vigil/schemas'
import { freshTestDatabase, type TestDatabase } from '@vigil/testkit'
import { createModelRegistry } from '../../src/adapters/model-registry.ts'

const log = createLogger('scorer', 'silent', 'test')

describe('the scorer\'s model registry: what it loads and what it refuses', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await freshTestDatabase(inject('stack').PG_URL, 'scorer', (pool) => runMigrations(pool, 'models', MODEL_REGISTRY_MIGRATIONS, log))
  })
  afterAll(async () => db?.drop())

  const random = seededRandom(3)
  const rows = Array.from({ length: 300 }, () => [random(), random() * 10, random() * 100])

  /** Registers a forest on `names` as `version`; returns the model-control record that announces it. */
  async function register(version: string, names: string[]): Promise<ModelControl> {
    const artifact: EnsembleArtifact = await trainEnsemble(rows, names, { members: [{ kind: 'isolation-forest' }], seed: 1 })
    const { bytes, sha256 } = encodeEnsembleArtifact(artifact)
    await saveModelVersion(db.pool, {
      model: 'm', version, algorithm: 'ensemble', trainingRows: rows.length, windowStart: null, windowEnd: null, featureNames: names,
      params: {}, metrics: {}, artifact: bytes, sha256, trainingDataHash: `data-${version}`, actor: 'test',
    })
    return { model: 'm', version, algorithm: 'ensemble', sha256, featureNames: names, publishedAt: Date.now(), reason: 'test', role: 'live' } as ModelControl
  }

  const refusal = (promise: Promise<unknown>) => promise.then(() => null, (err: { code?: string; message?: string }) => ({ code: err.code, message: err.message }))

  it('loads a version whose artifact has the announced sha256, and refuses one that does not, an unknown one, and one with features it does not know', async () => {
    const registry = createModelRegistry(db.pool, { modelName: 'm', instanceId: 'scorer-test', runtime: 'typescript' })
    const names = featureNames.slice(0, 3) as string[]
    const good = await register('v1', names)
    const loaded = await registry.load(good)
    expect(loaded.version).toBe('v1')
    expect(loaded.ensemble.featureNames).toEqual(names)
    await loaded.ensemble.close()

    expect(await refusal(registry.load({ ...good, sha256: '0'.repeat(64) }))).toMatchObject({ code: 'MODEL_CHECKSUM_MISMATCH' })
    expect(await refusal(registry.load({ ...good, version: 'v9' }))).toMatchObject({ code: 'MODEL_VERSION_UNKNOWN' })

    const ahead = await register('v2', [names[0]!, 'feature_of_a_newer_schema', names[1]!])
    expect(await refusal(registry.load(ahead))).toEqual({
      code: 'MODEL_FEATURES_UNKNOWN', message: 'v2 takes features this scorer\'s features schema does not have: feature_of_a_newer_schema',
    })
  })
})
