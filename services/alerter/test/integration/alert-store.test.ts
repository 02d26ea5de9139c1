import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createLogger, type PgPool } from '@vigil/platform'
import type { Score } from '@vigil/schemas'
import { freshTestDatabase, type TestDatabase } from '@vigil/testkit'
import { createAlertStore } from '../../src/adapters/alert-store.ts'
import { migrateAlerterDatabase } from '../../src/adapters/database.ts'
import { buildAlert } from '../../src/build-alert.ts'

// Two alerter instances (the features consumer and the scores consumer may both reach a correlated
// alert at once) publishing the same stored alert: against the real Postgres, it goes out once.
const T = Date.UTC(2025, 11, 10, 7, 0, 0)
let db: TestDatabase
let pools: PgPool[] = []

beforeAll(async () => {
  db = await freshTestDatabase(inject('stack').PG_URL, 'alertstore', (pool) => migrateAlerterDatabase(pool, createLogger('test', 'silent', 'test')))
  pools = [db.pool, db.newPool()]
})
afterAll(async () => db?.drop())

describe('alert store', () => {
  it('publishes an alert once when two instances try at the same moment, and again only if the first one failed', async () => {
    const [a, b] = pools.map((p) => createAlertStore(p, 10)) as [ReturnType<typeof createAlertStore>, ReturnType<typeof createAlertStore>]
    const score = { entity: { kind: 'source.ip', id: '10.9.0.1' }, eventTime: T, score: 1, threshold: 0.99, eventId: 'raw-logs/0/1', family: 'sshd', modelVersion: 'v1', features: {}, evidence: { topic: 'raw-logs', partition: 0, offset: '1', line: 'l' } } as unknown as Score
    const alert = buildAlert(score, { windowMs: 600_000 }, T)
    expect((await a.record(alert, 'e1', T))?.needsPublishing).toBe(true)
    expect((await b.record(alert, 'e2', T))?.needsPublishing).toBe(true) // both see it unpublished

    // A first attempt whose send fails leaves it unpublished.
    await expect(a.publishOnce([alert.alertId], async () => { throw new Error('broker down') })).rejects.toThrow(/broker down/)
    const sends: string[] = []
    const slowSend = (who: string) => async (ids: string[]) => {
      await new Promise((resolve) => setTimeout(resolve, 200))
      sends.push(...ids.map((id) => `${who}:${id}`))
    }
    const [byA, byB] = await Promise.all([a.publishOnce([alert.alertId], slowSend('a')), b.publishOnce([alert.alertId], slowSend('b'))])
    expect([...byA, ...byB]).toEqual([alert.alertId])
    expect(sends).toHaveLength(1)
    expect(await a.publishOnce([alert.alertId], slowSend('a'))).toEqual([])
  })

  it('lets the publish step queue its notifications on another connection (the outbox refers to the locked alert)', async () => {
    const store = createAlertStore(pools[0]!, 10)
    const score = { entity: { kind: 'source.ip', id: '10.9.0.2' }, eventTime: T, score: 1, threshold: 0.99, eventId: 'raw-logs/0/2', family: 'sshd', modelVersion: 'v1', features: {}, evidence: { topic: 'raw-logs', partition: 0, offset: '2', line: 'l' } } as unknown as Score
    const alert = buildAlert(score, { windowMs: 600_000 }, T)
    await store.record(alert, 'e1', T)
    // As the sinks enqueue: an insert whose foreign key takes KEY SHARE on the alert's row, from another connection.
    const enqueue = async (ids: string[]) => {
      await pools[1]!.query("SET statement_timeout = '5s'")
      await pools[1]!.query("INSERT INTO sink_outbox (alert_id, sink) SELECT unnest($1::text[]), 'webhook'", [ids])
    }
    expect(await store.publishOnce([alert.alertId], enqueue)).toEqual([alert.alertId])
  })
})
