import { startPeriodic, withAdvisoryLock, type Logger, type PeriodicJob, type PgPool } from '@vigil/platform'

export interface AlertRetentionOptions {
  /** days an alert is kept after its last activity; 0 keeps every alert */
  retentionDays: number
  /** how often to look, ms */
  intervalMs: number
  /** alerts deleted per statement, so no batch holds its locks for long */
  batchSize?: number
}

export interface AlertRetentionMetrics {
  /** app_alerts_deleted_total{status}: alerts deleted past retention, by the status they had */
  alertsDeleted: { inc(labels: { status: string }, value: number): void }
}

/** Alerts deleted, by the status they had. */
export type DeletedAlerts = Record<'open' | 'resolved', number>

const BATCH_SIZE = 500
const RETENTION_LOCK = 'alerter:alert-retention'

// An alert's last activity: its newest event (event time), and when its row was created, resolved
// or last changed (wall clock; updated_at is null on rows older than migration 012). Verbatim the
// expression of the index alerts_last_activity (migrations/012), which the search needs to use it.
const LAST_ACTIVITY = 'greatest(last_seen, created_at, resolved_at, updated_at)'

// The expired alerts, quietest first. Kept however old: an alert never published on `alerts` (it
// waits for its redelivery), one with a notification still pending (a dispatcher renders it from
// this row), and one whose verdict the feedback topic has not acknowledged. SKIP LOCKED passes over
// an alert another transaction holds: one that is being written is not expired. An alert's events
// and verdict go in the same statement; its outbox rows by their ON DELETE CASCADE (002), and a
// suppression it prompted stays, its alert_id set null (010).
const DELETE_EXPIRED_BATCH = `
  WITH expired AS (
    SELECT alert_id, status FROM alerts a
     WHERE ${LAST_ACTIVITY} < now() - make_interval(days => $1)
       AND published
       AND NOT EXISTS (SELECT 1 FROM sink_outbox o WHERE o.alert_id = a.alert_id AND o.status = 'pending')
       AND NOT EXISTS (SELECT 1 FROM alert_verdicts v WHERE v.alert_id = a.alert_id AND NOT v.published)
     ORDER BY ${LAST_ACTIVITY}
     LIMIT $2
     FOR UPDATE SKIP LOCKED
  ), events AS (
    DELETE FROM alert_events e USING expired x WHERE e.alert_id = x.alert_id
  ), verdicts AS (
    DELETE FROM alert_verdicts v USING expired x WHERE v.alert_id = x.alert_id
  )
  DELETE FROM alerts a USING expired x WHERE a.alert_id = x.alert_id
  RETURNING x.status`

/**
 * Deletes the alerts whose last activity is older than `retentionDays`, with their dependent rows,
 * one batch (one statement) at a time until none is left or `isStopping` says so; each batch is
 * counted as it commits. Null when another instance holds the retention lock (it is at it).
 */
export async function deleteExpiredAlerts(pool: PgPool, options: {
  retentionDays: number
  batchSize?: number
  metrics: AlertRetentionMetrics
  isStopping?: () => boolean
}): Promise<DeletedAlerts | null> {
  const deleted: DeletedAlerts = { open: 0, resolved: 0 }
  if (options.retentionDays <= 0) return deleted
  const batchSize = options.batchSize ?? BATCH_SIZE
  // The lock is a session's: the batches run on the connection that holds it.
  return withAdvisoryLock(pool, RETENTION_LOCK, async (client) => {
    for (;;) {
      if (options.isStopping?.()) break
      const batch = await client.query<{ status: keyof DeletedAlerts }>(DELETE_EXPIRED_BATCH, [options.retentionDays, batchSize])
      const byStatus: DeletedAlerts = { open: 0, resolved: 0 }
      for (const { status } of batch.rows) byStatus[status]++
      for (const status of ['open', 'resolved'] as const) {
        if (byStatus[status] === 0) continue
        deleted[status] += byStatus[status]
        options.metrics.alertsDeleted.inc({ status }, byStatus[status])
      }
      if (batch.rows.length < batchSize) break
    }
    return deleted
  })
}

/**
 * Deletes expired alerts at start and then every interval, on one instance at a time. Expiry runs
 * on Postgres' clock, not on event time as the trainer's history does: updated_at moves whenever an
 * alert is written, so an alert raised or folded into by a replay of old logs is as new as the replay.
 */
export function startAlertRetention(pool: PgPool, options: AlertRetentionOptions, deps: { log: Logger; metrics: AlertRetentionMetrics }): PeriodicJob {
  return startPeriodic('alert retention', options.intervalMs, async (isStopping) => {
    const deleted = await deleteExpiredAlerts(pool, { ...options, metrics: deps.metrics, isStopping })
    if (deleted && deleted.open + deleted.resolved > 0) deps.log.info({ deleted, retentionDays: options.retentionDays }, 'deleted alerts past retention')
  }, deps.log)
}
