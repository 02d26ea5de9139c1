import type { PgPool } from '@vigil/platform'
import type { Verdict } from '@vigil/schemas'

/**
 * Analysts' verdicts from the feedback topic, kept for training: the latest decision per alert wins,
 * so a redelivered or older verdict never overwrites a newer one.
 */
export function createAnalystVerdicts(pool: PgPool) {
  return {
    async store(verdicts: readonly Verdict[]): Promise<void> {
      if (verdicts.length === 0) return
      const column = <K extends keyof Verdict>(k: K) => verdicts.map((v) => v[k])
      await pool.query(
        `INSERT INTO analyst_verdicts (alert_id, verdict, detector, model_version, entity_kind, entity_id, first_seen, last_seen, decided_at)
         SELECT DISTINCT ON (alert_id) alert_id, verdict, detector, model_version, entity_kind, entity_id,
                to_timestamp(first_seen / 1000.0), to_timestamp(last_seen / 1000.0), to_timestamp(decided_at / 1000.0)
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[], $9::float8[])
           AS v(alert_id, verdict, detector, model_version, entity_kind, entity_id, first_seen, last_seen, decided_at)
         ORDER BY alert_id, decided_at DESC
         ON CONFLICT (alert_id) DO UPDATE SET verdict = excluded.verdict, decided_at = excluded.decided_at,
           first_seen = excluded.first_seen, last_seen = excluded.last_seen
         WHERE analyst_verdicts.decided_at <= excluded.decided_at`,
        [
          column('alertId'), column('verdict'), column('detector'), column('modelVersion'),
          verdicts.map((v) => v.entity.kind), verdicts.map((v) => v.entity.id), column('firstSeen'), column('lastSeen'), column('decidedAt'),
        ],
      )
    },
  }
}
