import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { saveModelVersion, sha256Of } from '@vigil/models'
import { featureDefinitions, type FeatureRecord } from '@vigil/schemas'
import { createFeatureHistory } from '../../src/adapters/feature-history.ts'
import { measureDrift } from '../../src/training/feature-drift.ts'
import { featureRecord, freshDatabase, HOUR, seeded, type TestDatabase } from './support.ts'

const MONDAY = Date.UTC(2026, 0, 5)
const clock = featureDefinitions.filter((f) => f.group === 'temporal').map((f) => f.name)

/** Steady traffic at `at`: the same population whenever it is; only the clock's features follow the time. */
function steady(i: number, at: number, bruteForce = false): FeatureRecord {
  const r = featureRecord(i, at)
  const v = r.vector as unknown as Record<string, number>
  const random = seeded(i * 13 + 5)
  const t = new Date(at)
  v.hour_of_day = t.getUTCHours()
  v.day_of_week = t.getUTCDay()
  v.is_weekend = t.getUTCDay() % 6 === 0 ? 1 : 0
  v.is_business_hours = v.is_weekend === 0 && v.hour_of_day >= 9 && v.hour_of_day < 17 ? 1 : 0
  v.auth_failures = bruteForce ? 500 : random() < 0.95 ? 0 : 1
  v.user_agent_is_scanner = 0
  return r
}

describe('feature drift against the live version\'s training window', () => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await freshDatabase(inject('stack').PG_URL)
  })
  afterEach(async () => {
    await db.drop()
  })

  async function liveTrainedOnTheFirstWeek() {
    const artifact = Buffer.from('artifact')
    await saveModelVersion(db.pool, {
      model: 'm', version: 'v1', algorithm: 'ensemble', trainingRows: 3000, windowStart: new Date(MONDAY), windowEnd: new Date(MONDAY + 7 * 24 * HOUR),
      featureNames: [], params: {}, metrics: {}, artifact, sha256: sha256Of(artifact), status: 'live', actor: 'test',
    })
  }

  it('does not call an hour of steady traffic drift because of the hour, and reports the clock\'s PSI apart', async () => {
    const history = createFeatureHistory(db.pool)
    await history.write(Array.from({ length: 3000 }, (_, i) => steady(i, MONDAY + i * 200_000))) // a week
    await history.write(Array.from({ length: 1000 }, (_, i) => steady(10_000 + i, MONDAY + 8 * 24 * HOUR + 3 * HOUR + i * 3_500))) // an hour, a day later
    await liveTrainedOnTheFirstWeek()

    const report = (await measureDrift(db.pool, history, 'm', HOUR, 20_000))!
    expect(report).toMatchObject({ version: 'v1', recentRows: 1000 })
    expect(report.worst!.psi).toBeLessThan(0.25)
    expect(clock).not.toContain(report.worst!.feature)
    expect(Object.keys(report.psi)).not.toEqual(expect.arrayContaining(['hour_of_day']))
    expect(report.clockPsi.hour_of_day).toBeGreaterThan(0.25)
  })

  it('calls a brute force drift on a feature that is mostly 0 in training', async () => {
    const history = createFeatureHistory(db.pool)
    await history.write(Array.from({ length: 3000 }, (_, i) => steady(i, MONDAY + i * 200_000)))
    await history.write(Array.from({ length: 1000 }, (_, i) => steady(10_000 + i, MONDAY + 8 * 24 * HOUR + 3 * HOUR + i * 3_500, i % 2 === 0)))
    await liveTrainedOnTheFirstWeek()

    const report = (await measureDrift(db.pool, history, 'm', HOUR, 20_000))!
    expect(report.worst!.feature).toBe('auth_failures')
    expect(report.worst!.psi).toBeGreaterThan(0.25)
  })
})
