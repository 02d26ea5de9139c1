import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  encodeEnsembleArtifact, ENSEMBLE, ensembleRegistry, getVersion, liveVersion, saveModelVersion, setStatus, trainEnsemble,
} from '@vigil/models'
import type { KafkaRuntime, TypedProducer } from '@vigil/platform'
import { uniquePrefix } from '@vigil/testkit'
import { createScoreHistory, type ScoreHistory } from '../../src/adapters/score-history.ts'
import { reviewShadow, type ShadowReviewOptions } from '../../src/training/shadow-review.ts'
import { freshDatabase, scoreRecord, seeded, silentLog, trainerKafka, type TestDatabase } from './support.ts'

const T0 = Date.UTC(2026, 2, 1)

describe('the shadow review', () => {
  const stack = inject('stack')
  let db: TestDatabase
  let kafka: KafkaRuntime
  let producer: TypedProducer
  let scores: ScoreHistory
  let threshold: number

  beforeAll(async () => {
    db = await freshDatabase(stack.PG_URL)
    kafka = await trainerKafka(stack, uniquePrefix('shadow-review'))
    producer = await kafka.producer()
    scores = createScoreHistory(db.pool)
    const random = seeded(5)
    const rows = Array.from({ length: 300 }, () => [random(), random()])
    const artifact = await trainEnsemble(rows, ['a', 'b'], { members: [{ kind: 'hbos' }], seed: 1, targetAlertRate: 0.01 }, ensembleRegistry('typescript'))
    threshold = artifact.threshold
    const { bytes, sha256 } = encodeEnsembleArtifact(artifact)
    // Score history keys scores by version alone: each model's versions have names of their own.
    for (const model of ['same', 'moved']) {
      for (const version of [`${model}-live`, `${model}-shadow`]) {
        await saveModelVersion(db.pool, {
          model, version, algorithm: ENSEMBLE, trainingRows: rows.length, windowStart: null, windowEnd: null, featureNames: ['a', 'b'],
          params: {}, metrics: {}, artifact: bytes, sha256, actor: 'test',
        })
      }
      await setStatus(db.pool, model, `${model}-live`, 'live', { actor: 'test' })
      await setStatus(db.pool, model, `${model}-shadow`, 'shadow', { actor: 'test' })
    }
  })
  afterAll(async () => {
    await kafka?.closeProducer()
    await db?.drop()
  })

  const options = (model: string): ShadowReviewOptions => ({
    modelName: model, actor: 'test', reviewAfterMs: 0, minEvents: 200, alertRateFactor: 2, alertRateFloor: 0.01, maxScorePsi: 0.25,
  })

  /** 400 events scored by both versions, never at either threshold: only the distributions can tell them apart. */
  async function scoreBoth(model: string, shadowScore: (liveScore: number) => number) {
    const random = seeded(model.length)
    const records = Array.from({ length: 400 }, (_, i) => {
      const liveScore = random() * threshold * 0.5
      return [scoreRecord(i, T0 + i * 1000, `${model}-live`, liveScore), scoreRecord(i, T0 + i * 1000, `${model}-shadow`, shadowScore(liveScore))]
    })
    await scores.write(records.flat())
  }

  it('promotes a shadow version that scores like the live one, and rejects one whose scores moved though it alerts no more', async () => {
    await scoreBoth('same', (s) => s * 1.01)
    const review = (model: string) => reviewShadow(db.pool, scores, producer, options(model), silentLog)
    expect(await review('same')).toBe('promoted')
    expect((await liveVersion(db.pool, 'same'))!.version).toBe('same-shadow')

    // The same alert volume (none), but every score moved up: not promoted, and the reason says why.
    await scoreBoth('moved', (s) => s + threshold * 0.45)
    expect(await review('moved')).toBe('rejected')
    const rejected = (await getVersion(db.pool, 'moved', 'moved-shadow'))!
    expect(rejected.status).toBe('rejected')
    expect(rejected.rejectionReason).toMatch(/^its scores of the 400 events both versions scored are distributed unlike live moved-live's: PSI \d+\.\d\d \(allowed 0\.25\)$/)
    expect((await liveVersion(db.pool, 'moved'))!.version).toBe('moved-live')
  })
})
