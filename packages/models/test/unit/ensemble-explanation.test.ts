import { describe, expect, it } from 'vitest'
import { describeFeatureValue, topFeatures, type FeatureBaseline, type MemberExplanation } from '../../src/ensemble/explanation.ts'

// An alert's reasons must be true: a feature is named only when its value left its usual training range,
// and the text compares it with the end of the range it left.
describe('topFeatures names only values outside their usual training range', () => {
  const names = ['invalid_user_attempts', 'seconds_since_previous', 'auth_failure_ratio', 'is_privileged_user']
  const baselines: FeatureBaseline[] = [
    { p1: 0, p50: 0, p99: 2, min: 0, max: 9, mean: 0.1 },
    { p1: 2, p50: 20, p99: 600, min: 1, max: 600, mean: 80 },
    { p1: 0, p50: 0, p99: 1, min: 0, max: 1, mean: 0.05 },
    { p1: 0, p50: 0, p99: 1, min: 0, max: 1, mean: 0.03 },
  ]
  const blaming = (...weights: number[]): MemberExplanation[] => [{ contributions: weights.map((weight, feature) => ({ feature, weight })), carried: 1 }]

  it('names none when every value is ordinary, however much the members lean on them', () => {
    // 119.137.62.142: invalid_user_attempts 0 (the median), seconds_since_previous 600 (the p99), auth_failure_ratio 0,
    // and is_privileged_user 0, which 97% of training rows have.
    expect(topFeatures([0, 600, 0, 0], blaming(4, 3, 2, 1), names, baselines)).toEqual([])
  })

  it('prefers an unusual value the members lean on a little over ordinary ones they lean on more', () => {
    const top = topFeatures([0, 600, 0, 1], blaming(4, 3, 2, 1), names, baselines)
    expect(top.map((t) => [t.feature, t.text, Number(t.share.toFixed(12))])).toEqual([['is_privileged_user', 'is_privileged_user 1, set in only 3% of training rows', 0.1]])
  })

  it('keeps the attribution order among unusual values and quotes the end of the range each left', () => {
    const top = topFeatures([5, 0.5, 0, 1], blaming(1, 3, 2, 1), names, baselines)
    expect(top.map((t) => t.text)).toEqual([
      'seconds_since_previous 0.5, training p1 2, min 1',
      'invalid_user_attempts 5, training p99 2',
      'is_privileged_user 1, set in only 3% of training rows',
    ])
  })
})

describe('topFeatures names a value usual for training against the training rows nearest its row', () => {
  const names = ['bytes', 'destination_port_entropy', 'hour_of_day']
  const baselines: FeatureBaseline[] = [
    { p1: 40, p50: 60, p99: 1500, min: 40, max: 9000, mean: 300 },
    { p1: 0, p50: 1, p99: 3, min: 0, max: 4, mean: 1.2 },
    { p1: 0, p50: 12, p99: 23, min: 0, max: 23, mean: 12 },
  ]
  const member = (contributions: MemberExplanation['contributions']): MemberExplanation[] => [{ contributions, carried: 1 }]

  it('names one that lies outside the nearest rows\' range, with the range, and one inside it not at all', () => {
    // backscatter: 40 bytes is common, but the rows most like this one (same hour, same ports) carried 60 to 1,500
    const top = topFeatures([40, 1, 3], member([
      { feature: 0, weight: 3, nearest: { low: 60, high: 1500 } },
      { feature: 1, weight: 2, nearest: { low: 0, high: 2 } },
      { feature: 2, weight: 1, nearest: { low: 3, high: 3 } },
    ]), names, baselines)
    expect(top.map((t) => [t.feature, t.text, t.nearest])).toEqual([['bytes', 'bytes 40, nearest rows of the training sample 60 to 1500', { low: 60, high: 1500 }]])
  })

  it('quotes training, not the nearest rows, for a value that left the training range too', () => {
    const top = topFeatures([20_000, 1, 3], member([{ feature: 0, weight: 1, nearest: { low: 60, high: 1500 } }]), names, baselines)
    expect(top.map((t) => [t.text, t.nearest])).toEqual([['bytes 20K, training p99 1500, max 9000', undefined]])
  })

  it('does not name a value that, as written, reads as an end of the range', () => {
    const wide: FeatureBaseline[] = [{ p1: 40, p50: 60_000, p99: 1e6, min: 40, max: 2e6, mean: 1e5 }, baselines[1]!, baselines[2]!]
    expect(topFeatures([364_400, 1, 3], member([{ feature: 0, weight: 1, nearest: { low: 364_450, high: 602_000 } }]), names, wide)).toEqual([])
    expect(topFeatures([300_000, 1, 3], member([{ feature: 0, weight: 1, nearest: { low: 364_450, high: 602_000 } }]), names, wide).map((t) => t.text))
      .toEqual(['bytes 300K, nearest rows of the training sample 364K to 602K'])
  })

  it('says "all" where the nearest rows agree, and puts values that left the training range first, whatever their attribution', () => {
    const top = topFeatures([60, 4, 3], member([
      { feature: 0, weight: 3, nearest: { low: 61, high: 61 } },
      { feature: 1, weight: 1 },
    ]), names, baselines)
    expect(top.map((t) => t.text)).toEqual(['destination_port_entropy 4, training p99 3', 'bytes 60, nearest rows of the training sample all 61'])
  })

  it('does not name a flag against its nearest rows: its usual value differs from theirs only by being the other one', () => {
    const withFlag = ['geo_new_country_for_user', ...names.slice(1)]
    const flagBaselines: FeatureBaseline[] = [{ p1: 0, p50: 0, p99: 1, min: 0, max: 1, mean: 0.3 }, baselines[1]!, baselines[2]!]
    expect(topFeatures([0, 1, 3], member([{ feature: 0, weight: 1, nearest: { low: 1, high: 1 } }]), withFlag, flagBaselines)).toEqual([])
  })
})

// The sotm34 honeywall's firewall log: 82 of 123 model alerts had no reason by either yardstick, such as
// 218.83.155.77's Messenger spam, 364-byte packets to 13 hosts in a second, each value inside training's range.
describe('topFeatures falls back on the outer tenths of training where neither yardstick names a feature', () => {
  const names = ['bytes', 'distinct_destinations', 'hour_of_day', 'is_privileged_user', 'seconds_since_previous']
  const baselines: FeatureBaseline[] = [
    { p1: 32, p10: 44, p50: 48, p90: 60, p99: 404, min: 28, max: 1500, mean: 70 },
    { p1: 1, p10: 1, p50: 1, p90: 24, p99: 76, min: 1, max: 200, mean: 6 },
    { p1: 0, p10: 2, p50: 13, p90: 21, p99: 23, min: 0, max: 23, mean: 12 },
    // a flag set in 7% of rows: its p90 is 0, so a 1 lies above it, and is no rarer than usual for it
    { p1: 0, p10: 0, p50: 0, p90: 0, p99: 1, min: 0, max: 1, mean: 0.07 },
    { p1: 0, p10: 0, p50: 1, p90: 600, p99: 600, min: 0, max: 600, mean: 200 },
  ]
  const blaming = (...weights: number[]): MemberExplanation[] => [{ contributions: weights.map((weight, feature) => ({ feature, weight })), carried: 1 }]

  it('names the values in an outer tenth, by attribution, against the p90 or p10 they passed', () => {
    const top = topFeatures([364, 13, 20, 0, 0], blaming(1, 3, 2, 1, 1), names, baselines)
    expect(top.map((t) => [t.text, t.outerTenth, t.nearest])).toEqual([['bytes 364, above 90% of training rows (p90 60)', 60, undefined]])
    const low = topFeatures([40, 30, 12, 0, 5], blaming(1, 2, 1, 1, 1), names, baselines)
    expect(low.map((t) => t.text)).toEqual(['distinct_destinations 30, above 90% of training rows (p90 24)', 'bytes 40, below 90% of training rows (p10 44)'])
  })

  it('names no clock feature nor flag, however far out, and no value the members did not lean on', () => {
    // hour 1 lies below p10 2, but beside hour 23 on the clock; the flag's 1 lies above its p90 0
    expect(topFeatures([48, 1, 1, 1, 0], blaming(0, 1, 5, 5, 1), names, baselines)).toEqual([])
    expect(topFeatures([364, 1, 12, 0, 0], blaming(0, 1, 1, 1, 1), names, baselines)).toEqual([])
  })

  it('names only a feature with a tenth of the attribution or more', () => {
    // bytes 61 lies above p90 60, but the members leaned on the hour and the flag
    expect(topFeatures([61, 1, 1, 1, 0], blaming(1, 0, 50, 50, 0), names, baselines)).toEqual([])
    expect(topFeatures([61, 1, 1, 1, 0], blaming(12, 0, 50, 50, 0), names, baselines).map((t) => t.feature)).toEqual(['bytes'])
    expect(topFeatures([61, 1, 1, 1, 0], blaming(1, 0, 4.5, 4.5, 0), names, baselines).map((t) => t.share)).toEqual([0.1])
    expect(topFeatures([61, 1, 1, 1, 0], blaming(0.99, 0, 4.5, 4.5, 0), names, baselines)).toEqual([])
  })

  it('names none where members that cannot explain carried most of the score: the alerter names the members', () => {
    expect(topFeatures([364, 13, 20, 0, 0], blaming(1, 3, 2, 1, 1), names, baselines, { explainedPart: 0.3 })).toEqual([])
    expect(topFeatures([364, 13, 20, 0, 0], blaming(1, 3, 2, 1, 1), names, baselines, { explainedPart: 0.5 })).toHaveLength(1)
    expect(topFeatures([364, 13, 20, 0, 0], blaming(1, 3, 2, 1, 1), names, baselines, { explainedPart: 0.49 })).toEqual([])
    expect(topFeatures([364, 13, 20, 0, 0], blaming(1, 3, 2, 1, 1), names, baselines, { explainedPart: Number.NaN })).toEqual([])
    // a stronger reason stands whoever carried the score
    expect(topFeatures([364, 100, 20, 0, 0], blaming(1, 3, 2, 1, 1), names, baselines, { explainedPart: 0.3 }).map((t) => t.feature)).toEqual(['distinct_destinations'])
  })

  it('is not used where a stronger reason exists, nor for an artifact from before p10 and p90, nor for a feature the definitions do not know', () => {
    const top = topFeatures([364, 100, 12, 0, 0], blaming(3, 1, 1, 1, 1), names, baselines)
    expect(top.map((t) => t.text)).toEqual(['distinct_destinations 100, training p99 76'])
    const old = baselines.map(({ p10: _p10, p90: _p90, ...rest }) => rest)
    expect(topFeatures([364, 13, 20, 0, 0], blaming(1, 3, 2, 1, 1), names, old)).toEqual([])
    // written as null (a NaN through JSON): as absent, not a crash
    const nulls = baselines.map((b) => ({ ...b, p90: null as unknown as number }))
    expect(topFeatures([364, 13, 20, 0, 0], blaming(1, 3, 2, 1, 1), names, nulls)).toEqual([])
    // a user's own feature could be a flag or a clock: not named against an outer tenth
    expect(topFeatures([364, 13, 20, 0, 0], blaming(1, 3, 2, 1, 1), ['packet_bytes', ...names.slice(1)], baselines)).toEqual([])
  })

  it('does not name a value that, as written, reads as its bound', () => {
    const fine: FeatureBaseline[] = [{ ...baselines[0]!, p90: 60.04 }, ...baselines.slice(1)]
    expect(topFeatures([60.041, 1, 12, 0, 0], blaming(1, 1, 1, 1, 1), names, fine)).toEqual([])
    expect(topFeatures([60.1, 1, 12, 0, 0], blaming(1, 1, 1, 1, 1), names, fine).map((t) => t.text)).toEqual(['bytes 60.1, above 90% of training rows (p90 60)'])
  })
})

describe('describeFeatureValue', () => {
  it('compares a value below the usual range with its low end', () => {
    const seconds = { p1: 2, p50: 20, p99: 600, min: 1, max: 600 }
    expect(describeFeatureValue('seconds_since_previous', 1.5, seconds)).toBe('seconds_since_previous 1.5, training p1 2')
    expect(describeFeatureValue('seconds_since_previous', 0.5, seconds)).toBe('seconds_since_previous 0.5, training p1 2, min 1')
    expect(describeFeatureValue('seconds_since_previous', 0.5, { ...seconds, p1: 1 })).toBe('seconds_since_previous 0.5, training min 1')
  })

  it('compares a value above the usual range with its high end, the maximum alone when p99 is the maximum', () => {
    const seconds = { p1: 2, p50: 20, p99: 600, min: 1, max: 600 }
    expect(describeFeatureValue('seconds_since_previous', 900, seconds)).toBe('seconds_since_previous 900, training max 600')
    expect(describeFeatureValue('auth_failures', 4, { p1: 0, p50: 0, p99: 2, min: 0, max: 9 })).toBe('auth_failures 4, training p99 2')
  })

  it('says a value at the median or at p99 is within the usual range, not beyond it', () => {
    const attempts = { p1: 0, p50: 0, p99: 2, min: 0, max: 9 }
    expect(describeFeatureValue('invalid_user_attempts', 0, attempts)).toBe('invalid_user_attempts 0, within training p1 0 to p99 2')
    expect(describeFeatureValue('seconds_since_previous', 600, { p1: 2, p50: 20, p99: 600, min: 1, max: 600 })).toBe('seconds_since_previous 600, within training p1 2 to p99 600')
  })

  it('never presents a flag\'s common value as rare, nor a minority value that is not scarce', () => {
    const privileged = { p1: 0, p50: 0, p99: 1, min: 0, max: 1, mean: 0.03 }
    expect(describeFeatureValue('is_privileged_user', 0, privileged)).toBe('is_privileged_user 0, as in 97% of training rows')
    expect(describeFeatureValue('is_privileged_user', 1, privileged)).toBe('is_privileged_user 1, set in only 3% of training rows')
    expect(describeFeatureValue('is_privileged_user', 0, { ...privileged, mean: 0.97 })).toBe('is_privileged_user 0, unset in only 3% of training rows')
    expect(describeFeatureValue('is_privileged_user', 1, { ...privileged, mean: 0.97 })).toBe('is_privileged_user 1, as in 97% of training rows')
    // 16% or 45% of the rows: a minority, not a reason
    expect(describeFeatureValue('is_privileged_user', 1, { ...privileged, mean: 0.16 })).toBe('is_privileged_user 1, as in 16% of training rows')
    expect(topFeatures([1], [{ contributions: [{ feature: 0, weight: 1 }], carried: 1 }], ['is_business_hours'], [{ ...privileged, mean: 0.45 }])).toEqual([])
  })

  it('reads an artifact from before p1 with the minimum as the low end', () => {
    const seconds = { p50: 20, p99: 600, min: 1, max: 600 }
    expect(describeFeatureValue('seconds_since_previous', 0.5, seconds)).toBe('seconds_since_previous 0.5, training min 1')
    expect(describeFeatureValue('seconds_since_previous', 1.5, seconds)).toBe('seconds_since_previous 1.5, within training min 1 to p99 600')
    expect(topFeatures([1.5], [{ contributions: [{ feature: 0, weight: 1 }], carried: 1 }], ['seconds_since_previous'], [seconds])).toEqual([])
    expect(topFeatures([0.5], [{ contributions: [{ feature: 0, weight: 1 }], carried: 1 }], ['seconds_since_previous'], [seconds]).map((t) => t.text))
      .toEqual(['seconds_since_previous 0.5, training min 1'])
  })
})
