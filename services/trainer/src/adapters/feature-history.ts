import { createHash } from 'node:crypto'
import { REDRIVEN_FROM_HEADER, type DeliveredMessage, type PgPool } from '@vigil/platform'
import { featureNames as currentFeatureNames, toFeatureArray, type FeatureRecord } from '@vigil/schemas'
import { createHistoryTable, timestampOf, type HistoryStats, type StoreResult, type TimeWindow } from './history-table.ts'

export type { HistoryStats, StoreResult, TimeWindow }

export interface TrainingSet {
  /** feature vectors in `featureNames` order, oldest first */
  rows: number[][]
  /** the event id of each row */
  eventIds: string[]
  featureNames: string[]
  /** event times of the oldest and newest row */
  windowStart: Date | null
  windowEnd: Date | null
  /** rows of the window left out because their entity was flagged in it: counted, or estimated when `flaggedCountShare` is below 1 */
  excluded: number
  /** rows of the window left out because they came of a redriven dead letter (those of a flagged entity count in `excluded` only, when flagged rows are left out too) */
  excludedRedriven: number
  /** the share of the window `excluded` was counted on: 1 for all of it; below it, a big window's count scaled up from a uniform sample of it (spreadRows) */
  flaggedCountShare: number
  /** trainingDataHash of the rows */
  dataHash: string
}

export interface HoldoutSet {
  rows: number[][]
  eventIds: string[]
  /** whether each row's entity was flagged in the window: the rows a good model scores high */
  flagged: boolean[]
  featureNames: string[]
  windowStart: Date | null
  windowEnd: Date | null
}

/** Where training ends and the holdout (the most recent history) begins. */
export interface HistoryWindows {
  training: TimeWindow
  holdout: TimeWindow
}

const COLUMNS = ['event_id', 'entity_kind', 'entity_id', 'event_time', 'received_at', 'family', 'action', 'feature_set', 'vector', 'redriven'] as const

/** A feature record as the history stores it: with whether it came of a redriven dead letter. */
interface HistoryEntry {
  record: FeatureRecord
  redriven: boolean
}

/**
 * A row whose entity has a flag (a confirmed alert, a Sigma hit) overlapping the window $2..$3:
 * it shows an attack, not what normal looks like, and stays out of training. Unless an analyst
 * called that detector's alert on the entity a false positive over the flag's span: then it is
 * what normal looks like, and the model should learn it.
 */
const FLAGGED_IN_WINDOW = `EXISTS (
  SELECT 1 FROM flagged_entities f
  WHERE f.entity_kind = h.entity_kind AND f.entity_id = h.entity_id
    AND f.flagged_from < $3 AND coalesce(f.flagged_to, 'infinity') >= $2
    AND NOT EXISTS (
      SELECT 1 FROM analyst_verdicts v
      WHERE v.verdict = 'false_positive' AND v.entity_kind = f.entity_kind AND v.entity_id = f.entity_id AND v.detector = f.source
        AND v.first_seen <= coalesce(f.flagged_to, 'infinity') AND v.last_seen >= f.flagged_from))`

/** Rows of the current feature set ($1) in the window $2..$3. */
const IN_WINDOW = 'h.feature_set = $1 AND h.event_time >= $2 AND h.event_time < $3'

/**
 * A row's place in a sample of any window: the first 32 bits of md5 of its event id, as a signed
 * integer, indexed (migration 008). A window's first rows in this order are a uniform sample of it.
 */
const SAMPLE_KEY = "('x' || substr(md5(h.event_id), 1, 8))::bit(32)::integer"
/** Rows of a big window read to count its flagged rows, per training row wanted. */
const CENSUS_MARGIN = 4
/**
 * How much dearer a row read through the sample key's index is than one of a whole-window scan (a
 * random heap read and a flagged check each): measured on a 700k-row week with 20,000 rows wanted,
 * 90% flagged took 1.65 s through the index and 0.64 s scanned whole, 98.8% took 6.0 s and 2.3 s.
 */
const RANDOM_READ_COST = 4

interface HistoryRow { event_id: string; event_time: Date; vector: number[]; flagged?: boolean }
/** Which rows of a window a set leaves out, and whether it marks the flagged ones (a holdout, which needs no count of what it left out). */
interface RowFilters { excludeFlagged: boolean; excludeRedriven: boolean; markFlagged: boolean }
interface SpreadRows { rows: HistoryRow[]; excludedFlagged: number; excludedRedriven: number; flaggedCountShare: number }

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
/** Rows by event time, ties by event id: the order trainingDataHash hashes them in. */
const oldestFirst = <R extends HistoryRow>(rows: R[]): R[] =>
  rows.sort((a, b) => a.event_time.getTime() - b.event_time.getTime() || compare(a.event_id, b.event_id))

/** The feature history in Postgres: what the trainer learns from, partitioned by day, written with COPY. */
export function createFeatureHistory(pool: PgPool, names: readonly string[] = currentFeatureNames) {
  const featureSet = featureSetId(names)
  let featureSetSaved: Promise<unknown> | null = null
  const table = createHistoryTable<HistoryEntry>(pool, {
    table: 'feature_history',
    columns: COLUMNS,
    eventTime: ({ record }) => record.eventTime,
    values: ({ record: r, redriven }) => [
      r.eventId, r.entity.kind, r.entity.id, timestampOf(r.eventTime, 'eventTime'), timestampOf(r.receivedAt, 'receivedAt'),
      r.family, r.event.event.action, featureSet, toFeatureArray(r.vector, names), redriven,
    ],
  })

  async function writeEntries(entries: readonly HistoryEntry[]): Promise<StoreResult> {
    featureSetSaved ??= pool.query('INSERT INTO feature_sets (id, names) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [featureSet, names])
      .catch((err) => {
        featureSetSaved = null
        throw err
      })
    await featureSetSaved
    return table.write(entries)
  }

  /**
   * Up to `limit` rows of `window` (all history without one) that pass `filters`, oldest first: the
   * window's first rows in SAMPLE_KEY order, which is a uniform sample of all of its event time, the
   * same for the same history. The newest rows, as before, trained a 7-day window's model on its last
   * minutes once traffic passed TRAIN_MAX_ROWS a week. On a big window the key's index (migration
   * 008) reads about as many rows as the sample takes, not the window; but where the filters leave
   * out most of it (an sshd feed whose sources a rule flagged), the index would read through nearly
   * all of it, a row at a time, to find `limit` others: the census says so first, and the window is
   * read whole and filtered instead (as counting its flagged rows did before).
   * Rows left out: the redriven ones are counted exactly (their own index); the flagged ones on the
   * census (flaggedCensus).
   */
  async function spreadRows(window: TimeWindow | undefined, limit: number, filters: RowFilters): Promise<SpreadRows> {
    const params = [featureSet, window?.from ?? '-infinity', window?.to ?? 'infinity']
    const census = filters.excludeFlagged ? await flaggedCensus(params, CENSUS_MARGIN * limit) : null
    const mostlyLeftOut = census !== null && census.share < 1 && census.read - census.flaggedRead < RANDOM_READ_COST * limit * census.share
    const select = `SELECT h.event_id, h.event_time, h.vector${filters.markFlagged ? `, ${FLAGGED_IN_WINDOW} AS flagged` : ''}, ${SAMPLE_KEY} AS sample_key
       FROM feature_history h
       WHERE ${IN_WINDOW} ${filters.excludeRedriven ? 'AND NOT h.redriven' : ''} ${filters.excludeFlagged ? `AND NOT ${FLAGGED_IN_WINDOW}` : ''}`
    const { rows } = await pool.query<HistoryRow>(mostlyLeftOut
      ? `WITH kept AS MATERIALIZED (${select}) SELECT * FROM kept ORDER BY sample_key, event_id LIMIT $4`
      : `${select} ORDER BY sample_key, h.event_id LIMIT $4`, [...params, limit])
    const redriven = filters.excludeRedriven && !filters.markFlagged ? await excludedRedrivenRows(params, filters.excludeFlagged) : 0
    return { rows: oldestFirst(rows), excludedFlagged: census?.flagged ?? 0, excludedRedriven: redriven, flaggedCountShare: census?.share ?? 1 }
  }

  /** Redriven rows of the window (of entities not flagged in it, when those are left out too): few, read through their own index. */
  async function excludedRedrivenRows(params: unknown[], flaggedApart: boolean): Promise<number> {
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM feature_history h WHERE ${IN_WINDOW} AND h.redriven ${flaggedApart ? `AND NOT ${FLAGGED_IN_WINDOW}` : ''}`, params)
    return Number(rows[0]!.n)
  }

  /**
   * Flagged rows of the window, counted in its first `rows` rows in SAMPLE_KEY order (a uniform
   * sample of it) and scaled up by the share of the key's range they cover: exact when they are the
   * whole window (share 1). `read` and `flaggedRead`: what the sample held.
   */
  async function flaggedCensus(params: unknown[], rows: number): Promise<{ flagged: number; share: number; read: number; flaggedRead: number }> {
    const { rows: [census] } = await pool.query<{ read: string; flagged: string; last_key: number | null }>(
      `SELECT count(*) AS read, count(*) FILTER (WHERE flagged) AS flagged, max(sample_key) AS last_key FROM (
         SELECT ${FLAGGED_IN_WINDOW} AS flagged, ${SAMPLE_KEY} AS sample_key FROM feature_history h
         WHERE ${IN_WINDOW} ORDER BY ${SAMPLE_KEY} LIMIT $4) s`, [...params, rows + 1])
    const read = Number(census!.read)
    const flaggedRead = Number(census!.flagged)
    // One row past `rows` tells a window of exactly `rows` (whole) from a bigger one.
    if (read <= rows || census!.last_key === null) return { flagged: flaggedRead, share: 1, read, flaggedRead }
    const share = (census!.last_key + 2 ** 31 + 1) / 2 ** 32
    return { flagged: Math.round(flaggedRead / share), share, read, flaggedRead }
  }

  /**
   * The newest event time of the rows that came with the stream, not of redriven dead letters (old
   * lines sent again, which the holdout and drift leave out): what the recent windows end at.
   */
  const newestStreamedEventTime = () => table.newestEventTime('NOT redriven')

  return {
    ...table,

    /** the feature names of the vectors it stores and reads, in order */
    featureNames: names,

    /** Stores a batch with COPY, none of it marked redriven; a redelivered record is stored once. Says how many rows were new. */
    write: (records: readonly FeatureRecord[]): Promise<StoreResult> => writeEntries(records.map((record) => ({ record, redriven: false }))),

    /** `write`, for a batch handler: a message that carries REDRIVEN_FROM_HEADER is stored marked redriven. */
    async store(messages: readonly DeliveredMessage<FeatureRecord>[]): Promise<void> {
      await writeEntries(messages.map((m) => ({ record: m.value, redriven: m.headers[REDRIVEN_FROM_HEADER] !== undefined })))
    },

    newestStreamedEventTime,

    /** The holdout: the newest `holdoutMs` of event time (streamed rows'); training: the `trainingMs` before it. Null without history. */
    async windows(trainingMs: number, holdoutMs: number): Promise<HistoryWindows | null> {
      const newest = await newestStreamedEventTime()
      if (!newest) return null
      const holdoutFrom = new Date(newest.getTime() - holdoutMs)
      return {
        training: { from: new Date(holdoutFrom.getTime() - trainingMs), to: holdoutFrom },
        holdout: { from: holdoutFrom, to: new Date(newest.getTime() + 1) },
      }
    },

    /**
     * Up to `limit` rows (of the current feature names) spread over `window`, or over the whole
     * history without one (see spreadRows), oldest first, leaving out what is known to be bad: every row of an entity flagged within the
     * window, and every row that came of a redriven dead letter (unless told to keep them: the
     * benchmark's "trained on everything" setting). `excludeRedriven` alone keeps the flagged rows
     * and leaves out the redriven ones (drift: traffic as it came, attacks included, but not lines
     * sent again late, whose windows were already trimmed).
     */
    async trainingSet(limit: number, window?: TimeWindow, { excludeFlagged = true, excludeRedriven = excludeFlagged }: { excludeFlagged?: boolean; excludeRedriven?: boolean } = {}): Promise<TrainingSet> {
      const { rows, excludedFlagged, excludedRedriven, flaggedCountShare } = await spreadRows(window, limit, { excludeFlagged, excludeRedriven, markFlagged: false })
      const set = {
        rows: rows.map((r) => r.vector.map(Number)),
        eventIds: rows.map((r) => r.event_id),
        featureNames: [...names],
        windowStart: rows[0]?.event_time ?? null,
        windowEnd: rows.at(-1)?.event_time ?? null,
        excluded: excludedFlagged,
        excludedRedriven,
        flaggedCountShare,
      }
      return { ...set, dataHash: trainingDataHash(set.featureNames, rows.map((r, i) => ({ eventId: r.event_id, eventTime: r.event_time, vector: set.rows[i]! }))) }
    },

    /**
     * Up to `limit` rows spread over `window` (the most recent history, see `windows`), flagged entities
     * included and marked; rows of redriven dead letters left out (late, on trimmed windows: they
     * would count as alerts of both versions, or as attacks ranked, for what the featurizer missed).
     */
    async holdoutSet(window: TimeWindow, limit: number): Promise<HoldoutSet> {
      const { rows } = await spreadRows(window, limit, { excludeFlagged: false, excludeRedriven: true, markFlagged: true })
      return {
        rows: rows.map((r) => r.vector.map(Number)),
        eventIds: rows.map((r) => r.event_id),
        flagged: rows.map((r) => r.flagged === true),
        featureNames: [...names],
        windowStart: rows[0]?.event_time ?? null,
        windowEnd: rows.at(-1)?.event_time ?? null,
      }
    },
  }
}

export type FeatureHistory = ReturnType<typeof createFeatureHistory>

/** The id a list of feature names is stored under: the first 16 hex digits of sha256 of the names joined by ','. Migration 002 computes the same. */
export function featureSetId(names: readonly string[]): string {
  return createHash('sha256').update(names.join(',')).digest('hex').slice(0, 16)
}

/**
 * sha256 over the feature names and each row's event id, event time (ms) and vector, in the order
 * given (trainingSet gives them oldest first, ties by event id): the same rows give the same hash.
 */
export function trainingDataHash(names: readonly string[], rows: ReadonlyArray<{ eventId: string; eventTime: Date; vector: readonly number[] }>): string {
  const hash = createHash('sha256').update(`${names.join(',')}\n`)
  for (const r of rows) hash.update(`${r.eventId}\t${r.eventTime.getTime()}\t${r.vector.join(',')}\n`)
  return hash.digest('hex')
}
