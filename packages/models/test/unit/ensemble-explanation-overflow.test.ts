import { describe, expect, it } from 'vitest'
import { topFeatures } from '../../src/ensemble/explanation.ts'

// A feature value absurdly far outside training (a forged byte count of 1e300) overflows a member's
// per-feature weight to Infinity: the explanation still names it, with shares a score can carry.
describe('explanations of an overflowing member', () => {
  const baseline = { p50: 1, p99: 2, min: 0, max: 3, mean: 1 }
  const names = ['bytes', 'auth_failures', 'hour']
  const shares = (top: ReturnType<typeof topFeatures>) => top.map((t) => [t.feature, Number(t.share.toFixed(12))])
  it('gives the overflowed features the member\'s share, and every share is a number', () => {
    const top = topFeatures([1e300, 4, 3], [
      { contributions: [{ feature: 0, weight: Infinity }, { feature: 1, weight: 2 }], carried: 3 },
      { contributions: [{ feature: 1, weight: 1 }, { feature: 2, weight: 1 }], carried: 1 },
    ], names, [baseline, baseline, baseline])
    expect(shares(top)).toEqual([['bytes', 0.75], ['auth_failures', 0.125], ['hour', 0.125]])
  })
  it('gives an overflowed member the whole attribution, and huge finite parts their shares without overflowing', () => {
    const infinite = topFeatures([1e300, 4, 3], [
      { contributions: [{ feature: 0, weight: 1e300 }, { feature: 1, weight: 1e300 }], carried: Infinity },
      { contributions: [{ feature: 2, weight: 1 }], carried: 5 },
    ], names, [baseline, baseline, baseline])
    expect(shares(infinite)).toEqual([['bytes', 0.5], ['auth_failures', 0.5]])
    // products and sums past 1.8e308 (hbos's weight for a far-out value times a large surprisal)
    const huge = topFeatures([1e300, 4, 3], [
      { contributions: [{ feature: 0, weight: 1e300 }, { feature: 1, weight: 1e300 }], carried: 6e299 },
      { contributions: [{ feature: 2, weight: 1e308 }], carried: 1.2e300 },
    ], names, [baseline, baseline, baseline])
    expect(shares(huge)).toEqual([['hour', 0.666666666667], ['bytes', 0.166666666667], ['auth_failures', 0.166666666667]])
  })
  it('gives ordinary rows the shares it always did', () => {
    const top = topFeatures([5, 4, 3], [
      { contributions: [{ feature: 0, weight: 3 }, { feature: 1, weight: 1 }], carried: 2 },
      { contributions: [{ feature: 1, weight: 1 }, { feature: 2, weight: 1 }, { feature: 0, weight: -1 }], carried: 2 },
    ], names, [baseline, baseline, baseline])
    expect(shares(top)).toEqual([['bytes', 0.375], ['auth_failures', 0.375], ['hour', 0.25]])
  })
})
