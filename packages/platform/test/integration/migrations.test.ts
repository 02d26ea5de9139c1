import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { freshTestDatabase } from '@vigil/testkit'
import { createLogger } from '../../src/logger.ts'
import { runMigrations } from '../../src/pg.ts'

// Several services start at once on a new database (a fresh deployment), each running its own
// migrations: none may fail its start because another was migrating at the same moment.

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

describe('runMigrations', () => {
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
})
