import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { freshTestDatabase, waitFor, type TestDatabase } from '@vigil/testkit'
import { createPgPool, inTransaction, withClient } from '../../src/pg.ts'

// The project's pool against the real Postgres when the server ends one of its idle connections, as
// a restart, a failover or an administrator does: the process must not die of it, and the pool must
// go on serving on a new connection.

let db: TestDatabase

beforeAll(async () => {
  db = await freshTestDatabase(inject('stack').PG_URL, 'pgpool')
})
afterAll(async () => db?.drop())

describe('createPgPool', () => {
  it('survives the server ending an idle connection, says so in the log, and serves the next query', async () => {
    const logged: Array<{ msg: string; err: string }> = []
    const log = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) })
    const pool = createPgPool({ PG_URL: db.url, PG_POOL_SIZE: 1 }, log)
    try {
      const before = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
      const ended = await db.pool.query<{ ended: boolean }>('SELECT pg_terminate_backend($1) AS ended', [before])
      expect(ended.rows[0]!.ended).toBe(true)

      const warning = await waitFor('the warning', () => logged.find((l) => l.msg === 'postgres closed an idle connection'), 10_000, 20)
      expect(warning.err).toMatch(/terminating connection due to administrator command/)
      const after = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
      expect(after).not.toBe(before)
    } finally {
      await pool.end()
    }
  })
  it('survives the server ending a connection that work holds between two queries, and serves the next work on a new one', async () => {
    const pool = createPgPool({ PG_URL: db.url, PG_POOL_SIZE: 1 }, pino({ level: 'silent' }))
    try {
      let held = 0
      const outcome = await withClient(pool, async (client) => {
        held = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
        await db.pool.query('SELECT pg_terminate_backend($1)', [held])
        // The server's goodbye reaches the client while no query runs: unheard, it was an uncaught 'error'.
        await new Promise((r) => setTimeout(r, 300))
        return client.query('SELECT 1').then(() => 'served', (err: Error) => `failed: ${err.message}`)
      })
      expect(outcome).toMatch(/^failed: /)
      // The broken connection was closed, not given back: the pool's one slot serves on a new backend.
      const next = await inTransaction(pool, async (client) => (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid)
      expect(next).not.toBe(held)
    } finally {
      await pool.end()
    }
  })
})
