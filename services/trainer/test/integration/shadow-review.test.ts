import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  auditTrail, encodeEnsembleArtifact, ENSEMBLE, ensembleRegistry, getVersion, liveVersion, saveModelVersion, setStatus, trainEnsemble,
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
    for (const model of ['same', 'moved', 'drifted', 'lost']) {
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

  /**
   * 400 events scored by both versions, never at either threshold: only the distributions can tell
   * them apart. The live version's scores are spread evenly below its threshold, as a version's are
   * on traffic like its training history, unless `liveScore` says otherwise.
   */
  async function scoreBoth(model: string, shadowScore: (liveScore: number) => number, liveScore = (r: number) => r * threshold) {
    const random = seeded(model.length)
    const records = Array.from({ length: 400 }, (_, i) => {
      const live = liveScore(random())
      return [scoreRecord(i, T0 + i * 1000, `${model}-live`, live), scoreRecord(i, T0 + i * 1000, `${model}-shadow`, shadowScore(live))]
    })
    await scores.write(records.flat())
  }
  const review = (model: string) => reviewShadow(db.pool, scores, producer, options(model), silentLog)

  it('promotes a shadow version that scores like the live one, and rejects one whose scores moved though it alerts no more', async () => {
    await scoreBoth('same', (s) => s * 1.001)
    expect(await review('same')).toBe('promoted')
    expect((await liveVersion(db.pool, 'same'))!.version).toBe('same-shadow')

    // The same alert volume (none), but every score moved down: not promoted, and the reason says why.
    await scoreBoth('moved', (s) => s * s)
    expect(await review('moved')).toBe('rejected')
    const rejected = (await getVersion(db.pool, 'moved', 'moved-shadow'))!
    expect(rejected.status).toBe('rejected')
    expect(rejected.rejectionReason).toMatch(/^its scores of the 400 events both versions scored are distributed unlike live moved-live's: PSI \d+\.\d\d \(allowed 0\.25\)$/)
    expect((await liveVersion(db.pool, 'moved'))!.version).toBe('moved-live')
  })

  it('promotes a retrain that scores unlike a live version the traffic drifted away from, but not one that fits the traffic no better', async () => {
    // The live version finds every event unusual: its scores bunch just under its threshold.
    const unusual = (r: number) => threshold * (0.9 + 0.09 * r)
    // The retrain's scores of the same events are spread evenly, as its calibration expects: that difference is what it was trained for.
    await scoreBoth('drifted', (s) => ((s / threshold - 0.9) / 0.09) * threshold, unusual)
    expect(await review('drifted')).toBe('promoted')
    expect((await liveVersion(db.pool, 'drifted'))!.version).toBe('drifted-shadow')
    const promotion = (await auditTrail(db.pool, 'drifted', 'drifted-shadow')).find((a) => a.phase === 'promote')!
    expect(promotion.details.reason).toMatch(/^promoted after shadow review: its scores differ from live drifted-live's \(PSI \d+\.\d\d\), whose scores no longer fit its calibration \(PSI \d+\.\d\d\) while its own do \(0\.\d\d\)$/)

    // A retrain whose scores bunch as well fits the traffic no better than the live version: rejected.
    await scoreBoth('lost', (s) => s * 0.2, unusual)
    expect(await review('lost')).toBe('rejected')
    expect((await getVersion(db.pool, 'lost', 'lost-shadow'))!.rejectionReason)
      .toMatch(/^neither version's scores of the 400 events both scored fit its calibration: PSI \d+\.\d\d, live lost-live's \d+\.\d\d \(allowed 0\.25\)$/)
    expect((await liveVersion(db.pool, 'lost'))!.version).toBe('lost-live')
  })
})
