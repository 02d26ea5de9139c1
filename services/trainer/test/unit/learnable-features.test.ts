import { describe, expect, it } from 'vitest'
import { featureNames } from '@vigil/schemas'
import { learnableFeatures, selectColumns } from '../../src/training/learnable-features.ts'

const HOUR = 3_600_000
const withoutClock = (...left: string[]) => featureNames.filter((n) => !['hour_of_day', 'day_of_week', 'is_weekend', 'is_business_hours'].includes(n) || left.includes(n))

describe('learnableFeatures', () => {
  it('leaves out the clock features whose cycle the training rows do not span', () => {
    expect(learnableFeatures(featureNames, 3 * HOUR)).toEqual(withoutClock())
    expect(learnableFeatures(featureNames, 24 * HOUR - 1)).toEqual(withoutClock())
    expect(learnableFeatures(featureNames, 24 * HOUR)).toEqual(withoutClock('hour_of_day'))
    expect(learnableFeatures(featureNames, 7 * 24 * HOUR)).toEqual([...featureNames])
    expect(learnableFeatures(['auth_failures', 'bytes'], 0)).toEqual(['auth_failures', 'bytes'])
  })
})

describe('selectColumns', () => {
  it('takes the named columns in the order asked for, and refuses a name it does not have', () => {
    expect(selectColumns([[1, 2, 3], [4, 5, 6]], ['a', 'b', 'c'], ['c', 'a'])).toEqual([[3, 1], [6, 4]])
    expect(selectColumns([[1, 2]], ['a', 'b'], ['a', 'b'])).toEqual([[1, 2]])
    expect(() => selectColumns([[1]], ['a'], ['z'])).toThrow(/no column z/)
  })
})
