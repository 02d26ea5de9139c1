import { describe, expect, it } from 'vitest'
import { createSourceTimeZones } from '../../src/source-time-zones.ts'

const wall = (iso: string) => Date.parse(`${iso}Z`)

describe('createSourceTimeZones', () => {
  const zones = createSourceTimeZones('America/New_York', { berlin1: 'Europe/Berlin', utc1: 'UTC' })

  it('reads a wall clock in the sender\'s zone, standard and summer time, with hosts over the default', () => {
    expect(new Date(zones.toUtc(wall('2005-02-27T04:06:23'), 'combo')).toISOString()).toBe('2005-02-27T09:06:23.000Z')
    expect(new Date(zones.toUtc(wall('2025-07-01T12:00:00'), null)).toISOString()).toBe('2025-07-01T16:00:00.000Z')
    expect(new Date(zones.toUtc(wall('2025-07-01T12:00:00'), 'berlin1')).toISOString()).toBe('2025-07-01T10:00:00.000Z')
    expect(zones.toUtc(wall('2025-07-01T12:00:00'), 'utc1')).toBe(wall('2025-07-01T12:00:00'))
    expect(zones.allUtc).toBe(false)
    expect(createSourceTimeZones('UTC', { a: 'Etc/UTC' }).allUtc).toBe(true)
  })

  it('takes the hours around a change of offset', () => {
    // New York, 2025-03-09: 02:00 EST became 03:00 EDT. 01:59 is EST, 03:00 EDT, 02:30 does not exist.
    expect(new Date(zones.toUtc(wall('2025-03-09T01:59:00'), null)).toISOString()).toBe('2025-03-09T06:59:00.000Z')
    expect(new Date(zones.toUtc(wall('2025-03-09T03:00:00'), null)).toISOString()).toBe('2025-03-09T07:00:00.000Z')
    expect(new Date(zones.toUtc(wall('2025-03-09T02:30:00'), null)).toISOString()).toBe('2025-03-09T06:30:00.000Z')
    // 2025-11-02: 02:00 EDT became 01:00 EST; 01:30 happened twice, taken as the first.
    expect(new Date(zones.toUtc(wall('2025-11-02T01:30:00'), null)).toISOString()).toBe('2025-11-02T05:30:00.000Z')
    expect(new Date(zones.toUtc(wall('2025-11-02T03:00:00'), null)).toISOString()).toBe('2025-11-02T08:00:00.000Z')
  })
})
