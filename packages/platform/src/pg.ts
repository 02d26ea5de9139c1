import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import type { PgConfig } from './config.ts'
import { pgConnection, type PgSecuritySettings } from './connection-security.ts'
import { PoisonMessageError, TransientError, UNREACHABLE_NETWORK_CODES, VigilError } from './errors.ts'
import type { Logger } from './logger.ts'
import { waitUntilReachable } from './startup-wait.ts'

export type PgPool = pg.Pool

/** The settings a pool is made from: a service's parsed config (pgConfig) will do. */
export type PgPoolSettings = PgSecuritySettings & Pick<PgConfig, 'PG_POOL_SIZE'>

/** A pool with the project's defaults, TLS and password as the settings say (connection-security.ts); `close()` ends it. */
export function createPgPool(settings: PgPoolSettings, log?: Logger): pg.Pool & { close(): Promise<void> } {
  const pool = new pg.Pool({
    ...pgConnection(settings), max: settings.PG_POOL_SIZE, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000,
  }) as pg.Pool & { close(): Promise<void> }
  // When the server ends an idle connection (a restart, a failover, an administrator,
  // idle_session_timeout), the pool drops that client and emits 'error': with no listener that is
  // an uncaught exception and the service dies. The next query opens a new connection.
  pool.on('error', (err) => log?.warn({ err: err.message }, 'postgres closed an idle connection'))
  pool.close = () => pool.end()
  return pool
}

/**
 * Whether Postgres refused a failed statement for the values it was given, so the same input will
 * fail again however long it is retried: SQLSTATE class 22 (data exception: a timestamp out of
 * range, a NUL character, a bad encoding) and class 23 (integrity constraint violation). Anything
 * else (class 08 connection, 53 resources, 57P shutdown, 40001 and 40P01 serialization and
 * deadlock, a socket error or a dropped connection without a SQLSTATE, a missing table before the
 * migrations ran) may pass when tried again.
 */
export function isRejectedInput(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code)
}

/**
 * A Postgres failure as the Kafka layer reads it (the one classification every writer uses): input
 * Postgres refused (isRejectedInput) becomes a PoisonMessageError coded `rejected`, which dead-letters
 * the message that carried it with Postgres' message as the reason; anything else a TransientError
 * coded `unavailable`, which holds the batch until Postgres answers. A VigilError keeps its own verdict.
 */
export function pgFailure(cause: unknown, codes: { unavailable: string; rejected: string }, what = 'postgres'): VigilError {
  if (cause instanceof VigilError) return cause
  const message = `${what}: ${(cause as Error | null)?.message ?? String(cause)}`
  return isRejectedInput(cause) ? new PoisonMessageError(codes.rejected, message, { cause }) : new TransientError(codes.unavailable, message, { cause })
}

/** A connection in a transaction. */
export type PgClient = pg.PoolClient

export interface TransactionOptions {
  /**
   * Runs on the connection before BEGIN: for what must outlive the transaction on that connection,
   * such as a temporary staging table (a connection is reused, so this must be idempotent).
   */
  beforeBegin?: (client: PgClient) => Promise<void>
}

/**
 * Runs `work` on one connection of the pool, given back after it, or closed if it broke: if the work
 * calls `discard`, or the connection failed. While a connection is checked out the pool does not
 * listen on it, so the server ending it between two queries (a restart, a failover, an
 * administrator) was an uncaught 'error' that killed the service; here it marks the connection
 * broken, and the work's next query on it fails.
 */
export async function withClient<T>(pool: pg.Pool, work: (client: PgClient, discard: (reason: Error) => void) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  const discard = (reason: Error) => {
    broken ??= reason
  }
  client.on('error', discard)
  try {
    return await work(client, discard)
  } finally {
    client.off('error', discard)
    client.release(broken)
  }
}

/**
 * Runs `work` while this session holds the Postgres advisory lock `name` (so one instance at a time
 * runs it), on the connection that holds it; null, without running it, when another session holds
 * it. A connection that cannot unlock is not given back to the pool, or it would hold the lock for good.
 */
export async function withAdvisoryLock<T>(pool: pg.Pool, name: string, work: (client: PgClient) => Promise<T>): Promise<T | null> {
  return withClient(pool, async (client, discard) => {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [name])
    if (!rows[0]!.locked) return null
    try {
      return await work(client)
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [name]).catch(discard)
    }
  })
}

/**
 * Runs `work` in one transaction on one connection: committed if it returns, rolled back if it
 * throws (the error goes on). A connection that cannot even roll back is not given back to the pool.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (client: PgClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  return withClient(pool, async (client, discard) => {
    await options.beforeBegin?.(client)
    return transactionOn(client, discard, () => work(client))
  })
}

/**
 * One transaction on a connection the caller holds (withClient): BEGIN, `work`, COMMIT; on a throw,
 * ROLLBACK and the error goes on. A connection that cannot even roll back is discarded.
 */
async function transactionOn<T>(client: PgClient, discard: (reason: Error) => void, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN')
  try {
    const result = await work()
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch(discard)
    throw err
  }
}

const MIGRATIONS_LOCK = 'vigil:migrations'

// Failures that mean Postgres is not reachable yet, rather than a setting it will never accept (a
// wrong password, no such database, a TLS mismatch): those are thrown at once.
function isUnreachable(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown }
  if (typeof code === 'string') {
    // SQLSTATE class 08 (connection exception), 57P03 (starting up or shutting down), 53300 (too many connections)
    return UNREACHABLE_NETWORK_CODES.has(code) || code.startsWith('08') || code === '57P03' || code === '53300'
  }
  // pg gives no code when its connect timeout ends a slow connection, or the server closes the socket
  return typeof message === 'string' && /^Connection terminated/.test(message)
}

/**
 * Waits until Postgres answers a query, trying every `retryMs` for up to `timeoutMs`. A deployment
 * starts Postgres and the services together, and a loaded Postgres can take longer than the pool's
 * 5-s connect timeout: a service that exits on its first failed connection restarts in a loop, or,
 * in CI, fails its start. Failures that waiting cannot mend are thrown at once. Services call it
 * before their migrations; the models CLI does not, as an operator wants an error, not a wait.
 */
export async function waitForPostgres(pool: pg.Pool, log: Logger, options: { timeoutMs?: number; retryMs?: number } = {}): Promise<void> {
  await waitUntilReachable('postgres', () => pool.query('SELECT 1'), isUnreachable, log, options)
}

/**
 * Runs the versioned migrations in `dir` (files `NNN_name.sql`, applied in order, each once) for
 * `owner`; each file runs in a transaction. One advisory lock for every owner lets several instances
 * of several services start at once on a new database: with a lock per owner, two services both
 * created schema_migrations, and two concurrent CREATE TABLE IF NOT EXISTS can collide on the
 * table's type (a unique violation in pg_type) and fail one service's start.
 */
export async function runMigrations(pool: pg.Pool, owner: string, dir: string, log: Logger): Promise<void> {
  const files = readdirSync(dir).filter((f) => /^\d+_.+\.sql$/.test(f)).sort()
  // The lock is a session's: the migrations run on the connection that holds it, each file in a transaction there.
  await withClient(pool, async (client, discard) => {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATIONS_LOCK])
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        owner text NOT NULL, version text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (owner, version))`)
      const { rows } = await client.query<{ version: string }>('SELECT version FROM schema_migrations WHERE owner = $1', [owner])
      const applied = new Set(rows.map((r) => r.version))
      for (const file of files) {
        if (applied.has(file)) continue
        await transactionOn(client, discard, async () => {
          await client.query(readFileSync(join(dir, file), 'utf8'))
          await client.query('INSERT INTO schema_migrations (owner, version) VALUES ($1, $2)', [owner, file])
        })
        log.info({ owner, migration: file }, 'applied migration')
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATIONS_LOCK]).catch(() => {})
    }
  })
}
