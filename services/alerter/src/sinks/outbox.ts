import type { PgPool } from '@vigil/platform'
import type { Alert } from '@vigil/schemas'
import { routingOf } from './render-alert.ts'
import type { SinkName } from './sink.ts'

/** A pool or a client inside a transaction: enqueueing can join the transaction that stores the alert. */
export type Queryable = Pick<PgPool, 'query'>

/** Alert severities by name, as OCSF numbers them (severity_id). */
export const severityIds = { low: 2, medium: 3, high: 4, critical: 5 } as const
export type Severity = keyof typeof severityIds

/** A configured sink and the least severe alert it receives. */
export interface SinkRoute {
  sink: SinkName
  minSeverityId: number
}

/**
 * Puts each alert in the outbox once for every sink whose minimum severity it reaches. An alert
 * already there for a sink (a redelivered score, a replay) is left as it is, delivered or not; so
 * an alert enqueued again after its severity rose gains rows only for the sinks it newly reaches.
 * Returns how many rows each sink gained.
 */
export async function enqueueAlerts(db: Queryable, alerts: Alert[], routes: SinkRoute[]): Promise<Map<SinkName, number>> {
  const alertIds: string[] = []
  const sinks: string[] = []
  for (const alert of alerts) {
    const { alertId, severityId } = routingOf(alert)
    for (const route of routes) {
      if (severityId < route.minSeverityId) continue
      alertIds.push(alertId)
      sinks.push(route.sink)
    }
  }
  const added = new Map<SinkName, number>()
  if (alertIds.length === 0) return added
  const { rows } = await db.query<{ sink: SinkName }>(
    `INSERT INTO sink_outbox (alert_id, sink) SELECT * FROM unnest($1::text[], $2::text[])
     ON CONFLICT (alert_id, sink) DO NOTHING RETURNING sink`,
    [alertIds, sinks],
  )
  for (const { sink } of rows) added.set(sink, (added.get(sink) ?? 0) + 1)
  return added
}

/** Resolutions that say an alert was noise: its notifications still waiting are withdrawn, not sent. */
const NOISE_RESOLUTIONS: ReadonlySet<string> = new Set(['suppressed', 'false_positive'])

/**
 * Withdraws the notifications of `alertIds` that are still waiting, in the transaction that
 * resolved the alerts as noise (`resolution`, one of NOISE_RESOLUTIONS; any other withdraws nothing).
 * A delivery already under way finishes; its outcome is then not recorded over the withdrawal.
 */
export async function withdrawNotifications(db: Queryable, alertIds: string[], resolution: string): Promise<void> {
  if (alertIds.length === 0 || !NOISE_RESOLUTIONS.has(resolution)) return
  await db.query(
    `UPDATE sink_outbox SET status = 'withdrawn', withdrawn_at = now(), locked_until = NULL, last_error = $2
     WHERE alert_id = ANY($1::text[]) AND status = 'pending'`,
    [alertIds, `withdrawn: the alert was resolved as ${resolution} before it was sent`],
  )
}

/** A row a dispatcher holds until its claim lapses: the alert as stored now, and the attempt number, which is also the claim's token. */
export interface ClaimedNotification {
  alertId: string
  sink: SinkName
  attempt: number
  alert: Alert
  eventCount: number
}

/** The dispatchers' side of the outbox. Every update of a claimed row checks the claim is still this one. */
export function createOutbox(pool: PgPool) {
  const settle = async (claim: ClaimedNotification, set: string, params: unknown[] = []): Promise<boolean> => {
    const result = await pool.query(
      `UPDATE sink_outbox SET locked_until = NULL, ${set}
       WHERE alert_id = $1 AND sink = $2 AND attempts = $3 AND status = 'pending'`,
      [claim.alertId, claim.sink, claim.attempt, ...params],
    )
    return result.rowCount === 1
  }

  return {
    /**
     * Claims the sink's most overdue row for `leaseMs`. SKIP LOCKED lets instances claim side by side,
     * each a different row; a claim that lapses (its instance died) makes the row due again.
     */
    async claim(sink: SinkName, leaseMs: number): Promise<ClaimedNotification | null> {
      const { rows } = await pool.query<{ alert_id: string; attempts: number; body: Alert; event_count: number }>(
        `WITH next AS (
           SELECT alert_id, sink FROM sink_outbox
            WHERE sink = $1 AND status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until <= now())
            ORDER BY next_attempt_at
            LIMIT 1
            FOR UPDATE SKIP LOCKED)
         UPDATE sink_outbox o SET attempts = o.attempts + 1, locked_until = now() + $2 * interval '1 millisecond'
           FROM next, alerts a
          WHERE o.alert_id = next.alert_id AND o.sink = next.sink AND a.alert_id = o.alert_id
         RETURNING o.alert_id, o.attempts, a.body, a.event_count`,
        [sink, leaseMs],
      )
      const row = rows[0]
      return row ? { alertId: row.alert_id, sink, attempt: row.attempts, alert: row.body, eventCount: row.event_count } : null
    },

    /** False when the claim had lapsed and another dispatcher took the row. */
    markDelivered: (claim: ClaimedNotification) => settle(claim, 'status = \'delivered\', delivered_at = now()'),

    scheduleRetry: (claim: ClaimedNotification, delayMs: number, error: string) =>
      settle(claim, 'next_attempt_at = now() + $4 * interval \'1 millisecond\', last_error = $5', [delayMs, error]),

    markFailed: (claim: ClaimedNotification, error: string) => settle(claim, 'status = \'failed\', failed_at = now(), last_error = $4', [error]),

    /** Makes every row of the sink waiting out a backoff due now (the sink answers again); returns how many. */
    async expedite(sink: SinkName): Promise<number> {
      const result = await pool.query(
        `UPDATE sink_outbox SET next_attempt_at = now()
         WHERE sink = $1 AND status = 'pending' AND next_attempt_at > now() AND (locked_until IS NULL OR locked_until <= now())`,
        [sink],
      )
      return result.rowCount ?? 0
    },

    /** Rows not yet delivered nor failed, and the age of the oldest, in seconds. */
    async backlog(sink: SinkName): Promise<{ pending: number; oldestAgeSeconds: number }> {
      const { rows } = await pool.query<{ pending: number; age: number | null }>(
        `SELECT count(*)::int AS pending, extract(epoch FROM now() - min(enqueued_at))::float8 AS age
         FROM sink_outbox WHERE sink = $1 AND status = 'pending'`,
        [sink],
      )
      return { pending: rows[0]?.pending ?? 0, oldestAgeSeconds: rows[0]?.age ?? 0 }
    },

    /** Pending rows of sinks that are no longer configured: nothing will deliver them. */
    async stranded(configured: SinkName[]): Promise<Array<{ sink: string; pending: number }>> {
      const { rows } = await pool.query<{ sink: string; pending: number }>(
        `SELECT sink, count(*)::int AS pending FROM sink_outbox WHERE status = 'pending' AND sink <> ALL($1::text[]) GROUP BY sink ORDER BY sink`,
        [configured],
      )
      return rows
    },
  }
}

export type Outbox = ReturnType<typeof createOutbox>
