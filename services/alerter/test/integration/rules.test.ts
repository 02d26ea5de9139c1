import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  baseConfig, createKafkaRuntime, createLogger, createMetrics, createRedis, parseConfig, type DeliveredMessage,
  type KafkaRuntime, type PgPool, type TypedProducer,
} from '@vigil/platform'
import { allTopics, createCodec, FEATURE_WINDOW_SECONDS, sharedTableMigrations, topics, type Alert, type FeatureRecord, type RawLog, type Score } from '@vigil/schemas'
import { createTopicReader, freshTestDatabase, OPENSSH_SAMPLE, readLogLines, uniquePrefix, waitFor, type TestDatabase, type TopicReader } from '@vigil/testkit'
import { createFeatureStore } from '../../../featurizer/src/adapters/feature-store.ts'
import { createFeatureContext } from '../../../featurizer/src/compute-features.ts'
import { loadConfig as loadFeaturizerConfig, parseRange } from '../../../featurizer/src/config.ts'
import { createRawLogDecoder } from '../../../featurizer/src/decode-raw-log.ts'
import { handleRawLogs } from '../../../featurizer/src/handle-raw-logs.ts'
import { migrateTrainerDatabase } from '../../../trainer/src/adapters/database.ts'
import { createAlertStore, type AlertStore } from '../../src/adapters/alert-store.ts'
import { ALERTER_MIGRATIONS, migrateAlerterDatabase } from '../../src/adapters/database.ts'
import { buildAlert } from '../../src/build-alert.ts'
import { enqueueAlerts } from '../../src/sinks/outbox.ts'
import { CORRELATED_DETECTOR } from '../../src/rules/alert-join.ts'
import { raiseAlerts } from '../../src/rules/raise-alerts.ts'
import { DEFAULT_RULE_DIRS } from '../../src/rules/rule-set.ts'
import { alertIdOf, bucketOf, sigmaDetector } from '../../src/rules/sigma-alerts.ts'
import { createSigmaRules, type SigmaRules } from '../../src/rules/sigma-rules.ts'

// Sigma rules in the alerter against the real broker, Postgres and Redis: the real OpenSSH sample,
// run through the featurizer's own code path, goes onto `features` and through the alerter's
// handler on its own consumer group. The brute-force correlation (rules/vigil) must fire for
// exactly the sources an independent reading of the log says it should, a second delivery of every
// record must change nothing, the sources must be flagged for the trainer, and where the model
// alerted on a source in the same window one correlated alert must cite both.

const log = createLogger('alerter', 'silent', 'test')
const BRUTE_FORCE = '5b0d6c1e-7a43-4f2e-9c8b-1e6f3a2d4c02' // rules/vigil/ssh-brute-force.yml
const THRESHOLD = 10 // failed logins from one source ...
const SPAN_S = 300 // ... within 5 minutes
const WINDOW_MS = 600_000
const RECEIVED_AT = Date.UTC(2026, 0, 5)

/**
 * From the log lines alone, when the brute-force correlation fires: per source, failed login attempts
 * in time order, each once: an "Invalid user <name> from <ip>" line, and each "Failed <method> for ...
 * from <ip>" verdict but a connection's (sshd pid's) first after its Invalid user line, which is that
 * attempt (sshd's LoginGraceTime, 120 s, apart at most). It fires when ten lie in (t - 5 min, t], and
 * starts counting afresh after. Times are seconds of the day (every line is of Dec 10).
 */
function expectedFirings(lines: readonly string[]): Map<string, number[]> {
  const failures = new Map<string, number[]>()
  const invalidUserOf = new Map<string, { ip: string; t: number }>() // by pid, until its first verdict
  for (const line of lines) {
    const m = /^\w{3} +\d+ (\d\d):(\d\d):(\d\d) \S+ sshd\[(\d+)\]: (?:(Invalid|Illegal) user .* from (\d+\.\d+\.\d+\.\d+)(?: port \d+)?$|Failed \S+ for .* from (\d+\.\d+\.\d+\.\d+) port)/.exec(line)
    if (!m) continue
    const [t, pid, ip] = [Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]), m[4]!, (m[6] ?? m[7])!]
    if (m[5]) invalidUserOf.set(pid, { ip, t })
    else {
      const invalidUser = invalidUserOf.get(pid)
      if (invalidUser?.ip === ip && t - invalidUser.t <= 120) {
        invalidUserOf.delete(pid)
        continue
      }
    }
    failures.set(ip, [...(failures.get(ip) ?? []), t])
  }
  const firings = new Map<string, number[]>()
  for (const [ip, times] of failures) {
    let window: number[] = []
    for (const t of times) {
      window = [...window.filter((w) => w > t - SPAN_S), t]
      if (window.length < THRESHOLD) continue
      firings.set(ip, [...(firings.get(ip) ?? []), t])
      window = []
    }
  }
  return firings
}

/** The featurizer's code path in-process (parse, Redis windows, features), as bench/models does. */
async function featurize(lines: readonly string[], redisUrl: string, prefix: string): Promise<FeatureRecord[]> {
  const config = loadFeaturizerConfig({ KAFKA_BROKERS: 'unused:9092', REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `${prefix}featurizer:` })
  const redis = createRedis(config)
  await redis.ready()
  try {
    const featureStore = createFeatureStore(redis, {
      windowSeconds: FEATURE_WINDOW_SECONDS, lateGraceSeconds: config.LATE_EVENT_GRACE_SECONDS, ttlSeconds: config.STATE_TTL_SECONDS, userTtlSeconds: config.USER_STATE_TTL_SECONDS,
    })
    const context = createFeatureContext({
      timeZone: config.FEATURE_TIME_ZONE, businessHours: parseRange(config.BUSINESS_HOURS), businessDays: parseRange(config.BUSINESS_DAYS),
      sensitivePaths: config.SENSITIVE_PATHS, privilegedUsers: config.PRIVILEGED_USERS,
    })
    const decode = createRawLogDecoder(await createCodec({ kafkaName: (t) => t.name, topics: allTopics() }), 'raw-logs', { now: () => RECEIVED_AT })
    const messages: DeliveredMessage<RawLog>[] = []
    for (const [i, line] of lines.entries()) {
      messages.push({ value: await decode(Buffer.from(line), {}), key: null, topic: 'raw-logs', partition: 0, offset: String(i), timestamp: RECEIVED_AT, headers: {} })
    }
    const out: FeatureRecord[] = []
    const producer: TypedProducer = { send: async (_t, records) => void out.push(...records.map((r) => r.value as FeatureRecord)), close: async () => {} }
    await handleRawLogs(messages, { featureStore, producer, geo: null, context, metrics: createMetrics('featurizer') })
    return out
  } finally {
    await redis.close()
  }
}

const sourceIp = (id: string) => ({ kind: 'source.ip', id })

describe('Sigma rules on the features stream', () => {
  const stack = inject('stack')
  const prefix = uniquePrefix('rules')
  const lines = readLogLines(OPENSSH_SAMPLE)
  const firings = expectedFirings(lines)
  let db: TestDatabase | undefined
  let pool: PgPool
  let redis: ReturnType<typeof createRedis>
  let kafka: KafkaRuntime
  let reader: TopicReader
  let store: AlertStore
  let sigma: SigmaRules
  let records: FeatureRecord[]
  let handled = 0
  /** event time (ms) of a time of day on the sample's day */
  let epochOf: (secondOfDay: number) => number

  const routes = [{ sink: 'webhook' as const, minSeverityId: 2 }]
  const sinks = { enqueue: async (alerts: Alert[]) => void (await enqueueAlerts(pool, alerts, routes)) }
  /** A model alert for `ip` at `at`, raised the way handle-scores would with the join (raise-alerts.ts). */
  const modelAlert = async (ip: string, at: number) => {
    const score: Score = {
      eventId: `raw-logs/0/model-${ip}`, entity: sourceIp(ip), eventTime: at, receivedAt: at, scoredAt: at, family: 'sshd', action: 'ssh_login_failed',
      score: 0.9995, rawScore: 0.8, modelVersion: 'v1', threshold: 0.99, features: { auth_failures: 40 },
      evidence: { topic: 'raw-logs', partition: 0, offset: '9999', line: `model evidence for ${ip}` },
    }
    return raiseAlerts([{ alert: buildAlert(score, { windowMs: WINDOW_MS }), eventId: score.eventId, eventTime: at }], {
      store, producer: await kafka.producer(), sinks, join: sigma.join,
    })
  }
  const alertRows = async () => (await pool.query<{ alert_id: string; detector: string; entity_id: string; severity: string; event_count: number; published: boolean; body: Alert }>(
    'SELECT alert_id, detector, entity_id, severity, event_count, published, body FROM alerts ORDER BY alert_id')).rows

  beforeAll(async () => {
    db = await freshTestDatabase(stack.PG_URL, 'alerter', (p) => migrateAlerterDatabase(p, log))
    pool = db.pool
    redis = createRedis({ REDIS_URL: stack.REDIS_URL, REDIS_KEY_PREFIX: prefix })
    await redis.ready()
    const config = parseConfig(baseConfig, { KAFKA_BROKERS: stack.KAFKA_BROKERS, SCHEMA_REGISTRY_URL: stack.SCHEMA_REGISTRY_URL, TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: '4' })
    kafka = await createKafkaRuntime('alerter', config, log, createMetrics('alerter'), (err) => {
      throw err
    })
    await kafka.ensureTopics()
    reader = await createTopicReader(stack.KAFKA_BROKERS, prefix, stack.SCHEMA_REGISTRY_URL)
    store = createAlertStore(pool, 10)
    sigma = createSigmaRules({ ruleDirs: DEFAULT_RULE_DIRS, windowMs: WINDOW_MS, maxEvidence: 10 }, {
      pool, redis, store, producer: await kafka.producer(), sinks, log,
    })
    records = await featurize(lines, stack.REDIS_URL, prefix)
    const first = /^\w{3} +\d+ (\d\d):(\d\d):(\d\d)/.exec(lines[0]!)!
    const base = records[0]!.eventTime - (Number(first[1]) * 3600 + Number(first[2]) * 60 + Number(first[3])) * 1000
    epochOf = (s) => base + s * 1000
    await kafka.consume(topics.features, {
      groupId: 'alerter-sigma',
      handler: async (messages) => {
        await sigma.handleFeatureRecords(messages)
        handled += messages.length
      },
    })
  })

  afterAll(async () => {
    await kafka?.stopConsumers()
    await kafka?.closeProducer()
    await reader?.close()
    if (redis) {
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
        cursor = next
        if (keys.length > 0) await redis.del(...keys.map((k) => k.slice(prefix.length)))
      } while (cursor !== '0')
      await redis.close()
    }
    await db?.drop()
  })

  it('loads the default rules and the sample has the brute forcers an operator would name', () => {
    expect(sigma.rules.set.skipped).toEqual([])
    expect(sigma.rules.set.correlations.map((c) => c.rule.attribution.id)).toContain(BRUTE_FORCE)
    expect(records).toHaveLength(lines.length)
    // The independent reading: the top sources of failed logins are among those that must fire.
    for (const ip of ['183.62.140.253', '187.141.143.180', '103.99.0.122']) expect(firings.has(ip)).toBe(true)
  })

  it('fires the brute-force correlation for exactly the expected sources and windows, alerts once each, and flags the sources', async () => {
    const top = '183.62.140.253'
    // The model alerted on the top source before the rules saw it: the Sigma alert must join it.
    await modelAlert(top, epochOf(firings.get(top)![0]!))

    const producer = await kafka.producer()
    await producer.send(topics.features, records.map((r) => ({ key: r.entity.id, value: r })))
    await waitFor('the alerter to handle every features record', () => handled >= records.length, 30_000, 50)

    const expected = new Map<string, number>() // alert id → firings folded into it
    for (const [ip, times] of firings) {
      for (const t of times) {
        const id = alertIdOf(sourceIp(ip), sigmaDetector(BRUTE_FORCE), bucketOf(epochOf(t), WINDOW_MS))
        expected.set(id, (expected.get(id) ?? 0) + 1)
      }
    }
    const rows = await alertRows()
    const bruteForce = rows.filter((r) => r.detector === sigmaDetector(BRUTE_FORCE))
    expect(new Map(bruteForce.map((r) => [r.alert_id, r.event_count]))).toEqual(expected)
    expect(new Set(bruteForce.map((r) => r.entity_id))).toEqual(new Set(firings.keys()))
    expect(bruteForce.every((r) => r.severity === 'high' && r.body.reasons![1]!.startsWith('Sigma correlation "SSH brute force from one source"'))).toBe(true)
    // No other rule of the default set matches this sample, and the failed-login rule raises nothing alone.
    expect(new Set(rows.map((r) => r.detector))).toEqual(new Set([sigmaDetector(BRUTE_FORCE), 'model:default', CORRELATED_DETECTOR]))

    // Published (the topic is read once, after the join below) and queued for notification once each.
    expect(rows.every((r) => r.published)).toBe(true)
    expect(await reader.count(topics.alerts)).toBe(rows.length)
    const outbox = await pool.query<{ alert_id: string }>('SELECT alert_id FROM sink_outbox ORDER BY alert_id')
    expect(outbox.rows.map((r) => r.alert_id)).toEqual(rows.map((r) => r.alert_id))

    // Flagged for the trainer over each source's firings (the first window's start to the last firing).
    const flags = await pool.query<{ entity_id: string; entity_kind: string; flagged_from: Date; flagged_to: Date; reason: string }>(
      'SELECT entity_kind, entity_id, flagged_from, flagged_to, reason FROM flagged_entities WHERE source = $1', [sigmaDetector(BRUTE_FORCE)])
    expect(new Map(flags.rows.map((f) => [f.entity_id, [f.entity_kind, f.flagged_from.getTime(), f.flagged_to.getTime(), f.reason]]))).toEqual(new Map(
      [...firings].map(([ip, times]) => [ip, ['source.ip', epochOf(times[0]!) - SPAN_S * 1000, epochOf(times.at(-1)!), 'SSH brute force from one source']]),
    ))
  })

  it('joins each Sigma alert with the model alerts of its source in its window or the one before into one correlated alert, whichever came first', async () => {
    const second = '187.141.143.180'
    // Now the model alerts on a source the rules already fired for: the model's side joins.
    await modelAlert(second, epochOf(firings.get(second)![0]!) + 1000)
    const rows = await alertRows()
    const windowOf = (r: { body: Alert }) => bucketOf(r.body.firstSeen, WINDOW_MS)
    const modelAlertsMeeting = (rule: (typeof rows)[number]) => rows.filter((r) => r.entity_id === rule.entity_id && r.detector === 'model:default'
      && (windowOf(r) === windowOf(rule) || windowOf(r) === windowOf(rule) - 1))
    // One per brute-force alert that met a model alert, in that alert's (the rule's) window.
    const joinedRules = rows.filter((r) => r.detector === sigmaDetector(BRUTE_FORCE) && modelAlertsMeeting(r).length > 0)
    const correlated = rows.filter((r) => r.detector === CORRELATED_DETECTOR)
    expect(correlated.map((r) => r.alert_id)).toEqual(joinedRules.map((r) => alertIdOf(sourceIp(r.entity_id), CORRELATED_DETECTOR, windowOf(r))).sort())
    expect(new Set(correlated.map((r) => r.entity_id))).toEqual(new Set(['183.62.140.253', second]))
    expect(correlated.every((r) => r.severity === 'critical')).toBe(true)
    for (const rule of joinedRules) {
      const c = correlated.find((r) => r.entity_id === rule.entity_id && windowOf(r) === windowOf(rule))!
      const models = modelAlertsMeeting(rule)
      const cited = [rule, ...models].map((r) => r.alert_id).filter((id) => c.body.reasons!.some((reason) => reason.includes(id)))
      expect(cited).toHaveLength(1 + models.length)
      expect(c.event_count).toBe(models.length)
      expect(c.body.evidence[0]!.line).toBe(`model evidence for ${rule.entity_id}`) // the line its score and features come from
    }
    // Every alert on the topic once.
    const published = await reader.readAll(topics.alerts, rows.length)
    expect(published.map((m) => m.value.alertId).sort()).toEqual(rows.map((r) => r.alert_id))
  })

  it('changes nothing when every features record is delivered again', async () => {
    const before = await alertRows()
    const flagsBefore = (await pool.query('SELECT * FROM flagged_entities ORDER BY entity_id, source')).rows
    const topicBefore = await reader.count(topics.alerts)
    const producer = await kafka.producer()
    await producer.send(topics.features, records.map((r) => ({ key: r.entity.id, value: r })))
    await waitFor('the alerter to handle the second delivery', () => handled >= 2 * records.length, 30_000, 50)
    expect(await alertRows()).toEqual(before)
    expect((await pool.query('SELECT * FROM flagged_entities ORDER BY entity_id, source')).rows).toEqual(flagsBefore)
    expect(await reader.count(topics.alerts)).toBe(topicBefore)
  })

  it('upgrades a database where the alerter and the trainer each created flagged_entities, keeping its flags', async () => {
    // The state before the table had its shared migration: created by whichever service's 003 ran first, recorded for both.
    const old = await freshTestDatabase(stack.PG_URL, 'upgrade', async (p) => {
      await p.query(readFileSync(join(sharedTableMigrations.dir, '001_flagged_entities.sql'), 'utf8'))
      await p.query(`CREATE TABLE schema_migrations (
        owner text NOT NULL, version text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (owner, version))`)
      await p.query(`INSERT INTO schema_migrations (owner, version) VALUES ('alerter', '003_flagged_entities.sql'), ('trainer', '003_flagged_entities.sql')`)
      await p.query(`INSERT INTO flagged_entities (entity_kind, entity_id, flagged_from, reason, source) VALUES ('source.ip', '10.9.9.9', now(), 'sigma hit', 'sigma:r1')`)
    })
    try {
      await migrateAlerterDatabase(old.pool, log)
      await migrateTrainerDatabase(old.pool, log)
      expect((await old.pool.query('SELECT entity_id, source FROM flagged_entities')).rows).toEqual([{ entity_id: '10.9.9.9', source: 'sigma:r1' }])
      expect((await old.pool.query('SELECT version FROM schema_migrations WHERE owner = $1', [sharedTableMigrations.owner])).rows).toEqual([{ version: '001_flagged_entities.sql' }])
    } finally {
      await old.drop()
    }
  })

  it('migrates at the same time as the trainer on a new database, the shared flagged_entities created once', async () => {
    const shared = await freshTestDatabase(stack.PG_URL, 'shared')
    try {
      await Promise.all([migrateAlerterDatabase(shared.pool, log), migrateTrainerDatabase(shared.pool, log)])
      const versions = async (owner: string) =>
        (await shared.pool.query('SELECT version FROM schema_migrations WHERE owner = $1 ORDER BY version', [owner])).rows.map((r) => r.version)
      expect(await versions(sharedTableMigrations.owner)).toEqual(['001_flagged_entities.sql'])
      expect(await versions('alerter')).toEqual(readdirSync(ALERTER_MIGRATIONS).filter((f) => f.endsWith('.sql')).sort())
      expect((await shared.pool.query(`SELECT to_regclass('flagged_entities') IS NOT NULL AS present`)).rows[0].present).toBe(true)
    } finally {
      await shared.drop()
    }
  })
})
