import type { PgPool } from '@vigil/platform'
import { TransientError } from '@vigil/platform'
import { featureNames, toFeatureArray, type FeatureRecord } from '@vigil/schemas'

export interface HistoryStats {
  rows: number
  /** when the newest row was stored */
  lastStoredAt: Date | null
}

export interface TrainingSet {
  rows: number[][]
  featureNames: string[]
  windowStart: Date | null
  windowEnd: Date | null
}

/** The feature history in Postgres: what the trainer learns from. */
export function createFeatureHistory(pool: PgPool) {
  return {
    /** Stores a batch in one statement; a redelivered record is stored once. */
    async store(records: FeatureRecord[]): Promise<void> {
      if (records.length === 0) return
      try {
        await pool.query(
          `INSERT INTO feature_history (event_id, entity_kind, entity_id, event_time, received_at, family, action, feature_names, vector)
           SELECT e, k, i, to_timestamp(t / 1000.0), to_timestamp(r / 1000.0), f, a, $8::text[], string_to_array(v, ',')::double precision[]
           FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::text[], $7::text[], $9::text[]) AS x(e, k, i, t, r, f, a, v)
           ON CONFLICT (event_id) DO NOTHING`,
          [
            records.map((r) => r.eventId), records.map((r) => r.entity.kind), records.map((r) => r.entity.id),
            records.map((r) => r.eventTime), records.map((r) => r.receivedAt), records.map((r) => r.family),
            records.map((r) => r.event.event.action), featureNames, records.map((r) => toFeatureArray(r.vector).join(',')),
          ],
        )
      } catch (cause) {
        throw new TransientError('HISTORY_UNAVAILABLE', `postgres: ${(cause as Error).message}`, { cause })
      }
    },

    async stats(): Promise<HistoryStats> {
      const { rows } = await pool.query<{ n: string; last: Date | null }>('SELECT count(*) AS n, max(stored_at) AS last FROM feature_history')
      return { rows: Number(rows[0]!.n), lastStoredAt: rows[0]!.last }
    },

    async rowsStoredSince(since: Date): Promise<number> {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM feature_history WHERE stored_at > $1', [since])
      return Number(rows[0]!.n)
    },

    /** The newest `limit` rows, with the current feature names (rows stored under other names are left out). */
    async trainingSet(limit: number): Promise<TrainingSet> {
      const { rows } = await pool.query<{ vector: number[]; event_time: Date }>(
        `SELECT vector, event_time FROM feature_history WHERE feature_names = $1::text[] ORDER BY stored_at DESC, event_id LIMIT $2`,
        [featureNames, limit])
      const times = rows.map((r) => r.event_time.getTime())
      return {
        rows: rows.map((r) => r.vector.map(Number)),
        featureNames: [...featureNames],
        windowStart: times.length ? new Date(Math.min(...times)) : null,
        windowEnd: times.length ? new Date(Math.max(...times)) : null,
      }
    },
  }
}

export type FeatureHistory = ReturnType<typeof createFeatureHistory>
