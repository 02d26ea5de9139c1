import { inTransaction, startPeriodic, withAdvisoryLock, type Logger, type PeriodicJob, type PgPool } from '@vigil/platform'

/**
 * Users an alert keeps (the alerts table's users column, migration 013): a password spray names a
 * new user with each event, and one row must stay small. The first ones named are kept.
 */
export const MAX_ALERT_USERS = 1000

/**
 * The users the evidence in the alert body of `table` names, as SQL (text[]): each event's
 * evidence.users, strings only. What the users column holds for a row written before it existed.
 */
export const evidenceUsersSql = (table: string) => `ARRAY(
  SELECT u #>> '{}'
  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${table}.body->'evidence') = 'array' THEN ${table}.body->'evidence' ELSE '[]' END) e,
       jsonb_array_elements(CASE WHEN jsonb_typeof(e->'users') = 'array' THEN e->'users' ELSE '[]' END) u
  WHERE jsonb_typeof(u) = 'string')`

/**
 * `users` (SQL text[]) each once, in the order first named, at most `limit` (SQL): what the users
 * column holds, and how usersNamedIn (schemas) orders them.
 */
export const firstNamedSql = (users: string, limit: string) =>
  `ARRAY(SELECT u FROM unnest(${users}) WITH ORDINALITY AS named(u, o) GROUP BY u ORDER BY min(o) LIMIT ${limit})`

/** The users column of `table`, or for a row the backfill has not reached yet, its evidence's users. */
export const alertUsersSql = (table: string) => `coalesce(${table}.users, ${evidenceUsersSql(table)})`

/** How often the backfill looks for rows left (once none is, an index lookup of nothing). */
export const USERS_BACKFILL_CHECK_MS = 600_000
const BACKFILL_LOCK = 'alerter:users-backfill'
const BACKFILL_BATCH = 1000

// A batch of rows written before migration 013, given the users their evidence names. Not activity:
// the setting keeps the trigger from moving updated_at (013). SKIP LOCKED passes over rows being written.
const BACKFILL_BATCH_SQL = `
  WITH pending AS (
    SELECT alert_id FROM alerts WHERE users IS NULL LIMIT $1 FOR UPDATE SKIP LOCKED
  )
  UPDATE alerts SET users = ${firstNamedSql(evidenceUsersSql('alerts'), '$2')}
  FROM pending WHERE alerts.alert_id = pending.alert_id`

/**
 * Fills the users column of the rows written before it existed, a batch (one transaction) at a time,
 * on one instance at a time, until none is left or `isStopping` says so. Returns the rows filled, or
 * null when another instance holds the lock.
 */
export async function backfillAlertUsers(pool: PgPool, options: { batchSize?: number; isStopping?: () => boolean } = {}): Promise<number | null> {
  const batchSize = options.batchSize ?? BACKFILL_BATCH
  return withAdvisoryLock(pool, BACKFILL_LOCK, async () => {
    let filled = 0
    for (;;) {
      if (options.isStopping?.()) break
      const batch = await inTransaction(pool, async (tx) => {
        await tx.query("SET LOCAL vigil.users_backfill = 'on'")
        return (await tx.query(BACKFILL_BATCH_SQL, [batchSize, MAX_ALERT_USERS])).rowCount ?? 0
      })
      filled += batch
      if (batch < batchSize) break
    }
    return filled
  })
}

/** Backfills at start and then every interval (a cheap look once nothing is left), on one instance at a time. */
export function startAlertUsersBackfill(pool: PgPool, intervalMs: number, log: Logger): PeriodicJob {
  return startPeriodic('alert users backfill', intervalMs, async (isStopping) => {
    const filled = await backfillAlertUsers(pool, { isStopping })
    if (filled) log.info({ filled }, 'alerts written before the users column given their users')
  }, log)
}
