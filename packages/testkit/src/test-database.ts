import { randomUUID } from 'node:crypto'
import pg from 'pg'

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
