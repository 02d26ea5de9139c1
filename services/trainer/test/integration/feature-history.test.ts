import { createHash } from 'node:crypto'
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { REDRIVEN_FROM_HEADER, type DeliveredMessage } from '@vigil/platform'
import { featureNames, toFeatureArray, type FeatureRecord, type Verdict } from '@vigil/schemas'
import { createAnalystVerdicts } from '../../src/adapters/analyst-verdicts.ts'
import { createFeatureHistory, featureSetId, trainingDataHash } from '../../src/adapters/feature-history.ts'
import { migrateTrainerDatabase } from '../../src/adapters/database.ts'
import { applyRetention } from '../../src/adapters/history-retention.ts'
import { DAY_MS, featureRecord, freshDatabase, silentLog, TRAINER_MIGRATIONS, type TestDatabase } from './support.ts'

const DAY0 = Date.UTC(2025, 11, 10) // a replay of last year's logs: retention must count from the newest event, not the clock

async function countRows(db: TestDatabase): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM feature_history')
  return Number(rows[0]!.n)
}

/** `record` as the features consumer delivers it; `redrivenFrom` is the dead letter a redrive sent it again from. */
function delivered(record: FeatureRecord, redrivenFrom?: string): DeliveredMessage<FeatureRecord> {
  return {
    value: record, key: record.entity.id, topic: 'features', partition: 0, offset: record.evidence.offset, timestamp: record.receivedAt,
    headers: redrivenFrom ? { [REDRIVEN_FROM_HEADER]: redrivenFrom } : {},
  }
}

/** A row's sample key as migration 008 indexes it: the first 32 bits of md5 of its event id, signed. */
const sampleKeyOf = (eventId: string) => createHash('md5').update(eventId).digest().readInt32BE(0)

/** The `limit` of `eventIds` a uniform sample takes: the first by sample key (ties by id), oldest first (ids end in their order of time). */
const firstByKey = (eventIds: string[], limit: number) => [...eventIds]
  .sort((a, b) => sampleKeyOf(a) - sampleKeyOf(b) || (a < b ? -1 : 1)).slice(0, limit)
  .sort((a, b) => Number(a.split('/')[2]) - Number(b.split('/')[2]))

/** A pool that remembers the SQL it was given: which way a read went. */
function recordingPool(pool: TestDatabase['pool']): { pool: TestDatabase['pool']; sql: string[] } {
  const sql: string[] = []
  return { sql, pool: { query: (text: string, values?: unknown[]) => { sql.push(text); return pool.query(text, values) } } as unknown as TestDatabase['pool'] }
}

async function redrivenIds(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.pool.query<{ event_id: string }>('SELECT event_id FROM feature_history WHERE redriven ORDER BY event_time, event_id')
  return rows.map((r) => r.event_id)
}

describe('feature history (COPY into day partitions)', () => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await freshDatabase(inject('stack').PG_URL)
  })
  afterEach(async () => {
    await db.drop()
  })

  it('stores a batch once when the same batch is delivered twice, by the same or another instance', async () => {
    const history = createFeatureHistory(db.pool)
    const batch = Array.from({ length: 500 }, (_, i) => featureRecord(i, DAY0 + i * 300_000)) // 500 events over ~1.7 days
    const withRepeat = [...batch, batch[7]!, batch[8]!] // a batch can hold a record twice after a producer retry

    expect(await history.write(withRepeat)).toEqual({ stored: 500, duplicates: 2 })
    expect(await history.write(batch)).toEqual({ stored: 0, duplicates: 500 })
    expect(await createFeatureHistory(db.newPool()).write(batch.slice(100, 200))).toEqual({ stored: 0, duplicates: 100 })

    expect(await countRows(db)).toBe(500)
    expect((await history.stats()).rows).toBe(500)
    const { rows } = await db.pool.query<{ vector: number[]; event_time: Date; entity_id: string }>(
      "SELECT vector, event_time, entity_id FROM feature_history WHERE event_id = 'raw-logs/7/7'")
    expect(rows).toHaveLength(1)
    expect(rows[0]!.vector).toEqual(toFeatureArray(batch[7]!.vector))
    expect(rows[0]!.event_time.getTime()).toBe(batch[7]!.eventTime)
    expect(rows[0]!.entity_id).toBe(batch[7]!.entity.id)
  })

  it('keeps text that COPY would otherwise misread', async () => {
    const history = createFeatureHistory(db.pool)
    const tricky = 'a\tb\nc\r\\d \\N\u0000é'
    const record = featureRecord(1, DAY0, tricky)
    record.event.event.action = '\\N'
    await history.write([record])
    const { rows } = await db.pool.query<{ entity_id: string; action: string }>('SELECT entity_id, action FROM feature_history')
    expect(rows).toEqual([{ entity_id: 'a\tb\nc\r\\d \\Né', action: '\\N' }]) // NUL, which Postgres text cannot hold, is left out
  })

  it('creates one partition per day a batch touches, also when two writers race for the same new days', async () => {
    const writers = [createFeatureHistory(db.pool), createFeatureHistory(db.newPool())]
    // Each round, both writers store batches that open the same three new days at once.
    for (let round = 0; round < 4; round++) {
      const days = [0, 1, 2].map((d) => DAY0 + (round * 3 + d) * DAY_MS)
      await Promise.all(writers.map((w, k) => w.write(days.flatMap((day, d) =>
        Array.from({ length: 20 }, (_, j) => featureRecord(100_000 * round + 1000 * d + 100 * k + j, day + j * 60_000))))))
    }
    const partitions = await writers[0]!.partitionDays()
    expect(partitions).toEqual(Array.from({ length: 12 }, (_, d) => new Date(DAY0 + d * DAY_MS).toISOString().slice(0, 10)))
    expect(await countRows(db)).toBe(4 * 3 * 2 * 20)
    // Each row sits in its own day's partition.
    const { rows } = await db.pool.query<{ misplaced: string }>(
      `SELECT count(*) AS misplaced FROM feature_history WHERE tableoid::regclass::text <> 'feature_history_p' || to_char(event_time AT TIME ZONE 'UTC', 'YYYYMMDD')`)
    expect(Number(rows[0]!.misplaced)).toBe(0)
  })

  it('drops the partitions past retention, counted from the newest event, and stores into a dropped day again', async () => {
    const history = createFeatureHistory(db.pool)
    await history.write(Array.from({ length: 11 * 10 }, (_, i) => featureRecord(i, DAY0 + Math.floor(i / 10) * DAY_MS + (i % 10) * 1000)))
    expect(await history.partitionDays()).toHaveLength(11)

    expect(await applyRetention([history], 0)).toEqual([]) // 0 keeps everything
    const dropped = await applyRetention([history], 3)
    // The newest event is on day 10: days 7..10 stay (day 7 is partly within 3 days of it), days 0..6 go.
    expect(dropped).toEqual(Array.from({ length: 7 }, (_, d) => `feature_history_p${new Date(DAY0 + d * DAY_MS).toISOString().slice(0, 10).replace(/-/g, '')}`))
    expect(await history.partitionDays()).toEqual(Array.from({ length: 4 }, (_, d) => new Date(DAY0 + (7 + d) * DAY_MS).toISOString().slice(0, 10)))
    expect(await countRows(db)).toBe(40)
    expect((await history.stats()).rows).toBe(40)
    expect(await applyRetention([history], 3)).toEqual([])

    // Another instance still believes day 0 has its partition: its store notices and creates it again.
    const other = createFeatureHistory(db.newPool())
    await other.ensureDays([new Date(DAY0).toISOString().slice(0, 10)])
    await applyRetention([history], 3)
    expect(await other.write([featureRecord(9999, DAY0 + 5)])).toEqual({ stored: 1, duplicates: 0 })
    expect(await countRows(db)).toBe(41)
  })

  it('leaves every row of an entity flagged within the window out of the training set, and counts them', async () => {
    const history = createFeatureHistory(db.pool)
    const entities = Array.from({ length: 10 }, (_, e) => `10.1.0.${e}`)
    // 400 events, one a minute, entities in turn.
    await history.write(Array.from({ length: 400 }, (_, i) => featureRecord(i, DAY0 + i * 60_000, entities[i % 10])))
    const window = { from: new Date(DAY0 + 100 * 60_000), to: new Date(DAY0 + 300 * 60_000) } // events 100..299
    await db.pool.query(
      `INSERT INTO flagged_entities (entity_kind, entity_id, flagged_from, flagged_to, reason, source) VALUES
       ('source.ip', $1, $4, $5, 'alert confirmed', 'alert:a1'),
       ('source.ip', $2, $6, NULL, 'sigma hit', 'sigma:r1'),
       ('source.ip', $3, $7, $8, 'alert confirmed', 'alert:a2'),
       ('user.name', $3, $4, $5, 'alert confirmed', 'alert:a3')`,
      [entities[3], entities[5], entities[4],
        new Date(DAY0 + 150 * 60_000), new Date(DAY0 + 160 * 60_000), // entity 3: inside the window
        new Date(DAY0 + 250 * 60_000), // entity 5: from inside the window on, still open
        new Date(DAY0), new Date(DAY0 + 50 * 60_000)]) // entity 4: only before the window; and a user of the same id: another kind
    const set = await history.trainingSet(1000, window)
    const ids = new Set(set.eventIds)
    const expected = Array.from({ length: 200 }, (_, k) => 100 + k).filter((i) => i % 10 !== 3 && i % 10 !== 5)
    expect(set.eventIds).toEqual(expected.map((i) => `raw-logs/${i % 12}/${i}`)) // oldest first
    expect(ids.has('raw-logs/4/4')).toBe(false) // outside the window
    expect(set.excluded).toBe(40)
    expect(set.flaggedCountShare).toBe(1) // counted on the whole window
    expect(set.rows).toHaveLength(160)
    expect(set.rows[0]).toEqual(toFeatureArray(featureRecord(100, 0).vector))
    expect(set.windowStart!.getTime()).toBe(DAY0 + 100 * 60_000)
    expect(set.windowEnd!.getTime()).toBe(DAY0 + 299 * 60_000)
    expect(set.featureNames).toEqual([...featureNames])

    // A limit draws its rows from the whole window, the same ones each time, oldest first; flagged ones still left out.
    const drawn = await history.trainingSet(40, window)
    const drawnAt = drawn.eventIds.map((id) => expected.find((i) => `raw-logs/${i % 12}/${i}` === id)!)
    expect(drawnAt).toHaveLength(40)
    expect(drawnAt.every((i) => i !== undefined)).toBe(true)
    expect(drawnAt).toEqual([...drawnAt].sort((a, b) => a - b))
    expect(new Set(drawnAt.map((i) => Math.floor((i - 100) / 50))).size).toBe(4) // each quarter of the window
    expect((await history.trainingSet(40, window)).eventIds).toEqual(drawn.eventIds)

    // The hash is over the rows used: the same rows give the same hash, one more row another.
    expect((await history.trainingSet(1000, window)).dataHash).toBe(set.dataHash)
    expect(set.dataHash).toBe(trainingDataHash(featureNames, set.eventIds.map((eventId, k) => ({
      eventId, eventTime: new Date(DAY0 + expected[k]! * 60_000), vector: set.rows[k]!,
    }))))
    await history.write([featureRecord(5000, DAY0 + 200 * 60_000 + 1, entities[0])])
    expect((await history.trainingSet(1000, window)).dataHash).not.toBe(set.dataHash)
  })

  it('takes an entity back into training once an analyst calls the flagging detector\'s alert a false positive, and only then', async () => {
    const history = createFeatureHistory(db.pool)
    const verdicts = createAnalystVerdicts(db.pool)
    await history.write(Array.from({ length: 40 }, (_, i) => featureRecord(i, DAY0 + i * 60_000, `10.3.0.${i % 2}`)))
    const window = { from: new Date(DAY0), to: new Date(DAY0 + 40 * 60_000) }
    await db.pool.query(`INSERT INTO flagged_entities (entity_kind, entity_id, flagged_from, flagged_to, reason, source) VALUES
      ('source.ip', '10.3.0.1', $1, $2, 'sigma hit', 'sigma:r1')`, [new Date(DAY0 + 10 * 60_000), new Date(DAY0 + 20 * 60_000)])
    expect((await history.trainingSet(1000, window)).excluded).toBe(20)
    const verdict = (alertId: string, v: Verdict['verdict'], detector: string, decidedAt: number): Verdict => ({
      alertId, verdict: v, detector, modelVersion: 'sigma@x', entity: { kind: 'source.ip', id: '10.3.0.1' },
      firstSeen: DAY0 + 12 * 60_000, lastSeen: DAY0 + 15 * 60_000, decidedAt, note: null, analyst: 'ana',
    })
    // Another detector's false positive, or a true positive, changes nothing.
    await verdicts.store([verdict('a1', 'false_positive', 'model:default', 1), verdict('a2', 'true_positive', 'sigma:r1', 1)])
    expect((await history.trainingSet(1000, window)).excluded).toBe(20)
    // The rule's alert called a false positive: back in; then a later change of mind: out again; an older one is ignored.
    await verdicts.store([verdict('a2', 'false_positive', 'sigma:r1', 2)])
    expect((await history.trainingSet(1000, window)).excluded).toBe(0)
    await verdicts.store([verdict('a2', 'true_positive', 'sigma:r1', 3), verdict('a2', 'false_positive', 'sigma:r1', 1)])
    expect((await history.trainingSet(1000, window)).excluded).toBe(20)
  })

  it('stores the features of a redriven dead letter marked, and leaves them out of the training set, counted apart from flagged rows', async () => {
    const history = createFeatureHistory(db.pool)
    // 40 events, one a minute, four entities in turn; every fifth came of a redriven dead letter.
    const records = Array.from({ length: 40 }, (_, i) => featureRecord(i, DAY0 + i * 60_000, `10.4.0.${i % 4}`))
    const redriven = (i: number) => i % 5 === 0
    await history.store(records.map((r, i) => delivered(r, redriven(i) ? `raw-logs.dlq/0/${1000 + i}` : undefined)))
    expect(await redrivenIds(db)).toEqual(records.filter((_, i) => redriven(i)).map((r) => r.eventId))

    // Entity 1 is flagged over the window: its rows are left out as flagged, redriven or not (events 5 and 25 are both).
    await db.pool.query(`INSERT INTO flagged_entities (entity_kind, entity_id, flagged_from, reason, source) VALUES ('source.ip', '10.4.0.1', $1, 'sigma hit', 'sigma:r1')`,
      [new Date(DAY0)])
    const window = { from: new Date(DAY0), to: new Date(DAY0 + 40 * 60_000) }
    const set = await history.trainingSet(1000, window)
    const kept = records.filter((_, i) => !redriven(i) && i % 4 !== 1)
    expect(set.eventIds).toEqual(kept.map((r) => r.eventId))
    expect(set.rows).toEqual(kept.map((r) => toFeatureArray(r.vector)))
    expect(set.excluded).toBe(10)
    expect(set.excludedRedriven).toBe(6)

    // The benchmark's "trained on everything" keeps them all.
    const everything = await history.trainingSet(1000, window, { excludeFlagged: false })
    expect(everything.eventIds).toEqual(records.map((r) => r.eventId))
    expect([everything.excluded, everything.excludedRedriven]).toEqual([0, 0])

    // Drift's reading: traffic as it came, flagged entities included, redriven lines not.
    const asItCame = await history.trainingSet(1000, window, { excludeFlagged: false, excludeRedriven: true })
    expect(asItCame.eventIds).toEqual(records.filter((_, i) => !redriven(i)).map((r) => r.eventId))
    expect([asItCame.excluded, asItCame.excludedRedriven]).toEqual([0, 8])

    // The gate's holdout: flagged rows kept and marked, redriven ones left out.
    const holdout = await history.holdoutSet(window, 1000)
    expect(holdout.eventIds).toEqual(records.filter((_, i) => !redriven(i)).map((r) => r.eventId))
    expect(holdout.flagged).toEqual(records.filter((_, i) => !redriven(i)).map((_, k, kept) => kept[k]!.entity.id === '10.4.0.1'))

    // Redriven lines newer than everything streamed (sent again after a fix) move no window's end:
    // the holdout still ends at the newest streamed event, and so is not left empty.
    await history.store(Array.from({ length: 5 }, (_, i) => delivered(featureRecord(100 + i, DAY0 + (60 + i) * 60_000, '10.4.0.9'), `raw-logs.dlq/0/${2000 + i}`)))
    expect((await history.newestEventTime())!.getTime()).toBe(DAY0 + 64 * 60_000)
    expect((await history.newestStreamedEventTime())!.getTime()).toBe(DAY0 + 39 * 60_000)
    const windows = (await history.windows(20 * 60_000, 10 * 60_000))!
    expect(windows.holdout.to.getTime()).toBe(DAY0 + 39 * 60_000 + 1)
    expect((await history.holdoutSet(windows.holdout, 1000)).eventIds.length).toBeGreaterThan(0)
  })

  it('draws a busy window\'s rows from all of its days, the same whatever order they were written in, and estimates what it left out', async () => {
    // 7 days, 2,000 events a day (one every 43.2 s), entity 10.4.0.3 flagged throughout: a tenth of the rows.
    const perDay = 2000
    const records = Array.from({ length: 7 * perDay }, (_, i) => featureRecord(i, DAY0 + i * (DAY_MS / perDay), `10.4.0.${i % 10}`))
    const flag = (pool: TestDatabase['pool']) => pool.query(
      `INSERT INTO flagged_entities (entity_kind, entity_id, flagged_from, reason, source) VALUES ('source.ip', '10.4.0.3', $1, 'sigma hit', 'sigma:r3')`, [new Date(DAY0)])
    const history = createFeatureHistory(db.pool)
    for (let day = 0; day < 7; day++) await history.write(records.slice(day * perDay, (day + 1) * perDay))
    await flag(db.pool)
    const window = { from: new Date(DAY0), to: new Date(DAY0 + 7 * DAY_MS) }
    const reads = recordingPool(db.pool)
    const set = await createFeatureHistory(reads.pool).trainingSet(300, window)
    expect(reads.sql.some((sql) => sql.includes('MATERIALIZED'))).toBe(false) // through the index
    expect(set.rows).toHaveLength(300)
    const indexOf = (id: string) => Number(id.split('/')[2])
    const rowsPerDay = Array.from({ length: 7 }, (_, day) => set.eventIds.filter((id) => Math.floor(indexOf(id) / perDay) === day).length)
    expect(Math.min(...rowsPerDay)).toBeGreaterThan(20) // every day, not the newest minutes (300 rows were 3.6 hours)
    const hoursOfDay = new Set(set.eventIds.map((id) => Math.floor((indexOf(id) % perDay) / (perDay / 24))))
    expect(hoursOfDay.size).toBe(24)
    expect(set.eventIds.map(indexOf)).toEqual(set.eventIds.map(indexOf).sort((a, b) => a - b)) // oldest first
    expect(set.eventIds.every((id) => indexOf(id) % 10 !== 3)).toBe(true)
    expect(set.eventIds).toEqual(firstByKey(records.filter((_, i) => i % 10 !== 3).map((r) => r.eventId), 300))
    expect(set.flaggedCountShare).toBeLessThan(1) // counted on a sample of the window
    expect(set.excluded).toBeGreaterThan(1100) // 1,400 flagged rows
    expect(set.excluded).toBeLessThan(1700)

    // The same rows written in another order (interleaved, newest day first) give the same set.
    const other = await freshDatabase(inject('stack').PG_URL)
    try {
      const reordered = [...records].reverse()
      for (let k = 0; k < 4; k++) await createFeatureHistory(other.pool).write(reordered.filter((_, i) => i % 4 === k))
      await flag(other.pool)
      const again = await createFeatureHistory(other.pool).trainingSet(300, window)
      expect(again.dataHash).toBe(set.dataHash)
      expect(again.excluded).toBe(set.excluded)
    } finally {
      await other.drop()
    }

    // A holdout of one hour is spread over the hour, its flagged rows marked.
    const hour = { from: new Date(DAY0 + 6 * DAY_MS + 10 * 3_600_000), to: new Date(DAY0 + 6 * DAY_MS + 11 * 3_600_000) }
    const holdout = await history.holdoutSet(hour, 20)
    expect(holdout.rows).toHaveLength(20)
    expect(holdout.windowEnd!.getTime() - holdout.windowStart!.getTime()).toBeGreaterThan(30 * 60_000)
    expect(holdout.flagged).toEqual(holdout.eventIds.map((id) => indexOf(id) % 10 === 3))
    expect(holdout.flagged.some(Boolean)).toBe(true)
  })

  it('reads a window whole when flagged entities are nearly all of it, and takes the same sample the index would', async () => {
    // 7 days, 2,000 events a day, 49 of 50 sources flagged: 280 rows left, and the index would read through nearly all 14,000 for 200 of them.
    const perDay = 2000
    const records = Array.from({ length: 7 * perDay }, (_, i) => featureRecord(i, DAY0 + i * (DAY_MS / perDay), `10.5.0.${i % 50}`))
    const history = createFeatureHistory(db.pool)
    await history.write(records)
    await db.pool.query(`INSERT INTO flagged_entities (entity_kind, entity_id, flagged_from, reason, source)
      SELECT 'source.ip', '10.5.0.' || n, $1, 'sigma hit', 'sigma:r4' FROM generate_series(1, 49) n`, [new Date(DAY0)])
    const window = { from: new Date(DAY0), to: new Date(DAY0 + 7 * DAY_MS) }
    const reads = recordingPool(db.pool)
    const set = await createFeatureHistory(reads.pool).trainingSet(200, window)
    expect(reads.sql.some((sql) => sql.includes('MATERIALIZED'))).toBe(true) // read whole, not through the index
    expect(set.eventIds).toEqual(firstByKey(records.filter((_, i) => i % 50 === 0).map((r) => r.eventId), 200))
    expect(set.flaggedCountShare).toBeLessThan(1)
    expect(set.excluded).toBeGreaterThan(12_000) // 13,720
    expect(set.excluded).toBeLessThan(15_000)
  })

  it('splits the newest history into a holdout, flagged rows kept and marked', async () => {
    const history = createFeatureHistory(db.pool)
    await history.write(Array.from({ length: 100 }, (_, i) => featureRecord(i, DAY0 + i * 60_000, `10.2.0.${i % 4}`)))
    await db.pool.query(`INSERT INTO flagged_entities (entity_kind, entity_id, flagged_from, reason, source) VALUES ('source.ip', '10.2.0.1', $1, 'sigma hit', 'sigma:r2')`,
      [new Date(DAY0 + 95 * 60_000)])
    const windows = (await history.windows(60 * 60_000, 10 * 60_000))!
    expect(windows.holdout.to.getTime()).toBe(DAY0 + 99 * 60_000 + 1)
    expect(windows.holdout.from.getTime()).toBe(DAY0 + 89 * 60_000)
    expect(windows.training).toEqual({ from: new Date(DAY0 + 29 * 60_000), to: new Date(DAY0 + 89 * 60_000) })

    const holdout = await history.holdoutSet(windows.holdout, 1000)
    expect(holdout.eventIds).toEqual(Array.from({ length: 11 }, (_, k) => 89 + k).map((i) => `raw-logs/${i % 12}/${i}`))
    expect(holdout.flagged).toEqual(Array.from({ length: 11 }, (_, k) => (89 + k) % 4 === 1))
    const training = await history.trainingSet(1000, windows.training)
    expect(training.eventIds).toHaveLength(60) // the flag starts after the training window
    expect(training.excluded).toBe(0)
  })
})

describe('feature history migration', () => {
  it('moves what 001 stored into day partitions', async () => {
    const db = await freshDatabase(inject('stack').PG_URL, { migrate: false })
    const only001 = mkdtempSync(join(tmpdir(), 'trainer-001-'))
    try {
      copyFileSync(join(TRAINER_MIGRATIONS, '001_feature_history.sql'), join(only001, '001_feature_history.sql'))
      await migrateTrainerDatabase(db.pool, silentLog, only001)
      const old = Array.from({ length: 30 }, (_, i) => featureRecord(i, DAY0 + i * 3 * 3_600_000))
      for (const r of old) {
        await db.pool.query(
          `INSERT INTO feature_history (event_id, entity_kind, entity_id, event_time, received_at, family, action, feature_names, vector)
           VALUES ($1, $2, $3, $4, $5, 'sshd', 'ssh_login_failed', $6, $7)`,
          [r.eventId, r.entity.kind, r.entity.id, new Date(r.eventTime), new Date(r.receivedAt), featureNames, toFeatureArray(r.vector)])
      }
      await migrateTrainerDatabase(db.pool, silentLog)
      const history = createFeatureHistory(db.pool)
      expect((await history.stats()).rows).toBe(30)
      expect(await history.partitionDays()).toHaveLength(4) // 30 events 3 h apart span 4 days
      const set = await history.trainingSet(100)
      expect(set.eventIds).toEqual(old.map((r) => r.eventId))
      expect(set.rows).toEqual(old.map((r) => toFeatureArray(r.vector)))
      expect(await history.write(old)).toEqual({ stored: 0, duplicates: 30 })
    } finally {
      rmSync(only001, { recursive: true, force: true })
      await db.drop()
    }
  })

  it('marks no row stored before 007 as redriven, and marks redriven rows in the days made before it as in those made after', async () => {
    const db = await freshDatabase(inject('stack').PG_URL, { migrate: false })
    const before007 = mkdtempSync(join(tmpdir(), 'trainer-006-'))
    try {
      for (const file of readdirSync(TRAINER_MIGRATIONS).filter((f) => f < '007')) copyFileSync(join(TRAINER_MIGRATIONS, file), join(before007, file))
      await migrateTrainerDatabase(db.pool, silentLog, before007)
      // What a trainer before 007 stored, in day 0's partition, made before the column was.
      const old = Array.from({ length: 10 }, (_, i) => featureRecord(i, DAY0 + i * 60_000))
      await db.pool.query("SELECT ensure_day_partitions('feature_history', $1::date[])", [[new Date(DAY0).toISOString().slice(0, 10)]])
      for (const r of old) {
        await db.pool.query(
          `INSERT INTO feature_history (event_id, entity_kind, entity_id, event_time, received_at, family, action, feature_set, vector)
           VALUES ($1, $2, $3, $4, $5, 'sshd', 'ssh_login_failed', $6, $7)`,
          [r.eventId, r.entity.kind, r.entity.id, new Date(r.eventTime), new Date(r.receivedAt), featureSetId(featureNames), toFeatureArray(r.vector)])
      }

      await migrateTrainerDatabase(db.pool, silentLog)
      const history = createFeatureHistory(db.pool)
      expect(await redrivenIds(db)).toEqual([])
      // Redriven records in day 0 (its partition older than the column) and day 1 (a partition made now).
      const again = [featureRecord(100, DAY0 + 30 * 60_000), featureRecord(101, DAY0 + DAY_MS)]
      const ordinary = featureRecord(102, DAY0 + DAY_MS + 1)
      await history.store([...again.map((r, k) => delivered(r, `raw-logs.dlq/0/${k}`)), delivered(ordinary)])
      expect(await redrivenIds(db)).toEqual(again.map((r) => r.eventId))
      expect(await history.partitionDays()).toHaveLength(2)
      const set = await history.trainingSet(100)
      expect(set.eventIds).toEqual([...old, ordinary].map((r) => r.eventId))
      expect(set.excludedRedriven).toBe(2)
    } finally {
      rmSync(before007, { recursive: true, force: true })
      await db.drop()
    }
  })
})
