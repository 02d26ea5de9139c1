import { describe, expect, it } from 'vitest'
import { movedToRecentDay } from '../../src/fixtures.ts'

describe('movedToRecentDay', () => {
  const sample = ['Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster', 'Dec 10 11:04:45 LabSZ sshd[25539]: Failed password']

  it('moves a one-day sample to the latest Wednesday before today, 1 to 7 days back, times of day kept', () => {
    // 2026-11-23 is a Monday, 2026-11-25 a Wednesday, 2026-11-26 a Thursday.
    expect(movedToRecentDay(sample, Date.parse('2026-11-23T12:00:00Z'))).toEqual([
      'Nov 18 06:55:46 LabSZ sshd[24200]: Invalid user webmaster', 'Nov 18 11:04:45 LabSZ sshd[25539]: Failed password',
    ])
    expect(movedToRecentDay(sample, Date.parse('2026-11-25T23:00:00Z'))![0]).toMatch(/^Nov 18 /) // a Wednesday: the one before
    expect(movedToRecentDay(sample, Date.parse('2026-11-26T00:30:00Z'))![0]).toMatch(/^Nov 25 /) // 24.5 h after its start
    expect(movedToRecentDay(sample, Date.parse('2026-03-05T12:00:00Z'))![0]).toMatch(/^Mar {2}4 /) // one-digit days padded as syslog pads them
  })

  it('leaves alone what is not one BSD day', () => {
    expect(movedToRecentDay([...sample, 'Dec 11 00:00:01 LabSZ sshd[1]: x'])).toBeNull()
    expect(movedToRecentDay(['2026-11-23T10:00:00Z host app: x'])).toBeNull()
  })
})
