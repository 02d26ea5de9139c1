import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { from as copyFrom } from 'pg-copy-streams'
import { inTransaction, PoisonMessageError, type PgClient, type PgPool } from '@vigil/platform'
import { encodeCopyBinary, type CopyValue } from './copy-binary.ts'
import { historyError, isMissingPartition } from './pg-errors.ts'

export type { CopyValue }

/** What a history table stores and how a record becomes its row. */
export interface HistoryTableSpec<T> {
  /** a table partitioned by RANGE on event_time, one partition per UTC day (see migrations/002) */
  table: string
  /** the columns COPY fills, in the order `values` gives them; the rest (stored_at) take their defaults */
  columns: readonly string[]
  /** one record's values in `columns` order (numbers go as float8); throws a PoisonMessageError for a record no row can hold */
  values(record: T): CopyValue[]
  /** the record's event time, ms since epoch: it picks the day partition */
  eventTime(record: T): number
}

export interface StoreResult {
  /** rows new to the table */
  stored: number
  /** records already stored (a redelivery), or repeated within the batch */
  duplicates: number
}

export interface HistoryStats {
  rows: number
  /** when the newest row was stored */
  lastStoredAt: Date | null
}

/** An interval of event time, from inclusive, to exclusive. */
export interface TimeWindow {
  from: Date
  to: Date
}

/**
 * A day-partitioned history table written with COPY. COPY cannot skip a row that is already there,
 * so a batch goes into a session-local staging table first and moves over with INSERT … SELECT … ON
 * CONFLICT DO NOTHING, in one transaction: a redelivered record is stored once. The same transaction
 * counts the new rows per day in history_day_counts, which answers `stats()` without a scan.
 */
export function createHistoryTable<T>(pool: PgPool, spec: HistoryTableSpec<T>) {
  const { table } = spec
  const staging = `${table}_staging`
  // Days this process knows to have a partition; another instance's retention may drop one, which a store notices and repairs.
  const knownDays = new Set<string>()
  const clientsWithStaging = new WeakSet<PgClient>()

  async function ensureDays(days: Iterable<string>): Promise<string[]> {
    const missing = [...new Set(days)].filter((d) => !knownDays.has(d)).sort()
    if (missing.length === 0) return []
    const { rows } = await pool.query<{ created: string }>('SELECT ensure_day_partitions($1, $2::date[]) AS created', [table, missing])
    for (const d of missing) knownDays.add(d)
    return rows.map((r) => r.created)
  }

  // The staging table lives as long as its connection, so it is made before the transaction.
  const withStaging = async (client: PgClient) => {
    if (clientsWithStaging.has(client)) return
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${staging} (LIKE ${table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`)
    clientsWithStaging.add(client)
  }
  const copyAndMerge = (data: Buffer): Promise<number> => inTransaction(pool, async (client) => {
    await pipeline(Readable.from([data]), client.query(copyFrom(`COPY ${staging} (${spec.columns.join(', ')}) FROM STDIN (FORMAT binary)`)))
    const { rows } = await client.query<{ stored: number }>(MERGE_SQL(table, staging), [table])
    return rows[0]!.stored
  }, { beforeBegin: withStaging })

  return {
    table,

    /** Stores a batch; a record stored before is skipped. Creates the partitions of the days it touches. */
    async write(records: readonly T[]): Promise<StoreResult> {
      if (records.length === 0) return { stored: 0, duplicates: 0 }
      const data = encodeCopyBinary(records.map(spec.values))
      const days = new Set(records.map((r) => dayOf(spec.eventTime(r))))
      for (let attempt = 1; ; attempt++) {
        try {
          await ensureDays(days)
          const stored = await copyAndMerge(data)
          return { stored, duplicates: records.length - stored }
        } catch (err) {
          if (attempt === 1 && isMissingPartition(err)) {
            for (const d of days) knownDays.delete(d)
            continue
          }
          throw historyError(err, `storing ${records.length} rows in ${table}`)
        }
      }
    },

    /** Creates the partitions of `days` (YYYY-MM-DD, UTC) that are missing; returns the ones it created. */
    ensureDays,

    /** Drops the partitions of days that ended before `cutoff`'s UTC day, and their counts; returns their names. */
    async dropDaysBefore(cutoff: Date): Promise<string[]> {
      const day = dayOf(cutoff.getTime())
      const { rows } = await pool.query<{ dropped: string }>('SELECT drop_day_partitions_before($1, $2::date) AS dropped', [table, day])
      for (const d of knownDays) if (d < day) knownDays.delete(d)
      return rows.map((r) => r.dropped)
    },

    /** The days that have a partition, oldest first (YYYY-MM-DD). */
    async partitionDays(): Promise<string[]> {
      const { rows } = await pool.query<{ relname: string }>(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY c.relname`, [table])
      return rows.map((r) => r.relname.slice(-8)).map((d) => `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`)
    },

    async stats(): Promise<HistoryStats> {
      const { rows } = await pool.query<{ n: string; last: Date | null }>(
        'SELECT coalesce(sum(rows), 0) AS n, max(last_stored_at) AS last FROM history_day_counts WHERE table_name = $1', [table])
      return { rows: Number(rows[0]!.n), lastStoredAt: rows[0]!.last }
    },

    async rowsStoredSince(since: Date): Promise<number> {
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE stored_at > $1`, [since])
      return Number(rows[0]!.n)
    },

    /**
     * The newest event time stored, but never later than now: the reference for windows and
     * retention, so a replay of last year's logs keeps its history and one line stamped in the
     * future cannot push every other day out. `where` (an SQL condition on the table's columns)
     * takes the newest of the rows it holds only.
     */
    async newestEventTime(where?: string): Promise<Date | null> {
      const { rows } = await pool.query<{ t: Date | null }>(`SELECT least(now(), max(event_time)) AS t FROM ${table}${where ? ` WHERE ${where}` : ''}`)
      return rows[0]!.t
    },
  }
}

export type HistoryTable = ReturnType<typeof createHistoryTable>

const MERGE_SQL = (table: string, staging: string) => `
  WITH inserted AS (
    INSERT INTO ${table} SELECT * FROM ${staging} ON CONFLICT DO NOTHING RETURNING event_time
  ), per_day AS (
    SELECT (event_time AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM inserted GROUP BY 1
  ), counted AS (
    -- in day order, so two batches that touch the same days lock their counts in the same order
    INSERT INTO history_day_counts (table_name, day, rows, last_stored_at)
    SELECT $1, day, n, now() FROM per_day ORDER BY day
    ON CONFLICT (table_name, day) DO UPDATE SET rows = history_day_counts.rows + excluded.rows, last_stored_at = excluded.last_stored_at
  )
  SELECT coalesce(sum(n), 0)::int AS stored FROM per_day`

/** The UTC day of a time, YYYY-MM-DD. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

/** A record's time as a timestamptz value; one outside the years 1 to 9999 is garbage, not a time, and makes the record poison. */
export function timestampOf(ms: number, field: string): Date {
  const date = new Date(ms)
  const year = Number.isFinite(ms) ? date.getUTCFullYear() : NaN
  if (!(year >= 1 && year <= 9999)) throw new PoisonMessageError('HISTORY_TIME_OUT_OF_RANGE', `${field} ${ms} is not a time between the years 1 and 9999`)
  return date
}
