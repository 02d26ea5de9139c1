import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { from as copyFrom } from 'pg-copy-streams'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { encodeCopyBinary, type CopyValue } from '../../src/adapters/copy-binary.ts'
import { freshDatabase, seeded, type TestDatabase } from './support.ts'

describe('binary COPY encoding', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await freshDatabase(inject('stack').PG_URL, { migrate: false })
    await db.pool.query('CREATE TABLE t (i float8, s text, n float8, a float8[], ts timestamptz, b boolean)')
  })
  afterAll(async () => {
    await db.drop()
  })

  async function roundTrip(rows: CopyValue[][]) {
    const client = await db.pool.connect()
    try {
      await client.query('TRUNCATE t')
      await pipeline(Readable.from([encodeCopyBinary(rows)]), client.query(copyFrom('COPY t (i, s, n, a, ts, b) FROM STDIN (FORMAT binary)')))
      // Text out, so the check does not go through the same binary forms.
      const { rows: out } = await client.query<{ s: string | null; n: string | null; a: string | null; ts: string | null; b: string | null }>(
        "SELECT s, n::text, a::text, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS ts, b::text FROM t ORDER BY i")
      return out
    } finally {
      client.release()
    }
  }

  it('writes text, float8, float8[], timestamptz and boolean values and NULLs as Postgres reads them', async () => {
    const out = await roundTrip([
      [0, 'plain', 1.5, [1, -2.25, 1e-300], new Date(Date.UTC(2026, 10, 22, 1, 2, 3, 456)), true],
      [1, 'tab\tnew\nline \\N é 🙂', -0, [], new Date(0), false],
      [2, 'nul\u0000gone', Number.NaN, [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], new Date('0001-01-01T00:00:00Z'), true],
      [3, '', Number.MAX_VALUE, [0.1 + 0.2], new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)), false],
      [4, null, null, null, null, null],
    ])
    expect(out).toEqual([
      { s: 'plain', n: '1.5', a: '{1,-2.25,1e-300}', ts: '2026-11-22 01:02:03.456000', b: 'true' },
      { s: 'tab\tnew\nline \\N é 🙂', n: '-0', a: '{}', ts: '1970-01-01 00:00:00.000000', b: 'false' },
      { s: 'nulgone', n: 'NaN', a: '{Infinity,-Infinity}', ts: '0001-01-01 00:00:00.000000', b: 'true' },
      { s: '', n: '1.7976931348623157e+308', a: '{0.30000000000000004}', ts: '9999-12-31 23:59:59.999000', b: 'false' },
      { s: null, n: null, a: null, ts: null, b: null },
    ])
  })

  it('keeps every double exactly', async () => {
    const random = seeded(11)
    const values = Array.from({ length: 2000 }, () => (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20))
    const rows: CopyValue[][] = values.map((v, i) => [i, null, v, [v, -v], null])
    const client = await db.pool.connect()
    try {
      await client.query('TRUNCATE t')
      await pipeline(Readable.from([encodeCopyBinary(rows)]), client.query(copyFrom('COPY t (i, s, n, a, ts) FROM STDIN (FORMAT binary)')))
      const { rows: out } = await client.query<{ n: number; a: number[] }>('SELECT n, a FROM t ORDER BY i')
      expect(out.map((r) => r.n)).toEqual(values)
      expect(out.map((r) => r.a)).toEqual(values.map((v) => [v, -v]))
    } finally {
      client.release()
    }
  })
})
