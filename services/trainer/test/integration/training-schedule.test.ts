import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { listVersions, liveVersion, saveModelVersion, writeAudit } from '@vigil/models'
import type { PgPool } from '@vigil/platform'
import { featureNames } from '@vigil/schemas'
import { waitFor } from '@vigil/testkit'
import { createFeatureHistory } from '../../src/adapters/feature-history.ts'
import type { ShadowReviewOutcome } from '../../src/training/shadow-review.ts'
import { trainCandidate } from '../../src/training/train-candidate.ts'
import { startTrainingSchedule, type ScheduleOptions } from '../../src/training/training-schedule.ts'
import { featureRecord, freshDatabase, HOUR, silentLog, type TestDatabase } from './support.ts'

const T0 = Date.UTC(2026, 0, 5)

describe('the training schedule', () => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await freshDatabase(inject('stack').PG_URL)
    // 50 minutes of history, and a live version to drift from.
    await createFeatureHistory(db.pool).write(Array.from({ length: 50 }, (_, i) => featureRecord(i, T0 + i * 60_000)))
    await goLive('v1')
  })
  afterEach(async () => {
    await db.drop()
  })

  async function goLive(version: string) {
    await saveModelVersion(db.pool, {
      model: 'm', version, algorithm: 'test', trainingRows: 50, windowStart: new Date(T0), windowEnd: new Date(T0 + 49 * 60_000),
      featureNames: [...featureNames], params: {}, metrics: {}, artifact: Buffer.from(version), sha256: version, status: 'live', actor: 'test',
    })
  }

  /**
   * A schedule of model 'm' that was just trained, whose every look measures drift past the threshold
   * from the live version, and whose training runs are trainCandidate's: they record their reasons in
   * the registry as the trainer's do. With the hour of history held out (`holdoutMs`'s default) no
   * training window is left, and each retrain is skipped; with less held out, each registers a version.
   * `pool` is the instance's own: another trainer process shares only the database.
   */
  function driftingSchedule(intervalMs: number, { review = () => null, holdoutMs = HOUR, pool = db.pool }: {
    review?: () => ShadowReviewOutcome; holdoutMs?: number; pool?: PgPool
  } = {}) {
    const trained: Array<{ reason: string; at: number }> = []
    let checks = 0
    const history = createFeatureHistory(pool)
    const options: ScheduleOptions = {
      model: 'm', minRows: 10, intervalMs, settleMs: 0, firstModelMaxWaitMs: HOUR, checkMs: 10, driftCheckMs: 0, driftThreshold: 0.25,
    }
    const schedule = startTrainingSchedule(pool, history, options, silentLog, {
      async train(reason) {
        trained.push({ reason, at: Date.now() })
        return trainCandidate(pool, history, {
          modelName: 'm', actor: 'test', settings: { members: [{ kind: 'isolation-forest' }, { kind: 'hbos' }], seed: 7, targetAlertRate: 0.01 },
          minRows: 10, maxRows: 1000, trainingMs: 48 * HOUR, holdoutMs, excludeFlagged: true,
        }, reason, silentLog)
      },
      serveRequest: async () => false,
      reviewShadow: async () => review(),
      async measureDrift() {
        checks++
        return { version: (await liveVersion(pool, 'm'))!.version, worst: { feature: 'auth_failures', psi: 3 } }
      },
    })
    return { schedule, trained, checks: () => checks }
  }

  it('retrains on drift once per live version, not at every drift check', async () => {
    const { schedule, trained, checks } = driftingSchedule(HOUR)
    try {
      await waitFor('a drift retrain', async () => trained.length >= 1, 10_000, 10)
      const seen = checks()
      await waitFor('ten more drift checks', async () => checks() >= seen + 10, 10_000, 10)
      expect(trained.map((t) => t.reason)).toEqual(['drift from v1: auth_failures PSI 3.00 > 0.25'])

      // A new live version (the shadow promoted, or a rollback) drifts on its own account.
      await goLive('v2')
      await waitFor('a drift retrain against v2', async () => trained.length >= 2, 10_000, 10)
      const again = checks()
      await waitFor('ten more drift checks', async () => checks() >= again + 10, 10_000, 10)
      expect(trained).toHaveLength(2)
    } finally {
      await schedule.close()
    }
  })

  it('retrains on drift from the same live version again once the interval has passed', async () => {
    const intervalMs = 400
    const { schedule, trained } = driftingSchedule(intervalMs)
    try {
      await waitFor('two drift retrains', async () => trained.length >= 2, 10_000, 10)
      expect(trained[1]!.at - trained[0]!.at).toBeGreaterThanOrEqual(intervalMs)
    } finally {
      await schedule.close()
    }
  })

  it('leaves a shadow version awaiting its review running, until an interval after its review was due', async () => {
    const intervalMs = 300
    const dueAt = Date.now() + 400
    let reviews = 0
    const { schedule, trained } = driftingSchedule(intervalMs, {
      review: () => {
        reviews++
        return { reviewDueAt: new Date(dueAt) }
      },
    })
    try {
      await waitFor('twenty reviews', async () => reviews >= 20, 10_000, 10)
      await waitFor('a retrain once the shadow gave way', async () => trained.length >= 1, 10_000, 10)
      expect(trained[0]!.at).toBeGreaterThanOrEqual(dueAt + intervalMs)
    } finally {
      await schedule.close()
    }
  })

  it.each([
    ['skipped (no training window)', HOUR, ['v1']],
    ['that registered a version', 10 * 60_000, [expect.any(String), 'v1']],
  ])('remembers a drift retrain %s across a restart or another instance: none again from that version before the interval, one after', async (_, holdoutMs, versions) => {
    // Long enough for the first run, a new pool and ten checks to fall inside it on a loaded machine (about 0.7 s in CI).
    const intervalMs = 6000
    const first = driftingSchedule(intervalMs, { holdoutMs })
    try {
      await waitFor('a drift retrain', async () => first.trained.length >= 1, 10_000, 10)
    } finally {
      await first.schedule.close()
    }
    const retrainedAt = first.trained[0]!.at
    expect((await listVersions(db.pool, 'm')).map((v) => v.version)).toEqual(versions)

    // A new instance, with a process of its own: all it knows is what the database holds.
    const next = driftingSchedule(intervalMs, { holdoutMs, pool: db.newPool() })
    try {
      await waitFor('ten drift checks', async () => next.checks() >= 10, 10_000, 10)
      expect(Date.now()).toBeLessThan(retrainedAt + intervalMs) // the checks fell within the interval
      expect(next.trained).toEqual([])
      await waitFor('a drift retrain once the interval has passed', async () => next.trained.length >= 1, 10_000, 10)
      expect(next.trained[0]!.at - retrainedAt).toBeGreaterThanOrEqual(intervalMs)
      expect(next.trained[0]!.reason).toBe('drift from v1: auth_failures PSI 3.00 > 0.25')
    } finally {
      await next.schedule.close()
    }
  })

  /**
   * A schedule of model 'm' (an hour's interval unless told) with no drift unless told; `train`
   * records its reason, and throws if told to.
   */
  function steadySchedule({ fails = false, drifting = false, intervalMs = HOUR, settleMs = 0, firstModelMaxWaitMs = HOUR } = {}) {
    const trained: Array<{ reason: string; at: number }> = []
    let checks = 0
    const schedule = startTrainingSchedule(db.newPool(), createFeatureHistory(db.pool), {
      model: 'm', minRows: 10, intervalMs, settleMs, firstModelMaxWaitMs, checkMs: 10, driftCheckMs: 0, driftThreshold: 0.25,
    }, silentLog, {
      async train(reason) {
        trained.push({ reason, at: Date.now() })
        if (fails) throw new Error('training failed')
        return null
      },
      serveRequest: async () => false,
      reviewShadow: async () => (checks++, null), // once a check
      measureDrift: async () => (drifting ? { version: 'v1', worst: { feature: 'auth_failures', psi: 3 } } : null),
    })
    return { schedule, reasons: () => trained.map((t) => t.reason), trained, checks: () => checks }
  }

  it('knows from the registry when the last run was, whatever it gave: a new instance does not retrain a skipped retrain again before the interval', async () => {
    // v1 was trained two hours ago; a scheduled retrain ten minutes ago was skipped (its window too
    // short), which registers no version: the newest version is still the two-hour-old v1.
    await db.pool.query("UPDATE model_audit SET at = now() - interval '2 hours' WHERE model = 'm'")
    await db.pool.query("UPDATE model_versions SET created_at = now() - interval '2 hours' WHERE model = 'm'")
    const skipped = () => writeAudit(db.pool, { model: 'm', version: 'v1', phase: 'train', actor: 'test', details: { skipped: true, reason: 'scheduled retrain' } })
    await skipped()
    await db.pool.query("UPDATE model_audit SET at = now() - interval '10 minutes' WHERE model = 'm' AND details->>'skipped' = 'true'")

    // A trainer (re)started now, with an hour's interval and no drift; the 50 rows of history were stored just now.
    const restarted = steadySchedule()
    try {
      await waitFor('ten checks', async () => restarted.checks() >= 10, 10_000, 10)
      expect(restarted.reasons()).toEqual([])
    } finally {
      await restarted.schedule.close()
    }

    // Without that run on record, the interval since v1 has passed and the new rows are due.
    await db.pool.query("DELETE FROM model_audit WHERE model = 'm' AND details->>'skipped' = 'true'")
    const due = steadySchedule()
    try {
      await waitFor('a scheduled retrain', async () => due.trained.length >= 1, 10_000, 10)
      expect(due.reasons()).toEqual(['scheduled retrain'])
    } finally {
      await due.schedule.close()
    }
  })

  it.each([
    ['scheduled', false, 'scheduled retrain'],
    ['drift', true, 'drift from v1: auth_failures PSI 3.00 > 0.25'],
  ])('tries a %s run that failed before the registry recorded it again an interval later, not at every check', async (_, drifting, reason) => {
    await db.pool.query("UPDATE model_audit SET at = now() - interval '2 hours' WHERE model = 'm'")
    const failing = steadySchedule({ fails: true, drifting })
    try {
      await waitFor('a retrain', async () => failing.trained.length >= 1, 10_000, 10)
      const seen = failing.checks()
      await waitFor('ten more checks', async () => failing.checks() >= seen + 10, 10_000, 10)
      expect(failing.reasons()).toEqual([reason])
    } finally {
      await failing.schedule.close()
    }
  })

  it('tries a first model that failed again an interval later, on the history it had', async () => {
    await db.pool.query("DELETE FROM model_audit WHERE model = 'm'")
    const intervalMs = 400
    const failing = steadySchedule({ fails: true, intervalMs })
    try {
      await waitFor('two attempts', async () => failing.trained.length >= 2, 10_000, 10)
      expect(failing.reasons().slice(0, 2)).toEqual(['first model', 'first model'])
      expect(failing.trained[1]!.at - failing.trained[0]!.at).toBeGreaterThanOrEqual(intervalMs)
    } finally {
      await failing.schedule.close()
    }
  })
  it('trains a first model under steady traffic, which never lets the history settle, once the longest wait has passed', async () => {
    await db.pool.query("DELETE FROM model_audit WHERE model = 'm'")
    const history = createFeatureHistory(db.pool)
    let row = 50
    // a row every 50 ms: the history never goes a second without growing
    const traffic = setInterval(() => void history.write([featureRecord(row, T0 + row++ * 60_000)]), 50)
    const patient = steadySchedule({ settleMs: 1000 })
    const bounded = steadySchedule({ settleMs: 1000, firstModelMaxWaitMs: 500 })
    try {
      await waitFor('a first model', async () => bounded.trained.length >= 1, 10_000, 10)
      expect(bounded.reasons()[0]).toBe('first model (history still growing after 0.5 s)')
      expect(patient.reasons()).toEqual([])
    } finally {
      clearInterval(traffic)
      await Promise.all([patient.schedule.close(), bounded.schedule.close()])
    }
  })
  it('tries a first model that found too few rows to train on again only after the longest wait, under steady traffic', async () => {
    await db.pool.query("DELETE FROM model_audit WHERE model = 'm'")
    const history = createFeatureHistory(db.pool)
    let row = 50
    const traffic = setInterval(() => void history.write([featureRecord(row, T0 + row++ * 60_000)]), 50)
    const short = steadySchedule({ settleMs: 1000, firstModelMaxWaitMs: 500 }) // its train() finds too few rows (null)
    try {
      await waitFor('a first try', async () => short.trained.length >= 1, 10_000, 10)
      await new Promise((resolve) => setTimeout(resolve, 1600))
      // 1.6 s more: another try at most every 0.5 s (it was one per check, every 10 ms, once rows passed the short count)
      expect(short.trained.length).toBeLessThanOrEqual(5)
      expect(short.trained.length).toBeGreaterThanOrEqual(2)
    } finally {
      clearInterval(traffic)
      await short.schedule.close()
    }
  })
})
