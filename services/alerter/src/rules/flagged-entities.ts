import { pgFailure, type PgPool } from '@vigil/platform'
import type { Entity } from '@vigil/schemas'
import { storableText } from '../adapters/storable-text.ts'

/** An entity a Sigma rule hit, for the trainer to leave out of training over that event time. */
export interface Flag {
  entity: Entity
  /** event time the flagged activity began and ended, ms */
  from: number
  to: number
  /** the rule's title */
  reason: string
  /** what flagged it: `sigma:<rule id>` (one row per entity and source, as the table has it) */
  source: string
}

export interface FlaggedEntities {
  /** Records the flags, widening an entity's existing flag from the same source to cover them. Idempotent. */
  flag(flags: readonly Flag[]): Promise<void>
}

/**
 * flagged_entities in Postgres (the trainer reads it; see schemas/postgres/001_flagged_entities.sql).
 * A value Postgres refuses (an event time out of its range) dead-letters the input; Postgres being
 * away holds it (platform's pgFailure).
 * A flag from the same source widens to cover the earliest and latest hit: a source flagged at 9:00
 * and again at 17:00 is left out of training for the whole day, the cautious reading.
 */
export function createFlaggedEntities(pool: Pick<PgPool, 'query'>): FlaggedEntities {
  return {
    async flag(flags) {
      // Stored as the alerts are (storable-text.ts), so a flag names the entity its alert names.
      const merged = mergeFlags(storableText(flags))
      if (merged.length === 0) return
      await pool.query(
        `INSERT INTO flagged_entities (entity_kind, entity_id, flagged_from, flagged_to, reason, source)
         SELECT kind, id, to_timestamp(f / 1000.0), to_timestamp(t / 1000.0), reason, source
         FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::text[], $6::text[]) AS u(kind, id, f, t, reason, source)
         ON CONFLICT (entity_kind, entity_id, source) DO UPDATE SET
           flagged_from = least(flagged_entities.flagged_from, EXCLUDED.flagged_from),
           flagged_to = CASE WHEN flagged_entities.flagged_to IS NULL THEN NULL ELSE greatest(flagged_entities.flagged_to, EXCLUDED.flagged_to) END,
           reason = EXCLUDED.reason`,
        [
          merged.map((f) => f.entity.kind), merged.map((f) => f.entity.id), merged.map((f) => f.from), merged.map((f) => f.to),
          merged.map((f) => f.reason), merged.map((f) => f.source),
        ],
      ).catch((cause: unknown) => {
        throw pgFailure(cause, { unavailable: 'FLAGGED_ENTITIES_UNAVAILABLE', rejected: 'FLAG_REJECTED_BY_STORE' })
      })
    },
  }
}

/** One flag per entity and source (an upsert may not touch a row twice), spanning them all. */
export function mergeFlags(flags: readonly Flag[]): Flag[] {
  const byKey = new Map<string, Flag>()
  for (const f of flags) {
    const key = `${f.entity.kind}\u0000${f.entity.id}\u0000${f.source}`
    const seen = byKey.get(key)
    byKey.set(key, seen === undefined ? { ...f } : { ...seen, from: Math.min(seen.from, f.from), to: Math.max(seen.to, f.to) })
  }
  return [...byKey.values()]
}
