import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { waitFor } from '@vigil/testkit'
import { createFeatureHistory, type FeatureHistory } from '../../src/adapters/feature-history.ts'
import type { ShadowReviewOutcome } from '../../src/training/shadow-review.ts'
import { startTrainingSchedule, type ScheduleOptions } from '../../src/training/training-schedule.ts'
import { featureRecord, freshDatabase, HOUR, silentLog, type TestDatabase } from './support.ts'


describe('the training schedule', () => {
  let db: TestDatabase
  let history: FeatureHistory
  beforeEach(async () => {
    db = await freshDatabase(inject('stack').PG_URL)
    history = createFeatureHistory(db.pool)
    await history.write(Array.from({ length: 50 }, (_, i) => featureRecord(i, Date.UTC(2026, 0, 5) + i * 60_000)))
  })
  afterEach(async () => {
    await db.drop()
  })

  /** A schedule whose model was just trained and whose every look measures drift past the threshold from the live version `live()`. */
  function driftingSchedule(live: () => string, intervalMs: number, review: () => ShadowReviewOutcome = () => null) {
    const trained: Array<{ reason: string; at: number }> = []
    let checks = 0
    const options: ScheduleOptions = {
      lastTrainedAt: new Date(), minRows: 10, intervalMs, settleMs: 0, checkMs: 10, driftCheckMs: 0, driftThreshold: 0.25,
    }
    const schedule = startTrainingSchedule(db.pool, history, options, silentLog, {
      async train(reason) {
        trained.push({ reason, at: Date.now() })
        return { version: `candidate-${trained.length}`, outcome: 'shadow' }
      },
      serveRequest: async () => false,
      reviewShadow: async () => review(),
      async measureDrift() {
        checks++
        return { version: live(), worst: { feature: 'auth_failures', psi: 3 } }
      },
    })
    return { schedule, trained, checks: () => checks }
  }

  it('retrains on drift once per live version, not at every drift check', async () => {
    let live = 'v1'
    const { schedule, trained, checks } = driftingSchedule(() => live, HOUR)
    try {
      await waitFor('a drift retrain', async () => trained.length >= 1, 10_000, 10)
      const seen = checks()
      await waitFor('ten more drift checks', async () => checks() >= seen + 10, 10_000, 10)
      expect(trained.map((t) => t.reason)).toEqual(['drift: auth_failures PSI 3.00 > 0.25'])

      // A new live version (the shadow promoted, or a rollback) drifts on its own account.
      live = 'v2'
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
    const { schedule, trained } = driftingSchedule(() => 'v1', intervalMs)
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
    const { schedule, trained } = driftingSchedule(() => 'v1', intervalMs, () => {
      reviews++
      return { reviewDueAt: new Date(dueAt) }
    })
    try {
      await waitFor('twenty reviews', async () => reviews >= 20, 10_000, 10)
      await waitFor('a retrain once the shadow gave way', async () => trained.length >= 1, 10_000, 10)
      expect(trained[0]!.at).toBeGreaterThanOrEqual(dueAt + intervalMs)
    } finally {
      await schedule.close()
    }
  })
})
