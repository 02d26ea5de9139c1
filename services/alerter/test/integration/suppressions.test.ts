import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { createLogger, type PgPool } from '@vigil/platform'
import type { Alert, Score } from '@vigil/schemas'
import { freshTestDatabase, type TestDatabase } from '@vigil/testkit'
import type { DetectionMatch } from '@vigil/sigma'
import { createAlertStore, type AlertStore } from '../../src/adapters/alert-store.ts'
import { migrateAlerterDatabase } from '../../src/adapters/database.ts'
import { newSuppressionBody, previewBody } from '../../src/api/requests.ts'
import { createVerdictStore } from '../../src/api/verdict-store.ts'
import { createSuppressionCache, type SuppressionCache } from '../../src/api/suppression-cache.ts'
import { createSuppressionStore, type SuppressionStore } from '../../src/api/suppression-store.ts'
import { buildAlert } from '../../src/build-alert.ts'
import { CORRELATED_DETECTOR, createAlertJoin, type AlertJoin } from '../../src/rules/alert-join.ts'
import { raiseAlerts, type RaiseDeps } from '../../src/rules/raise-alerts.ts'
import { detectionAlert } from '../../src/rules/sigma-alerts.ts'
import { createOutbox, enqueueAlerts } from '../../src/sinks/outbox.ts'

// Suppressions on the alerting path against the real Postgres, with the real suppression store,
// cache and join: a suppressed rule or detector never comes back as a `correlated` alert, and a
// `user` suppression covers the alerts whose lines name the user, in the preview, on save and live.
const log = createLogger('alerter', 'silent', 'test')
const WINDOW_MS = 600_000
const T = Date.UTC(2026, 5, 1, 12)
const DAY_MS = 86_400_000

const rule = { id: 'noisy-rule', title: 'Noisy rule', author: 'x', level: 'high', status: null, references: [], tags: [], license: null, file: 'f' }
const sigmaRaised = (ip: string, line = `Failed password for root from ${ip} port 4000 ssh2`) => detectionAlert(
  { kind: 'detection', rule, eventId: `f-${ip}`, eventTime: T, source: 'sshd', alert: true } as unknown as DetectionMatch,
  { entity: { kind: 'source.ip', id: ip }, eventTime: T, features: {}, evidence: { eventId: `f-${ip}`, topic: 'raw-logs', partition: 0, offset: '1', line } },
  'sigma@test', WINDOW_MS, T,
)
const modelRaised = (ip: string, line = `Failed password for root from ${ip} port 4000 ssh2`, users = ['root']) => {
  const s = {
    eventId: `s-${ip}`, entity: { kind: 'source.ip', id: ip }, eventTime: T + 1000, receivedAt: T, scoredAt: T, family: 'sshd', action: 'ssh_login_failed',
    score: 0.995, rawScore: 0.7, threshold: 0.99, modelVersion: 'v1', features: {}, explanations: [], evidence: { topic: 'raw-logs', partition: 0, offset: '2', line, users },
  } as unknown as Score
  return { alert: buildAlert(s, { windowMs: WINDOW_MS }, T), eventId: s.eventId, eventTime: s.eventTime }
}

/** The `n`th scored event of `ip` (one model alert per ip and window), naming `users`. */
const modelEvent = (ip: string, n: number, users: string[], score = 0.995) => {
  const s = {
    eventId: `s-${ip}-${n}`, entity: { kind: 'source.ip', id: ip }, eventTime: T + 1000 + n, receivedAt: T, scoredAt: T, family: 'sshd', action: 'ssh_login_failed',
    score, rawScore: 0.7, threshold: 0.99, modelVersion: 'v1', features: {}, explanations: [],
    evidence: { topic: 'raw-logs', partition: 0, offset: String(n), line: `Failed password for ${users[0]} from ${ip} port 4000 ssh2`, users },
  } as unknown as Score
  return { alert: buildAlert(s, { windowMs: WINDOW_MS }, T), eventId: s.eventId, eventTime: s.eventTime }
}

describe('suppressions on the alerting path', () => {
  let db: TestDatabase | undefined
  let pool: PgPool
  let store: AlertStore
  let join: AlertJoin
  let suppressionStore: SuppressionStore
  let suppressions: SuppressionCache
  let published: Alert[]
  let enqueued: Alert[]
  let deps: RaiseDeps

  const suppress = async (body: Record<string, unknown>) => {
    const created = await suppressionStore.create(newSuppressionBody.parse({ reason: 'test', expiresAt: new Date(Date.now() + DAY_MS).toISOString(), ...body }))
    await suppressions.refresh()
    return created!
  }
  const detectorsOf = (alerts: Alert[]) => alerts.map((a) => a.detector).sort()

  beforeAll(async () => {
    db = await freshTestDatabase(inject('stack').PG_URL, 'suppressions', (p) => migrateAlerterDatabase(p, log))
    pool = db.pool
    store = createAlertStore(pool, 10)
    join = createAlertJoin(pool, { windowMs: WINDOW_MS, maxEvidence: 10 })
    suppressionStore = createSuppressionStore(pool)
    suppressions = await createSuppressionCache(suppressionStore, { refreshMs: 60_000, log })
  })
  beforeEach(() => {
    published = []
    enqueued = []
    deps = {
      store, join, suppressions,
      producer: { send: async (_topic, records) => void published.push(...records.map((r) => r.value as Alert)) },
      sinks: { enqueue: async (alerts) => void enqueued.push(...alerts) },
    }
  })
  afterEach(async () => {
    for (const s of await suppressionStore.active()) await suppressionStore.revoke(s.suppressionId)
    await suppressions.refresh()
  })
  afterAll(async () => {
    await suppressions?.close()
    await db?.drop()
  })

  it('withdraws the notifications still waiting for alerts an analyst resolves as noise (a suppression, a false positive), and only those', async () => {
    const ips = ['198.51.100.7', '198.51.100.8', '198.51.100.9', '198.51.100.10']
    const alerts: Alert[] = []
    for (const ip of ips) {
      const raised = modelRaised(ip)
      await store.record(raised.alert, raised.eventId, raised.eventTime)
      alerts.push(raised.alert)
    }
    // Slack is down: the four wait in the outbox. One delivered earlier to the webhook stays delivered.
    await enqueueAlerts(pool, alerts, [{ sink: 'slack', minSeverityId: 2 }, { sink: 'webhook', minSeverityId: 2 }])
    const outbox = createOutbox(pool)
    const early = await outbox.claim('webhook', 60_000)
    await outbox.markDelivered(early!)
    const deliveredEarly = early!.alert.entity.id

    await suppress({ scope: 'entity', value: ips[0] })
    const verdicts = createVerdictStore(pool)
    await verdicts.record(alerts[1]!.alertId, { verdict: 'false_positive' })
    await verdicts.record(alerts[2]!.alertId, { verdict: 'true_positive' }) // confirmed: still worth telling

    const claimed: string[] = []
    for (let claim = await outbox.claim('slack', 60_000); claim; claim = await outbox.claim('slack', 60_000)) {
      claimed.push(claim.alert.entity.id)
      await outbox.markDelivered(claim)
    }
    expect(claimed.sort()).toEqual([ips[2], ips[3]].sort())
    const { rows } = await pool.query<{ ip: string; sink: string; status: string; reason: string | null; withdrawn: boolean }>(
      `SELECT a.entity_id AS ip, o.sink, o.status, o.last_error AS reason, o.withdrawn_at IS NOT NULL AS withdrawn
       FROM sink_outbox o JOIN alerts a USING (alert_id) WHERE a.entity_id = ANY($1::text[]) ORDER BY a.entity_id, o.sink`, [ips.slice(0, 2)])
    const expected = (ip: string, resolution: string) => ['slack', 'webhook'].map((sink) => (sink === 'webhook' && ip === deliveredEarly
      ? { ip, sink, status: 'delivered', reason: null, withdrawn: false }
      : { ip, sink, status: 'withdrawn', reason: `withdrawn: the alert was resolved as ${resolution} before it was sent`, withdrawn: true }))
    expect(rows).toEqual([...expected(ips[0]!, 'suppressed'), ...expected(ips[1]!, 'false_positive')].sort((a, b) => a.ip.localeCompare(b.ip) || a.sink.localeCompare(b.sink)))
  })

  it('never raises a correlated alert on a suppressed rule: the model alert goes out alone', async () => {
    await suppress({ scope: 'rule', value: 'noisy-rule' })
    expect(await raiseAlerts([sigmaRaised('203.0.113.7')], deps)).toEqual([])
    expect(detectorsOf(await raiseAlerts([modelRaised('203.0.113.7')], deps))).toEqual(['model:default'])
    expect(detectorsOf(enqueued)).toEqual(['model:default'])
    expect((await pool.query('SELECT 1 FROM alerts WHERE detector = $1', [CORRELATED_DETECTOR])).rowCount).toBe(0)
  })

  it('never raises a correlated alert on a suppressed detector, whichever side comes second', async () => {
    const { suppression } = await suppress({ scope: 'detector', value: 'model:default' })
    expect(await raiseAlerts([modelRaised('203.0.113.8')], deps)).toEqual([])
    // Revoked since: the rule's alert finds the model alert resolved as suppressed in the table, and leaves it out.
    await suppressionStore.revoke(suppression.suppressionId)
    await suppressions.refresh()
    expect(detectorsOf(await raiseAlerts([sigmaRaised('203.0.113.8')], deps))).toEqual(['sigma:noisy-rule'])
    expect(detectorsOf(enqueued)).toEqual(['sigma:noisy-rule'])
    expect((await pool.query('SELECT 1 FROM alerts WHERE detector = $1', [CORRELATED_DETECTOR])).rowCount).toBe(0)
  })

  it('still correlates when neither side is suppressed', async () => {
    await raiseAlerts([sigmaRaised('203.0.113.9')], deps)
    expect(detectorsOf(await raiseAlerts([modelRaised('203.0.113.9')], deps))).toEqual([CORRELATED_DETECTOR, 'model:default'])
  })

  it('matches a user suppression to the alerts citing an event that names the user: preview, save and live', async () => {
    const backupLine = (ip: string) => `Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for invalid user backup from ${ip} port 4000 ssh2`
    await raiseAlerts([modelRaised('198.51.100.1', backupLine('198.51.100.1'), ['backup'])], deps) // names backup
    await raiseAlerts([modelRaised('198.51.100.2', 'Dec 10 06:55:46 backup sshd[1]: Failed password for root from 198.51.100.2 port 4000 ssh2', ['root'])], deps) // a host called backup
    const match = previewBody.parse({ scope: 'user', value: 'backup' })
    const preview = await suppressionStore.preview(match, 7)
    expect(preview).toMatchObject({ matched: 1, open: 1, byDetector: { 'model:default': 1 } })
    expect(preview.sample.map((a) => a.entity.id)).toEqual(['198.51.100.1'])

    const { resolvedAlertIds } = await suppress({ scope: 'user', value: 'backup' })
    expect(resolvedAlertIds).toEqual([modelRaised('198.51.100.1').alert.alertId])

    published = []
    expect(await raiseAlerts([modelRaised('198.51.100.3', backupLine('198.51.100.3'), ['backup'])], deps)).toEqual([]) // live: suppressed
    expect(published).toEqual([])
    // any family the featurizer reads a user from: here a web server's authenticated user
    const webLine = '198.51.100.4 - backup [10/Oct/2025:13:55:36 +0000] "GET /admin HTTP/1.1" 200 512 "-" "curl/8.5.0"'
    expect(await raiseAlerts([modelRaised('198.51.100.4', webLine, ['backup'])], deps)).toEqual([])
    expect(published).toEqual([])
    const { rows } = await pool.query('SELECT resolution FROM alerts WHERE alert_id = ANY($1) ORDER BY alert_id', [[modelRaised('198.51.100.3').alert.alertId, modelRaised('198.51.100.4').alert.alertId]])
    expect(rows).toEqual([{ resolution: 'suppressed' }, { resolution: 'suppressed' }])
  })

  it('matches a user suppression to a user any of an alert\'s events names: a later event of the same batch, a rise, one past the evidence the alert cites', async () => {
    await suppress({ scope: 'user', value: 'bob' })
    // Opened naming alice, then bob in the same batch: the alert as sent would name bob.
    expect(await raiseAlerts([modelEvent('198.51.100.20', 1, ['alice']), modelEvent('198.51.100.20', 2, ['bob'])], deps)).toEqual([])
    expect([published, enqueued]).toEqual([[], []])

    // Published naming alice; a stronger event naming bob raises it: the rise goes nowhere.
    expect(await raiseAlerts([modelEvent('198.51.100.21', 1, ['alice'])], deps)).toHaveLength(1)
    published = []
    enqueued = []
    expect(await raiseAlerts([modelEvent('198.51.100.21', 2, ['bob'], 0.9999)], deps)).toEqual([])
    expect([published, enqueued]).toEqual([[], []])
    const { rows: [rose] } = await pool.query('SELECT severity FROM alerts WHERE alert_id = $1', [modelEvent('198.51.100.21', 2, []).alert.alertId])
    expect(rose).toEqual({ severity: 'high' }) // it did rise

    // Ten guesses, then root: the alert cites the first ten events, and still concerns root.
    for (let n = 1; n <= 10; n++) await raiseAlerts([modelEvent('198.51.100.22', n, [`guest${n}`])], deps)
    await raiseAlerts([modelEvent('198.51.100.22', 11, ['root'])], deps)
    const preview = await suppressionStore.preview(previewBody.parse({ scope: 'user', value: 'root' }), 7)
    expect(preview.sample.map((a) => a.entity.id)).toContain('198.51.100.22')
    const { resolvedAlertIds } = await suppress({ scope: 'user', value: 'root' })
    expect(resolvedAlertIds).toContain(modelEvent('198.51.100.22', 1, []).alert.alertId)
  })

  it('joins no alert whose users, past the evidence it cites, a user suppression covers; a correlated alert names the users of both', async () => {
    // A model alert published with eleven events: the eleventh, past the ten it cites, names root.
    const ip = '198.51.100.30'
    for (let n = 1; n <= 10; n++) await raiseAlerts([modelEvent(ip, n, [`guest${n}`])], deps)
    await raiseAlerts([modelEvent(ip, 11, ['root'])], deps)
    await suppress({ scope: 'user', value: 'root' }) // the model alert is published already, so it stays open
    published = []
    // A Sigma alert on the same entity: it goes out alone, not as a correlated alert built on the suppressed one.
    expect(detectorsOf(await raiseAlerts([sigmaRaised(ip)], deps))).toEqual(['sigma:noisy-rule'])

    // Without the suppression, a correlated alert is raised, and it concerns root too.
    for (const s of await suppressionStore.active()) await suppressionStore.revoke(s.suppressionId)
    await suppressions.refresh()
    const ip2 = '198.51.100.31'
    for (let n = 1; n <= 10; n++) await raiseAlerts([modelEvent(ip2, n, [`guest${n}`])], deps)
    await raiseAlerts([modelEvent(ip2, 11, ['root'])], deps)
    expect(detectorsOf(await raiseAlerts([sigmaRaised(ip2)], deps))).toEqual([CORRELATED_DETECTOR, 'sigma:noisy-rule'])
    const { rows: [correlated] } = await pool.query<{ users: string[] }>("SELECT users FROM alerts WHERE detector = $1 AND entity_id = $2", [CORRELATED_DETECTOR, ip2])
    expect(correlated!.users).toContain('root')
    expect(correlated!.users).toHaveLength(11)
  })
})
