import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { freshTestDatabase, type TestDatabase } from '@vigil/testkit'
import { inTransaction, type PgClient } from '../../src/pg.ts'

// inTransaction against the real Postgres: what commits, what rolls back, and what beforeBegin
// leaves on the connection whatever the transaction does.

let db: TestDatabase

beforeAll(async () => {
  db = await freshTestDatabase(inject('stack').PG_URL, 'intx', async (pool) => {
    await pool.query('CREATE TABLE items (id int PRIMARY KEY)')
  })
})
afterAll(async () => db.drop())

const ids = async () => (await db.pool.query<{ id: number }>('SELECT id FROM items ORDER BY id')).rows.map((r) => r.id)

describe('inTransaction', () => {
  it('commits what the work did when it returns, and hands back its result', async () => {
    const result = await inTransaction(db.pool, async (client) => {
      await client.query('INSERT INTO items VALUES (1), (2)')
      return 'done'
    })
    expect(result).toBe('done')
    expect(await ids()).toEqual([1, 2])
  })

  it('rolls everything back when the work throws, and the error goes on', async () => {
    await expect(inTransaction(db.pool, async (client) => {
      await client.query('INSERT INTO items VALUES (3)')
      await client.query('INSERT INTO items VALUES (1)') // duplicate key
    })).rejects.toThrow(/duplicate key/)
    expect(await ids()).toEqual([1, 2])
  })

  it('runs beforeBegin outside the transaction: what it makes survives a rollback on that connection', async () => {
    const single = db.newPool()
    const staging = async (client: PgClient) => {
      await client.query('CREATE TEMP TABLE IF NOT EXISTS staging (id int) ON COMMIT DELETE ROWS')
    }
    await expect(inTransaction(single, async (client) => {
      await client.query('INSERT INTO staging VALUES (7)')
      throw new Error('work failed')
    }, { beforeBegin: staging })).rejects.toThrow('work failed')
    // The pool hands out the same (only idle) connection: the temporary table is still there, empty.
    const rows = await inTransaction(single, async (client) => (await client.query('SELECT count(*)::int AS n FROM staging')).rows[0].n)
    expect(rows).toBe(0)
  })
})
