import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../src/detector.ts'
import { calibrate, empiricalCdf, fitCalibration, surprisalOf, thresholdForAlertRate } from '../../src/ensemble/calibration.ts'
import { combineSurprisals } from '../../src/ensemble/combination.ts'

const random = seededRandom(42)
const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
const exponential = () => -Math.log(1 - random())

/** Shares of `values` in ten equal bins of [0,1]. */
function deciles(values: ArrayLike<number>): number[] {
  const counts = new Array<number>(10).fill(0)
  for (let i = 0; i < values.length; i++) counts[Math.min(9, Math.floor(values[i]! * 10))]! += 1
  return counts.map((c) => c / values.length)
}

describe('calibration', () => {
  it('maps fresh draws of the training distribution to about uniform, tail included', () => {
    for (const draw of [normal, exponential]) {
      const calibration = fitCalibration(Array.from({ length: 20_000 }, draw))
      const fresh = Array.from({ length: 20_000 }, () => calibrate(calibration, draw()))
      for (const share of deciles(fresh)) expect(share).toBeCloseTo(0.1, 1)
      // The fitted tail: about 1% of fresh draws beyond the 99th percentile.
      const beyond = fresh.filter((p) => p > 0.99).length / fresh.length
      expect(beyond).toBeGreaterThan(0.007)
      expect(beyond).toBeLessThan(0.013)
    }
  })

  it('keeps ordering scores beyond every calibration row, without reaching 1', () => {
    const calibration = fitCalibration(Array.from({ length: 5000 }, normal))
    const far = [5, 10, 50, 500].map((raw) => surprisalOf(calibration, raw))
    far.forEach((s, i) => i > 0 && expect(s).toBeGreaterThan(far[i - 1]!))
    expect(calibrate(calibration, 5)).toBeLessThan(1)
    expect(surprisalOf(calibration, -100)).toBe(0)
  })

  it('keeps at most the asked number of points, spread over the quantiles', () => {
    const calibration = fitCalibration(Array.from({ length: 10_000 }, (_, i) => i), 100)
    expect(calibration.points).toHaveLength(100)
    expect(calibration.points[0]).toBe(50)
    expect(calibration.points[99]).toBe(9950)
  })

  it('counts ties half (mid-rank)', () => {
    expect(empiricalCdf([1, 2, 2, 2, 3], 2)).toBeCloseTo(0.5, 12)
    expect(empiricalCdf([1, 2, 3, 4], 0)).toBe(0)
    expect(empiricalCdf([1, 2, 3, 4], 5)).toBe(1)
    expect(empiricalCdf([1, 2, 3, 4], 2.5)).toBe(0.5)
  })

  it("takes a score a few float32 steps off a calibration point (onnxruntime's float32 forest) as that point, and keeps the order", () => {
    // Three feature vectors repeated: every held-out score is one of three values, the top one the tail's start.
    const raw = [...new Array(60).fill(0.52), ...new Array(100).fill(0.58), ...new Array(40).fill(0.71)]
    const calibration = fitCalibration(raw)
    expect(calibration.tail.from).toBe(0.71)
    for (const point of [0.52, 0.58, 0.71]) {
      for (const off of [Math.fround(point), point * (1 + 8e-7), point * (1 - 8e-7)]) {
        expect(off).not.toBe(point)
        expect(calibrate(calibration, off), `${off}`).toBe(calibrate(calibration, point))
      }
    }
    expect(calibrate(calibration, 0.58)).toBeCloseTo(0.3 + 0.25, 12)
    // Clearly other scores are not snapped: beyond the top point is the tail.
    expect(calibrate(calibration, 0.71 * (1 + 1e-4))).toBeGreaterThan(calibrate(calibration, 0.71))
    const sweep = Array.from({ length: 2001 }, (_, i) => 0.58 * (1 + (i - 1000) * 1e-8))
    sweep.forEach((x, i) => i > 0 && expect(surprisalOf(calibration, x)).toBeGreaterThanOrEqual(surprisalOf(calibration, sweep[i - 1]!)))
  })

  it('survives tied top scores (no excess over the tail threshold)', () => {
    const calibration = fitCalibration([...Array.from({ length: 900 }, (_, i) => i / 900), ...new Array(100).fill(5)])
    expect(calibration.tail.scale).toBeGreaterThan(0)
    expect(surprisalOf(calibration, 6)).toBeGreaterThan(surprisalOf(calibration, 5))
    expect(Number.isFinite(surprisalOf(calibration, 6))).toBe(true)
  })
})

describe('thresholdForAlertRate', () => {
  const flaggedShare = (scores: number[], t: number) => scores.filter((s) => s >= t).length / scores.length

  it('flags the asked share of distinct scores exactly', () => {
    const scores = Array.from({ length: 10_000 }, random)
    for (const rate of [0.1, 0.01, 0.001]) expect(flaggedShare(scores, thresholdForAlertRate(scores, rate))).toBeCloseTo(rate, 12)
  })

  it('comes as close as ties allow', () => {
    // 90 rows at 0.5, 10 distinct rows above: asking for 15% can give 10% or 100%.
    const scores = [...new Array(90).fill(0.5), ...Array.from({ length: 10 }, (_, i) => 0.6 + i / 100)]
    expect(flaggedShare(scores, thresholdForAlertRate(scores, 0.15))).toBe(0.1)
    expect(flaggedShare(scores, thresholdForAlertRate(scores, 0.05))).toBe(0.05)
  })

  it('flags nothing when the rate asks for less than half a row, and refuses a rate outside [0,1]', () => {
    expect(thresholdForAlertRate([0.1, 0.2, 0.3], 0.1)).toBe(1)
    expect(() => thresholdForAlertRate([0.1], 1.5)).toThrow()
  })
})

describe('combineSurprisals', () => {
  it('is the weighted mean of member surprisals, a zero weight leaving a member out', () => {
    const a = Float64Array.from([1, 2, 9])
    const b = Float64Array.from([3, 0, 1])
    expect(Array.from(combineSurprisals([a, b], [1, 1], 3))).toEqual([2, 1, 5])
    expect(Array.from(combineSurprisals([a, b], [3, 1], 3))).toEqual([1.5, 1.5, 7])
    expect(Array.from(combineSurprisals([a, b], [1, 0], 3))).toEqual([1, 2, 9])
  })
})
