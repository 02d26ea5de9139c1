import type { PgPool } from '@vigil/platform'
import type { Score } from '@vigil/schemas'
import { createHistoryTable, timestampOf, type TimeWindow } from './history-table.ts'

export interface ScorePair {
  eventId: string
  eventTime: Date
  entity: { kind: string; id: string }
  /** the calibrated scores of the two versions */
  a: number
  b: number
}

const COLUMNS = ['event_id', 'model_version', 'entity_kind', 'entity_id', 'event_time', 'scored_at', 'family', 'action', 'score', 'raw_score'] as const

/**
 * Every score published, live and shadow, partitioned by day like the feature history: keyed by
 * event and model version, so the scores two versions gave the same event can be set side by side.
 */
export function createScoreHistory(pool: PgPool) {
  const table = createHistoryTable<Score>(pool, {
    table: 'score_history',
    columns: COLUMNS,
    eventTime: (s) => s.eventTime,
    values: (s) => [
      s.eventId, s.modelVersion, s.entity.kind, s.entity.id, timestampOf(s.eventTime, 'eventTime'), timestampOf(s.scoredAt, 'scoredAt'),
      s.family, s.action, s.score, s.rawScore,
    ],
  })

  return {
    ...table,

    /** Stores a batch with COPY, for a batch handler; a redelivered score (same event, same version) is stored once. */
    async store(scores: readonly Score[]): Promise<void> {
      await table.write(scores)
    },

    /** Events both versions scored in `window`, oldest first, at most `limit`: a shadow version beside the live one. */
    async pairedScores(versionA: string, versionB: string, window: TimeWindow, limit: number): Promise<ScorePair[]> {
      const { rows } = await pool.query<{ event_id: string; event_time: Date; entity_kind: string; entity_id: string; a: number; b: number }>(
        `SELECT a.event_id, a.event_time, a.entity_kind, a.entity_id, a.score AS a, b.score AS b
         FROM score_history a JOIN score_history b ON b.event_time = a.event_time AND b.event_id = a.event_id
         WHERE a.model_version = $1 AND b.model_version = $2 AND a.event_time >= $3 AND a.event_time < $4
         ORDER BY a.event_time, a.event_id LIMIT $5`, [versionA, versionB, window.from, window.to, limit])
      return rows.map((r) => ({ eventId: r.event_id, eventTime: r.event_time, entity: { kind: r.entity_kind, id: r.entity_id }, a: r.a, b: r.b }))
    },
  }
}

export type ScoreHistory = ReturnType<typeof createScoreHistory>
