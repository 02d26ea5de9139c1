import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  baseConfig, canRetry, createKafkaRuntime, createLogger, createMetrics, createPgPool, parseConfig, type KafkaRuntime, type PgPool,
} from '@vigil/platform'
import { dlqOf, topics, type Alert, type Score } from '@vigil/schemas'
import { createTopicReader, freshTestDatabase, uniquePrefix, waitFor, type TestDatabase, type TopicReader } from '@vigil/testkit'
import { createAlertStore, type AlertStore } from '../../src/adapters/alert-store.ts'
import { migrateAlerterDatabase } from '../../src/adapters/database.ts'
import { NUL_REPLACEMENT } from '../../src/adapters/storable-text.ts'
import { buildAlert } from '../../src/build-alert.ts'
import { handleScores } from '../../src/handle-scores.ts'
import { enqueueAlerts } from '../../src/sinks/outbox.ts'

// Scores that decode (valid Avro) but that Postgres cannot store, through the alerter's scores
// handler on the real broker and Postgres: the one Postgres refuses goes to scores.dlq with
// Postgres' reason and the partition moves on; a NUL character is stored as U+FFFD and alerts;
// Postgres being away holds the batch (retryable), never dead-letters it.
const log = createLogger('alerter', 'silent', 'test')
const WINDOW_MS = 600_000
const T = Date.UTC(2026, 5, 1, 12)
const IP = '203.0.113.7'

const score = (n: number, over: Partial<Score> = {}): Score => ({
  eventId: `raw-logs/0/${n}`, entity: { kind: 'source.ip', id: IP }, eventTime: T + n * WINDOW_MS, receivedAt: T, scoredAt: T,
  family: 'sshd', action: 'ssh_login_failed', score: 0.9995, rawScore: 0.7, threshold: 0.99, modelVersion: 'v1', members: {},
  features: { auth_failures: 12 }, explanations: [],
  evidence: { topic: 'raw-logs', partition: 0, offset: String(n), line: `Failed password for root from ${IP} port 4000 ssh2` },
  ...over,
})

describe('scores Postgres cannot store', () => {
  const stack = inject('stack')
  const prefix = uniquePrefix('alerter-dlq')
  let db: TestDatabase | undefined
  let pool: PgPool
  let kafka: KafkaRuntime
  let reader: TopicReader
  let store: AlertStore
  let handled = 0

  beforeAll(async () => {
    db = await freshTestDatabase(stack.PG_URL, 'alerterdlq', (p) => migrateAlerterDatabase(p, log))
    pool = db.pool
    store = createAlertStore(pool, 10)
    const config = parseConfig(baseConfig, { KAFKA_BROKERS: stack.KAFKA_BROKERS, SCHEMA_REGISTRY_URL: stack.SCHEMA_REGISTRY_URL, TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: '1' })
    kafka = await createKafkaRuntime('alerter', config, log, createMetrics('alerter'), (err) => {
      throw err
    })
    await kafka.ensureTopics()
    reader = await createTopicReader(stack.KAFKA_BROKERS, prefix, stack.SCHEMA_REGISTRY_URL)
    const sinks = { enqueue: async (alerts: Alert[]) => void (await enqueueAlerts(pool, alerts, [{ sink: 'webhook', minSeverityId: 2 }])) }
    const deps = { store, producer: await kafka.producer(), sinks }
    await kafka.consume(topics.scores, {
      groupId: 'alerter',
      handler: async (messages) => {
        await handleScores(messages, { windowMs: WINDOW_MS }, deps, null)
        handled += messages.length
      },
    })
  })

  afterAll(async () => {
    await kafka?.stopConsumers()
    await kafka?.closeProducer()
    await reader?.close()
    await db?.drop()
  })

  it('dead-letters a score whose event time Postgres refuses, with the reason, and alerts on the next one of its partition', async () => {
    const producer = await kafka.producer()
    const refused = score(1, { eventTime: -3e14 }) // 7537 BC: a valid Avro long, before timestamptz's 4713 BC
    const next = score(2)
    await producer.send(topics.scores, [refused, next].map((s) => ({ key: IP, value: s })))

    const [letter] = await reader.readAll(dlqOf(topics.scores), 1, 30_000)
    expect(letter!.value).toMatchObject({ errorCode: 'ALERT_REJECTED_BY_STORE', service: 'alerter', partition: 0 })
    expect(letter!.value.errorMessage).toMatch(/^postgres: timestamp out of range/)
    expect(Buffer.from(letter!.value.valueBase64, 'base64').length).toBe(letter!.value.valueLength)

    const nextId = buildAlert(next, { windowMs: WINDOW_MS }).alertId
    await waitFor('the next score on the partition to alert', async () => (await pool.query('SELECT 1 FROM alerts WHERE alert_id = $1 AND published', [nextId])).rowCount === 1, 30_000, 50)
    expect((await reader.readAll(topics.alerts, 1)).map((m) => m.value.alertId)).toEqual([nextId])
    expect(await reader.count(dlqOf(topics.scores))).toBe(1)
  })

  it('stores a NUL character in the line or the entity id as U+FFFD, and alerts', async () => {
    const producer = await kafka.producer()
    const before = handled
    const withNul = score(3, {
      entity: { kind: 'source.ip', id: `${IP}\u0000x` },
      evidence: { topic: 'raw-logs', partition: 0, offset: '3', line: 'Failed password for ro\u0000ot from 203.0.113.7 port 4000 ssh2' },
    })
    await producer.send(topics.scores, [{ key: IP, value: withNul }])
    await waitFor('the score with NUL characters to be handled', () => handled > before, 30_000, 50)
    const { rows } = await pool.query<{ entity_id: string; body: Alert; published: boolean }>(
      'SELECT entity_id, body, published FROM alerts WHERE alert_id = $1', [buildAlert(withNul, { windowMs: WINDOW_MS }).alertId])
    expect(rows).toEqual([expect.objectContaining({ entity_id: `${IP}${NUL_REPLACEMENT}x`, published: true })])
    expect(rows[0]!.body.evidence[0]).toMatchObject({ line: `Failed password for ro${NUL_REPLACEMENT}ot from 203.0.113.7 port 4000 ssh2`, offset: '3' })
    expect(await reader.count(dlqOf(topics.scores))).toBe(1)
  })

  it('holds a score while Postgres is away: the failure is retryable, never dead-lettered', async () => {
    // A pool on a port nothing listens on: ECONNREFUSED, as when Postgres is down.
    const away = createPgPool({ PG_URL: 'postgres://vigil@127.0.0.1:1/none', PG_POOL_SIZE: 1 })
    try {
      const err = await createAlertStore(away, 10).record(buildAlert(score(4), { windowMs: WINDOW_MS }), 'raw-logs/0/4', T).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'ALERT_STORE_UNAVAILABLE' })
      expect(canRetry(err)).toBe(true)
    } finally {
      await away.end()
    }
  })
})
