import { describe, expect, it } from 'vitest'
import { topFeatures } from '../../src/ensemble/explanation.ts'

// A feature value absurdly far outside training (a forged byte count of 1e300) overflows a member's
// per-feature weight to Infinity: the explanation still names it, with shares a score can carry.
describe('explanations of an overflowing member', () => {
  const baseline = { p50: 1, p99: 2, min: 0, max: 3, mean: 1 }
  const names = ['bytes', 'auth_failures', 'hour']
  it('gives the overflowed features the member\'s share, and every share is a number', () => {
    const top = topFeatures([1e300, 4, 3], [
      { contributions: [{ feature: 0, weight: Infinity }, { feature: 1, weight: 2 }], carried: 3 },
      { contributions: [{ feature: 1, weight: 1 }, { feature: 2, weight: 1 }], carried: 1 },
    ], names, [baseline, baseline, baseline])
    expect(top.map((t) => [t.feature, t.share])).toEqual([['bytes', 0.75], ['auth_failures', 0.125], ['hour', 0.125]])
  })
})
