import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { createPgPool, type PgPool } from '@vigil/platform'

/** Creates an empty database beside the one `pgUrl` names and returns its URL: each test run gets its own. */
export async function createTestDatabase(pgUrl: string, label = 't'): Promise<string> {
  const name = `${label}_${randomUUID().replace(/-/g, '').slice(0, 12)}`
  const client = new pg.Client({ connectionString: pgUrl })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${name}`)
  } finally {
    await client.end()
  }
  const url = new URL(pgUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** A unique topic prefix, consumer-group prefix and Redis key prefix for one test. */
export function uniquePrefix(label = 't'): string {
  return `${label}-${randomUUID().slice(0, 8)}-`
}

/** Drops a database createTestDatabase made (`url`), through the server `pgUrl` names, whoever is still connected. */
async function dropTestDatabase(pgUrl: string, url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: pgUrl })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`)
  } finally {
    await admin.end()
  }
}

/** A test's own database: its pools, and a drop that ends them and removes the database. */
export interface TestDatabase {
  url: string
  pool: PgPool
  /** another pool on the same database: a second service instance */
  newPool(): PgPool
  /** ends every pool and drops the database */
  drop(): Promise<void>
}

/** A fresh database (createTestDatabase) with `migrate` run on its first pool. */
export async function freshTestDatabase(pgUrl: string, label: string, migrate: (pool: PgPool) => Promise<void> = async () => {}): Promise<TestDatabase> {
  const url = await createTestDatabase(pgUrl, label)
  const pools: PgPool[] = []
  const newPool = () => {
    const p = createPgPool({ PG_URL: url, PG_POOL_SIZE: 4 })
    pools.push(p)
    return p
  }
  const pool = newPool()
  await migrate(pool)
  return {
    url, pool, newPool,
    async drop() {
      await Promise.all(pools.map((p) => p.end()))
      await dropTestDatabase(pgUrl, url)
    },
  }
}
