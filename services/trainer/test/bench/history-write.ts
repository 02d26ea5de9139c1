// Rows/s of storing feature batches of 5,000: the staged binary COPY writer beside the INSERT …
// unnest it replaced and beside a staged text COPY, measured in the same run on fresh databases of
// the same Postgres. Each round writes a new batch with every method in turn (so machine load hits
// all alike), then delivers the same batch again (all duplicates).
// Usage: tsx services/trainer/test/bench/history-write.ts [rounds=15] [batch=5000]   (PG_URL from the env, else the local stack)
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import type { PgPool } from '@vigil/platform'
import { featureNames, toFeatureArray, type FeatureRecord } from '@vigil/schemas'
import { readStackEnvFile } from '@vigil/testkit'
import { createFeatureHistory, featureSetId } from '../../src/adapters/feature-history.ts'
import { featureRecord, freshDatabase, seeded, TRAINER_MIGRATIONS, type TestDatabase } from '../integration/support.ts'

const rounds = Number(process.argv[2] ?? 15)
const batchSize = Number(process.argv[3] ?? 5000)
const pgUrl = process.env.PG_URL ?? readStackEnvFile().PG_URL
const DAY0 = Date.UTC(2026, 0, 5)
const FEATURE_SET = featureSetId(featureNames)

/** Vectors shaped like the featurizer's: counts are integers, flags 0/1, ratios, entropies and distances full doubles. */
function realisticVector(random: () => number): FeatureRecord['vector'] {
  return Object.fromEntries(featureNames.map((n) => {
    if (/^is_|_is_|new_|_new/.test(n)) return [n, random() < 0.2 ? 1 : 0]
    if (/ratio|entropy|_km|per_|seconds|hour|day/.test(n)) return [n, random() * 10]
    return [n, Math.floor(random() * 50)]
  })) as unknown as FeatureRecord['vector']
}

/** The writer before this change: one INSERT … SELECT FROM unnest(…) ON CONFLICT (event_id) DO NOTHING into 001's table. */
async function insertUnnest001(pool: PgPool, records: FeatureRecord[]) {
  await pool.query(
    `INSERT INTO feature_history (event_id, entity_kind, entity_id, event_time, received_at, family, action, feature_names, vector)
     SELECT e, k, i, to_timestamp(t / 1000.0), to_timestamp(r / 1000.0), f, a, $8::text[], string_to_array(v, ',')::double precision[]
     FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::text[], $7::text[], $9::text[]) AS x(e, k, i, t, r, f, a, v)
     ON CONFLICT (event_id) DO NOTHING`,
    [records.map((r) => r.eventId), records.map((r) => r.entity.kind), records.map((r) => r.entity.id), records.map((r) => r.eventTime),
      records.map((r) => r.receivedAt), records.map((r) => r.family), records.map((r) => r.event.event.action), featureNames,
      records.map((r) => toFeatureArray(r.vector).join(','))])
}

/** The same INSERT … unnest into the partitioned table (partitions made beforehand): the cost of the table alone. */
async function insertUnnestPartitioned(pool: PgPool, records: FeatureRecord[]) {
  await pool.query(
    `INSERT INTO feature_history (event_id, entity_kind, entity_id, event_time, received_at, family, action, feature_set, vector)
     SELECT e, k, i, to_timestamp(t / 1000.0), to_timestamp(r / 1000.0), f, a, $8, string_to_array(v, ',')::double precision[]
     FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::text[], $7::text[], $9::text[]) AS x(e, k, i, t, r, f, a, v)
     ON CONFLICT DO NOTHING`,
    [records.map((r) => r.eventId), records.map((r) => r.entity.kind), records.map((r) => r.entity.id), records.map((r) => r.eventTime),
      records.map((r) => r.receivedAt), records.map((r) => r.family), records.map((r) => r.event.event.action), FEATURE_SET,
      records.map((r) => toFeatureArray(r.vector).join(','))])
}

/** Text-format COPY into a staging table, then INSERT … SELECT … ON CONFLICT DO NOTHING (without the day counts the product keeps). */
async function copyTextStaged(client: pg.PoolClient, records: FeatureRecord[]) {
  const escape = (s: string) => s.replace(/[\\\n\r\t\0]/g, (c) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '' })[c]!)
  const text = records.map((r) => [
    escape(r.eventId), escape(r.entity.kind), escape(r.entity.id), new Date(r.eventTime).toISOString(), new Date(r.receivedAt).toISOString(),
    escape(r.family), escape(r.event.event.action), FEATURE_SET, `{${toFeatureArray(r.vector).join(',')}}`,
  ].join('\t') + '\n').join('')
  await client.query('BEGIN')
  await pipeline(Readable.from([text]), client.query(copyFrom(
    'COPY text_staging (event_id, entity_kind, entity_id, event_time, received_at, family, action, feature_set, vector) FROM STDIN')))
  await client.query('INSERT INTO feature_history SELECT * FROM text_staging ON CONFLICT DO NOTHING')
  await client.query('COMMIT')
}

interface Method {
  name: string
  db: TestDatabase
  write(records: FeatureRecord[]): Promise<unknown>
}

const only001 = mkdtempSync(join(tmpdir(), 'bench-001-'))
copyFileSync(join(TRAINER_MIGRATIONS, '001_feature_history.sql'), join(only001, '001_feature_history.sql'))
const dbs = {
  old: await freshDatabase(pgUrl, { trainerMigrations: only001 }),
  unnest: await freshDatabase(pgUrl),
  text: await freshDatabase(pgUrl),
  binary: await freshDatabase(pgUrl),
}
const textClient = await dbs.text.pool.connect()
await textClient.query('CREATE TEMP TABLE text_staging (LIKE feature_history INCLUDING DEFAULTS) ON COMMIT DELETE ROWS')
const history = createFeatureHistory(dbs.binary.pool)
const partitionsOf = [dbs.unnest, dbs.text].map((db) => createFeatureHistory(db.pool)) // their partitions are made before the clock starts
const methods: Method[] = [
  { name: 'INSERT … unnest, 001 table (before)', db: dbs.old, write: (r) => insertUnnest001(dbs.old.pool, r) },
  { name: 'INSERT … unnest, partitioned', db: dbs.unnest, write: (r) => insertUnnestPartitioned(dbs.unnest.pool, r) },
  { name: 'COPY text → staging → INSERT, partitioned', db: dbs.text, write: (r) => copyTextStaged(textClient, r) },
  { name: 'COPY binary → staging → INSERT, partitioned (after)', db: dbs.binary, write: (r) => history.write(r) },
]
const fresh = new Map<string, number[]>()
const again = new Map<string, number[]>()
try {
  for (let round = -2; round < rounds; round++) { // two rounds of warm-up
    // Each batch crosses midnight, as a batch at midnight or a replay does: two partitions.
    const start = DAY0 + (round + 3) * 86_400_000 - batchSize * 5
    const random = seeded(round + 100)
    const batch = Array.from({ length: batchSize }, (_, i) => {
      const r = featureRecord(round * 1e6 + 1e7 + i, start + i * 10, `10.${i % 250}.${round & 255}.${i % 7}`)
      r.vector = realisticVector(random)
      return r
    })
    const days = new Set(batch.map((r) => new Date(r.eventTime).toISOString().slice(0, 10)))
    for (const h of partitionsOf) await h.ensureDays(days)
    for (const series of [fresh, again]) {
      for (const m of methods) {
        const t0 = process.hrtime.bigint()
        await m.write(batch)
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9
        if (round >= 0) series.set(m.name, [...series.get(m.name) ?? [], batch.length / seconds])
      }
    }
  }
  const stored = await Promise.all(methods.map(async (m) => Number((await m.db.pool.query('SELECT count(*) AS n FROM feature_history')).rows[0].n)))
  const { rows: [pgVersion] } = await dbs.binary.pool.query<{ server_version: string }>('SHOW server_version')
  const { rows: [settings] } = await dbs.binary.pool.query<{ fsync: string; sc: string }>("SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc")
  console.log(`feature batches of ${batchSize} rows (31 features), ${rounds} rounds; Postgres ${pgVersion!.server_version}, fsync ${settings!.fsync}, synchronous_commit ${settings!.sc}`)
  console.log('rows/s: median (min-max)\n')
  console.log(`${'method'.padEnd(52)}  ${'new rows'.padEnd(26)}  same batch again (all duplicates)`)
  for (const [k, m] of methods.entries()) {
    console.log(`${m.name.padEnd(52)}  ${summary(fresh.get(m.name)!).padEnd(26)}  ${summary(again.get(m.name)!).padEnd(26)}  ${stored[k]} rows stored`)
  }
} finally {
  textClient.release()
  rmSync(only001, { recursive: true, force: true })
  for (const db of Object.values(dbs)) await db.drop()
}

function summary(values: number[]): string {
  const s = [...values].sort((a, b) => a - b)
  const fmt = (x: number) => Math.round(x).toLocaleString('en')
  return `${fmt(s[Math.floor(s.length / 2)]!)} (${fmt(s[0]!)}-${fmt(s.at(-1)!)})`
}
