import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { applyRetention } from '../../src/adapters/history-retention.ts'
import { createScoreHistory } from '../../src/adapters/score-history.ts'
import { DAY_MS, freshDatabase, scoreRecord, seeded, type TestDatabase } from './support.ts'

const DAY0 = Date.UTC(2026, 5, 1)

describe('score history', () => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await freshDatabase(inject('stack').PG_URL)
  })
  afterEach(async () => {
    await db.drop()
  })

  it('stores each version\'s score of an event once, and sets a shadow version beside the live one', async () => {
    const history = createScoreHistory(db.pool)
    const random = seeded(7)
    const times = Array.from({ length: 300 }, (_, i) => DAY0 + i * 600_000) // ~2 days
    const live = times.map((t, i) => scoreRecord(i, t, 'live-1', random()))
    const shadow = times.slice(0, 200).map((t, i) => scoreRecord(i, t, 'shadow-2', random()))

    expect(await history.write(live)).toEqual({ stored: 300, duplicates: 0 })
    expect(await history.write([...shadow, ...live.slice(0, 50)])).toEqual({ stored: 200, duplicates: 50 }) // a redelivery mixed in
    expect(await history.write(shadow)).toEqual({ stored: 0, duplicates: 200 })
    expect((await history.stats()).rows).toBe(500)
    expect(await history.partitionDays()).toEqual(['2026-06-01', '2026-06-02', '2026-06-03'])

    const window = { from: new Date(DAY0), to: new Date(DAY0 + DAY_MS) }
    const pairs = await history.pairedScores('live-1', 'shadow-2', window, 1000)
    expect(pairs).toHaveLength(144) // the events of day 0 (one each 10 min); shadow scored all of them
    pairs.forEach((p, k) => {
      expect(p.eventId).toBe(live[k]!.eventId)
      expect(p.a).toBe(live[k]!.score)
      expect(p.b).toBe(shadow[k]!.score)
    })
    expect(await history.pairedScores('live-1', 'shadow-2', { from: new Date(DAY0 + 2 * DAY_MS), to: new Date(DAY0 + 3 * DAY_MS) }, 10)).toEqual([])

    expect(await applyRetention([history], 1)).toEqual(['score_history_p20260601'])
    expect((await history.stats()).rows).toBe(500 - 144 * 2)
  })
})
