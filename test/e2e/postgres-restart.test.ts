import { join } from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { topics, type Topic } from '@vigil/schemas'
import { freePort, OPENSSH_SAMPLE, ownPostgres, type OwnPostgres, type Pipeline, readLinesAsRecent, replayAcrossOutage, REPO_ROOT, startPipeline, uniquePrefix, waitFor } from '@vigil/testkit'

// The five services while their Postgres restarts (an upgrade, a failover), with lines arriving the
// whole time. The trainer stores history there, the alerter its alerts and their deliveries, the
// scorer reads the model registry. No service may exit, and once Postgres is back the history must
// hold every event, and the alerts topic and table the same alerts. The server is the
// test's own, so the other test files keep the shared one.
const lines = readLinesAsRecent(OPENSSH_SAMPLE)
const DOWN_MS = 15_000

describe('the pipeline across a Postgres restart', () => {
  const prefix = uniquePrefix('pg-restart')
  const logDir = join(REPO_ROOT, '.cache', 'test-logs', 'postgres-restart', prefix.slice(0, -1))
  let server: OwnPostgres | undefined
  let pipeline: Pipeline | undefined
  let db: pg.Pool | undefined
  afterAll(async () => {
    await pipeline?.stop()
    await db?.end()
    await server?.stop()
  })

  it('keeps every service running while Postgres is down, and stores every event and publishes every alert when it is back', async () => {
    server = await ownPostgres(await freePort())
    pipeline = await startPipeline({ stack: { ...inject('stack'), PG_URL: server.url }, prefix, logDir, env: { MODEL_TARGET_ALERT_RATE: '0.01' } })
    const p = pipeline
    // Postgres goes away once the first half is scored: the trainer has published a first model from
    // the history, and the scorer runs it.
    const exitedWhileDown = await replayAcrossOutage(p, lines, server, { firstHalfOn: topics.scores, downMs: DOWN_MS })
    expect(exitedWhileDown, 'services that exited while Postgres was down').toEqual([])

    const raw = await p.reader.readAll(topics.rawLogs, lines.length, 120_000)
    const eventIds = new Set(raw.map((r) => `${p.reader.kafkaName(topics.rawLogs)}/${r.partition}/${r.offset}`))
    const distinct = async <T extends { eventId: string }>(topic: Topic<T>) => new Set((await p.reader.readAll(topic, 0)).map((m) => m.value.eventId))
    await waitFor('every line scored', async () => (await distinct(topics.scores)).size >= eventIds.size, 120_000, 1_000)
    expect(await distinct(topics.features)).toEqual(eventIds)

    // The history the next model trains on lost nothing while Postgres was away.
    db = new pg.Pool({ connectionString: p.env.PG_URL })
    const history = await waitFor('the trainer to store every event', async () => {
      const { rows } = await db!.query<{ event_id: string }>('SELECT DISTINCT event_id FROM feature_history')
      return rows.length >= eventIds.size ? new Set(rows.map((r) => r.event_id)) : undefined
    }, 120_000, 1_000)
    expect(history).toEqual(eventIds)

    // The alerts table and the topic hold the same alerts, every one marked published. An alert sent
    // just before Postgres went down, its commit lost, is sent again once it is back (publishOnce is
    // at least once across such a failure): the same alert id, which consumers key on.
    await waitFor('the alerter to handle every score and features record', async () =>
      (await p.reader.caughtUp('alerter', topics.scores)) && (await p.reader.caughtUp('alerter-sigma', topics.features)), 120_000, 500)
    const published = (await p.reader.readAll(topics.alerts, 0)).map((a) => a.value.alertId)
    expect(published.length).toBeGreaterThan(0)
    const stored = await db.query<{ alert_id: string; published: boolean }>('SELECT alert_id, published FROM alerts')
    expect(stored.rows.filter((r) => !r.published).map((r) => r.alert_id), 'alerts stored but never published').toEqual([])
    expect(new Set(stored.rows.map((r) => r.alert_id))).toEqual(new Set(published))
    console.log(`postgres restart: ${lines.length} lines, ${history.size} events in the history, ${stored.rows.length} alerts, ${published.length - stored.rows.length} sent again`)
    expect(p.exited(), 'services that exited after Postgres came back').toEqual([])
  })
})
