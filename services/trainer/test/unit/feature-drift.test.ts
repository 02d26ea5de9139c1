import { describe, expect, it } from 'vitest'
import { seededRandom } from '@vigil/models'
import { featureDefinitions, featureNames } from '@vigil/schemas'
import { featureDrift, populationStability } from '../../src/training/feature-drift.ts'

const STABLE = 0.1
const SHIFTED = 0.25

/** n values: `share` of them `value`, the rest from `rest`. */
function mixed(n: number, share: number, value: number, rest: (i: number) => number): number[] {
  return Array.from({ length: n }, (_, i) => (i < n * share ? value : rest(i)))
}

describe('population stability', () => {
  const random = seededRandom(3)
  const uniform = (n: number) => Array.from({ length: n }, () => random() * 100)

  it('is near 0 for samples of one population, continuous or repeating', () => {
    expect(populationStability(uniform(5000), uniform(2000))).toBeLessThan(STABLE)
    expect(populationStability(uniform(1000), uniform(1000))).toBeLessThan(STABLE)
    const sparse = () => mixed(4000, 0.95, 0, () => Math.floor(random() * 4) + 1)
    expect(populationStability(sparse(), sparse())).toBeLessThan(STABLE)
    const flag = () => Array.from({ length: 3000 }, () => (random() < 0.3 ? 1 : 0))
    expect(populationStability(flag(), flag())).toBeLessThan(STABLE)
  })

  it('sees a shift of a feature that training mostly held at one value', () => {
    // auth_failures in training: 95% 0, 5% 1; recently half the events are a brute force at 1000.
    const trained = mixed(2000, 0.95, 0, () => 1)
    const recent = mixed(2000, 0.5, 1000, () => 0)
    expect(populationStability(trained, recent)).toBeGreaterThan(SHIFTED)
    // More failures than training ever saw, yet no more than 5% of events fail.
    expect(populationStability(trained, mixed(2000, 0.95, 0, () => 40))).toBeGreaterThan(SHIFTED)
    // The 0s becoming 1s: the mass at 0 has a bin of its own.
    expect(populationStability(trained, mixed(2000, 0.6, 0, () => 1))).toBeGreaterThan(SHIFTED)
  })

  it('sees a constant feature take another value, above or below', () => {
    const zeros = new Array<number>(1000).fill(0)
    expect(populationStability(zeros, new Array<number>(1000).fill(5))).toBeGreaterThan(SHIFTED)
    expect(populationStability(zeros, new Array<number>(1000).fill(-5))).toBeGreaterThan(SHIFTED)
    expect(populationStability(zeros, zeros)).toBeLessThan(0.01)
  })

  it('sees a repeated value in the middle of a distribution move just below it', () => {
    // 40% of training at exactly 5, the rest spread on both sides; recently those events sit at 4.
    const trained = Array.from({ length: 3000 }, (_, i) => (i % 5 < 2 ? 5 : i % 5 === 2 ? random() * 5 : 5 + random() * 5))
    const recent = trained.map((v) => (v === 5 ? 4 : v))
    expect(populationStability(trained, recent)).toBeGreaterThan(SHIFTED)
  })
})

describe('feature drift', () => {
  const clock = featureDefinitions.filter((f) => f.group === 'temporal').map((f) => f.name)

  it('leaves the clock\'s features out of the decision: an hour of steady traffic is not drift', () => {
    // One population, sampled over a week of training and over the last hour: only the clock differs.
    const random = seededRandom(11)
    const row = (at: Date) => featureNames.map((name) => {
      switch (name) {
        case 'hour_of_day': return at.getUTCHours()
        case 'day_of_week': return at.getUTCDay()
        case 'is_weekend': return at.getUTCDay() % 6 === 0 ? 1 : 0
        case 'is_business_hours': return at.getUTCHours() >= 9 && at.getUTCHours() < 17 && at.getUTCDay() % 6 !== 0 ? 1 : 0
        case 'auth_failures': return random() < 0.95 ? 0 : 1
        default: return random() * 10
      }
    })
    const week = Date.UTC(2026, 0, 5)
    const trained = Array.from({ length: 5000 }, (_, i) => row(new Date(week + i * 120_000))) // a week, every 2 minutes
    const recent = Array.from({ length: 1000 }, (_, i) => row(new Date(week + 8 * 86_400_000 + 3 * 3_600_000 + i * 3_600)))

    const drift = featureDrift(featureNames, trained, recent)
    expect(Object.keys(drift.clockPsi).sort()).toEqual([...clock].sort())
    expect(drift.clockPsi.hour_of_day).toBeGreaterThan(SHIFTED) // as measured, for the record
    expect(Object.keys(drift.psi)).toHaveLength(featureNames.length - clock.length)
    expect(drift.worst!.psi).toBeLessThan(SHIFTED)
    expect(clock).not.toContain(drift.worst!.feature)

    // A brute force in the same hour is drift.
    const failures = featureNames.indexOf('auth_failures')
    const attacked = recent.map((r, i) => (i % 2 ? r : r.map((v, j) => (j === failures ? 1000 : v))))
    expect(featureDrift(featureNames, trained, attacked).worst).toMatchObject({ feature: 'auth_failures', psi: expect.any(Number) })
    expect(featureDrift(featureNames, trained, attacked).worst!.psi).toBeGreaterThan(SHIFTED)
  })
})
