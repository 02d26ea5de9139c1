import { describe, expect, it } from 'vitest'
import { createTemporalFeatures } from '../../../src/features/temporal-features.ts'

const weekdays = { startHour: 8, endHour: 18, days: new Set([1, 2, 3, 4, 5]) }

describe('temporal features', () => {
  it('reads hour and weekday in UTC', () => {
    const at = createTemporalFeatures('UTC', weekdays)
    // Wednesday 2025-12-10 06:55:46 UTC (the OpenSSH sample's first line, year inferred)
    expect(at(Date.UTC(2025, 11, 10, 6, 55, 46))).toEqual({ hour_of_day: 6, day_of_week: 3, is_weekend: 0, is_business_hours: 0 })
    expect(at(Date.UTC(2025, 11, 10, 9, 0, 0)).is_business_hours).toBe(1)
    expect(at(Date.UTC(2025, 11, 13, 12, 0, 0))).toMatchObject({ day_of_week: 6, is_weekend: 1, is_business_hours: 0 })
  })

  it('honours the configured time zone, across a date line', () => {
    const tokyo = createTemporalFeatures('Asia/Tokyo', weekdays)
    // Friday 23:30 UTC is Saturday 08:30 in Tokyo
    expect(tokyo(Date.UTC(2025, 11, 12, 23, 30))).toEqual({ hour_of_day: 8, day_of_week: 6, is_weekend: 1, is_business_hours: 0 })
  })
})
