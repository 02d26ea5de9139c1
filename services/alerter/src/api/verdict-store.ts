import { inTransaction, type PgClient, type PgPool, TransientError } from '@vigil/platform'
import { withdrawNotifications } from '../sinks/outbox.ts'
import type { VerdictBody, VerdictKind } from './requests.ts'

/**
 * An analyst's verdict on an alert, as stored and as published on the feedback topic (the shape
 * of the proposed schemas/avro/feedback.avsc). Times are epoch milliseconds. The entity, detector,
 * model version and event-time span are copied from the alert, so the trainer needs nothing else.
 */
export interface FeedbackVerdict {
  alertId: string
  verdict: VerdictKind
  note: string | null
  analyst: string | null
  detector: string
  modelVersion: string
  entity: { kind: string; id: string }
  firstSeen: number
  lastSeen: number
  decidedAt: number
}

/** Sends a verdict to the feedback topic; resolves once the broker acknowledged it. main.ts implements it with the producer. */
export type PublishVerdict = (verdict: FeedbackVerdict) => Promise<void>

interface VerdictRow {
  alert_id: string
  verdict: VerdictKind
  note: string | null
  analyst: string | null
  detector: string
  model_version: string
  entity_kind: string
  entity_id: string
  first_seen: Date
  last_seen: Date
  decided_at: Date
}

const RETURNING = 'alert_id, verdict, note, analyst, detector, model_version, entity_kind, entity_id, first_seen, last_seen, decided_at'

/** The source a confirmed alert's flag carries in flagged_entities (which the trainer reads). */
export const flagSource = (alertId: string) => `alert:${alertId}`

/**
 * Verdicts in Postgres, one per alert (the latest). A verdict resolves its alert. A true positive
 * also flags the alert's entity over the alert's event-time span in flagged_entities, which the
 * trainer reads to leave that activity out of training; a false positive withdraws the flag an
 * earlier true positive on the same alert set. All in the verdict's transaction.
 */
export function createVerdictStore(pool: PgPool) {
  return {
    /** Stores the verdict on `alertId`; null when there is no such alert. */
    async record(alertId: string, body: VerdictBody): Promise<FeedbackVerdict | null> {
      return inTransaction(pool, async (client) => {
        // FOR UPDATE: an alert that retention is deleting is waited for and then not found (null, a
        // 404), where the verdict's foreign key would fail once the delete commits (a 500).
        const { rows } = await client.query<VerdictRow>(
          `INSERT INTO alert_verdicts (alert_id, verdict, note, analyst, detector, model_version, entity_kind, entity_id, first_seen, last_seen, decided_at, published)
           SELECT alert_id, $2, $3, $4, detector, model_version, entity_kind, entity_id, first_seen, last_seen, date_trunc('milliseconds', clock_timestamp()), false
           FROM alerts WHERE alert_id = $1 FOR UPDATE
           ON CONFLICT (alert_id) DO UPDATE SET verdict = EXCLUDED.verdict, note = EXCLUDED.note, analyst = EXCLUDED.analyst,
             first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen, decided_at = EXCLUDED.decided_at, published = false
           RETURNING ${RETURNING}`,
          [alertId, body.verdict, body.note ?? null, body.analyst ?? null],
        )
        const row = rows[0]
        if (!row) return null
        await client.query(
          `UPDATE alerts SET status = 'resolved', resolved_at = coalesce(resolved_at, now()), resolution = $2 WHERE alert_id = $1`,
          [alertId, body.verdict],
        )
        await withdrawNotifications(client, [alertId], body.verdict)
        await updateTrainerFlag(client, row)
        return toVerdict(row)
      })
    },

    /** Verdicts the feedback topic has not acknowledged yet, oldest first. */
    async unpublished(limit = 100): Promise<FeedbackVerdict[]> {
      const { rows } = await pool.query<VerdictRow>(
        `SELECT ${RETURNING} FROM alert_verdicts WHERE NOT published ORDER BY decided_at LIMIT $1`, [limit],
      )
      return rows.map(toVerdict)
    },

    /** Marks this verdict published, unless a newer one replaced it meanwhile (that one still waits). */
    async markPublished(verdict: FeedbackVerdict): Promise<void> {
      await pool.query('UPDATE alert_verdicts SET published = true WHERE alert_id = $1 AND decided_at = $2', [verdict.alertId, new Date(verdict.decidedAt)])
    },

    /** How many verdicts of each kind each detector has. */
    async counts(): Promise<Array<{ detector: string; verdict: VerdictKind; count: number }>> {
      const { rows } = await pool.query<{ detector: string; verdict: VerdictKind; count: string }>(
        'SELECT detector, verdict, count(*) AS count FROM alert_verdicts GROUP BY detector, verdict ORDER BY detector, verdict',
      )
      return rows.map((r) => ({ detector: r.detector, verdict: r.verdict, count: Number(r.count) }))
    },
  }
}

export type VerdictStore = ReturnType<typeof createVerdictStore>

/** The write to flagged_entities (a shared table: schemas/postgres/001_flagged_entities.sql). */
async function updateTrainerFlag(client: PgClient, v: VerdictRow): Promise<void> {
  try {
    if (v.verdict === 'true_positive') {
      await client.query(
        `INSERT INTO flagged_entities (entity_kind, entity_id, flagged_from, flagged_to, reason, source)
         VALUES ($1, $2, $3, $4, 'alert confirmed', $5)
         ON CONFLICT (entity_kind, entity_id, source) DO UPDATE SET flagged_from = EXCLUDED.flagged_from, flagged_to = EXCLUDED.flagged_to, reason = EXCLUDED.reason`,
        [v.entity_kind, v.entity_id, v.first_seen, v.last_seen, flagSource(v.alert_id)],
      )
    } else {
      await client.query('DELETE FROM flagged_entities WHERE entity_kind = $1 AND entity_id = $2 AND source = $3', [v.entity_kind, v.entity_id, flagSource(v.alert_id)])
    }
  } catch (cause) {
    if ((cause as { code?: string }).code !== '42P01') throw cause // undefined_table
    throw new TransientError('FLAGGED_ENTITIES_MISSING', 'the flagged_entities table is not in this database: run the alerter\'s migrations', { cause })
  }
}

function toVerdict(r: VerdictRow): FeedbackVerdict {
  return {
    alertId: r.alert_id,
    verdict: r.verdict,
    note: r.note,
    analyst: r.analyst,
    detector: r.detector,
    modelVersion: r.model_version,
    entity: { kind: r.entity_kind, id: r.entity_id },
    firstSeen: r.first_seen.getTime(),
    lastSeen: r.last_seen.getTime(),
    decidedAt: r.decided_at.getTime(),
  }
}
