import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import pino from 'pino'
import { freePort, freshTestDatabase, ownPostgres } from '@vigil/testkit'
import { createLogger } from '../../src/logger.ts'
import { createPgPool, runMigrations, waitForPostgres } from '../../src/pg.ts'

// Several services start at once on a new database (a fresh deployment), each running its own
// migrations: none may fail its start because another was migrating at the same moment, nor
// because Postgres itself was not up yet.

const log = createLogger('test', 'silent', 'test')
const OWNERS = ['alpha', 'beta', 'gamma', 'delta']
const DATABASES = 8
let dirs: string

beforeAll(() => {
  dirs = mkdtempSync(join(tmpdir(), 'migrations-'))
  for (const owner of OWNERS) {
    mkdirSync(join(dirs, owner))
    writeFileSync(join(dirs, owner, '001_table.sql'), `CREATE TABLE IF NOT EXISTS ${owner}_rows (id int PRIMARY KEY);`)
    writeFileSync(join(dirs, owner, '002_shared.sql'), 'CREATE TABLE IF NOT EXISTS shared_rows (id int PRIMARY KEY);')
  }
})
afterAll(() => rmSync(dirs, { recursive: true, force: true }))

describe('runMigrations and waitForPostgres', () => {
  it('migrates several owners at once on new databases, every file applied once', async () => {
    for (let n = 0; n < DATABASES; n++) {
      const db = await freshTestDatabase(inject('stack').PG_URL, 'migrations')
      try {
        // Each owner through a pool of its own, as each service has: the starts race for real.
        const pools = OWNERS.map(() => db.newPool())
        const outcomes = await Promise.allSettled(OWNERS.map((owner, i) => runMigrations(pools[i]!, owner, join(dirs, owner), log)))
        expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual([])
        const { rows } = await db.pool.query('SELECT owner, version FROM schema_migrations ORDER BY owner, version')
        expect(rows).toEqual(OWNERS.toSorted().flatMap((owner) => [{ owner, version: '001_table.sql' }, { owner, version: '002_shared.sql' }]))
      } finally {
        await db.drop()
      }
    }
  })

  it('waits for a Postgres that is not up yet, as when a deployment starts it beside the services', async () => {
    const port = await freePort()
    const warnings: string[] = []
    const recording = pino({ level: 'info' }, { write: (line: string) => void (JSON.parse(line).level === 40 && warnings.push(line)) })
    const pool = createPgPool({ PG_URL: `postgres://postgres@127.0.0.1:${port}/postgres`, PG_POOL_SIZE: 2 })
    // The service starts before the server exists (initdb and start take it a few seconds), waits, then migrates.
    const migrating = waitForPostgres(pool, recording).then(() => runMigrations(pool, 'alpha', join(dirs, 'alpha'), recording))
    const server = await ownPostgres(port)
    try {
      await migrating
      const { rows } = await pool.query('SELECT version FROM schema_migrations ORDER BY version')
      expect(rows.map((r) => r.version)).toEqual(['001_table.sql', '002_shared.sql'])
      expect(warnings.length).toBeGreaterThan(0)
      expect(JSON.parse(warnings[0]!)).toMatchObject({ msg: 'waiting for postgres', err: expect.stringContaining('ECONNREFUSED') })
    } finally {
      await pool.end()
      await server.stop()
    }
  }, 120_000)

  it('fails at once on what waiting cannot mend, such as a database that does not exist', async () => {
    const url = new URL(inject('stack').PG_URL)
    url.pathname = '/no_such_database'
    const pool = createPgPool({ PG_URL: url.toString(), PG_POOL_SIZE: 1 })
    const started = Date.now()
    try {
      await expect(waitForPostgres(pool, log)).rejects.toMatchObject({ code: '3D000' })
      expect(Date.now() - started).toBeLessThan(5_000)
    } finally {
      await pool.end()
    }
  })
})
