import { request as httpRequest } from 'node:http'
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { createLogger, type PgPool } from '@vigil/platform'
import type { Alert, Score } from '@vigil/schemas'
import { freshTestDatabase, type TestDatabase } from '@vigil/testkit'
import { createAlertStore } from '../../src/adapters/alert-store.ts'
import { migrateAlerterDatabase } from '../../src/adapters/database.ts'
import { buildAlert } from '../../src/build-alert.ts'
import type { FeedbackMetrics } from '../../src/api/feedback-loop.ts'
import { createSuppressionCache, type SuppressionCache } from '../../src/api/suppression-cache.ts'
import type { SuppressionMatch } from '../../src/api/suppression-match.ts'
import { createSuppressionStore } from '../../src/api/suppression-store.ts'
import { startApi, type RunningApi } from '../../src/api/start-api.ts'
import type { FeedbackVerdict } from '../../src/api/verdict-store.ts'

const log = createLogger('alerter', 'silent', 'test')
const TOKEN = 'test-token-5d1c0f3b9a7e4c2d8b6a0f1e3c5d7b9a'
const DAY_MS = 86_400_000
const inDays = (days: number) => new Date(Date.now() + days * DAY_MS).toISOString()

// ---------------------------------------------------------------------------------------------
// A fresh database per test, with the alerter's migrations

const freshDatabase = (pgUrl: string) => freshTestDatabase(pgUrl, 'alerter_api', (pool) => migrateAlerterDatabase(pool, log))

// ---------------------------------------------------------------------------------------------
// Alerts

interface AlertFixture {
  id: string
  detector?: string
  kind?: string
  entity: string
  severity?: 'low' | 'medium' | 'high' | 'critical'
  /** wall-clock age in days of the alert (created_at) */
  ageDays?: number
  /** event time of its last event, ms */
  lastSeen?: number
  status?: 'open' | 'resolved'
  /** the users its one event names */
  users?: string[]
}

const T0 = Date.UTC(2026, 5, 1, 12)

/** Stores an alert as the alerter's table holds one, its age and status set as the test needs. */
async function insertAlert(pool: PgPool, a: AlertFixture): Promise<void> {
  const lastSeen = a.lastSeen ?? T0
  const body: Alert = {
    alertId: a.id, detector: a.detector ?? 'model:default', title: `alert ${a.id}`, severity: a.severity ?? 'medium', severityId: 3,
    entity: { kind: a.kind ?? 'source.ip', id: a.entity }, firstSeen: lastSeen - 60_000, createdAt: lastSeen, score: 0.995, threshold: 0.99,
    modelVersion: 'v7', features: { auth_failures: 12 }, reasons: ['many failed logins'],
    evidence: [{ eventId: `e-${a.id}`, topic: 'raw-logs', partition: 0, offset: '1', line: `sshd: Failed password from ${a.entity}`, users: a.users ?? [] }],
  }
  await pool.query(
    `INSERT INTO alerts (alert_id, detector, entity_kind, entity_id, title, severity, first_seen, last_seen, max_score, model_version, body, published, status, created_at, users)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0.995, 'v7', $9, true, $10, now() - make_interval(secs => $11), $12)`,
    [a.id, body.detector, body.entity.kind, a.entity, body.title, body.severity, new Date(lastSeen - 60_000), new Date(lastSeen), body, a.status ?? 'open',
      (a.ageDays ?? 0) * 86_400, a.users ?? []],
  )
}

// ---------------------------------------------------------------------------------------------
// The API on a free port, with a publisher and metrics the test can read

/** Gauges and a counter that keep what was set, as prom-client would export it. */
function recordingMetrics() {
  const gauge = () => {
    const values = new Map<string, number>()
    return { values, set: (labels: Record<string, string>, v: number) => void values.set(JSON.stringify(labels), v), reset: () => values.clear() }
  }
  const ratio = gauge()
  const verdicts = gauge()
  const requests = new Map<string, number>()
  const metrics: FeedbackMetrics = {
    alertFalsePositiveRatio: ratio,
    alertVerdicts: verdicts,
    suppressionsActive: { set: () => {} },
    apiRequests: { inc: (l) => void requests.set(`${l.route} ${l.status}`, (requests.get(`${l.route} ${l.status}`) ?? 0) + 1) },
  }
  return {
    metrics,
    ratio: (detector: string) => ratio.values.get(JSON.stringify({ detector })),
    requests: (route: string, status: number) => requests.get(`${route} ${status}`) ?? 0,
  }
}

interface Harness {
  db: TestDatabase
  api: RunningApi
  suppressions: SuppressionCache
  published: FeedbackVerdict[]
  /** while false, publishing fails as with the broker down */
  broker: { up: boolean }
  recorded: ReturnType<typeof recordingMetrics>
  // The answers are JSON of many shapes, read field by field in the assertions.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  call(method: string, path: string, options?: { body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>
}

async function startHarness(): Promise<Harness> {
  const db = await freshDatabase(inject('stack').PG_URL)
  const suppressions = await createSuppressionCache(createSuppressionStore(db.pool), { refreshMs: 60_000, log })
  const published: FeedbackVerdict[] = []
  const broker = { up: true }
  const recorded = recordingMetrics()
  const api = await startApi(
    { port: 0, bind: '127.0.0.1', token: TOKEN, feedbackIntervalMs: 60_000 },
    {
      pool: db.pool, log, metrics: recorded.metrics, suppressions,
      publishVerdict: async (v) => {
        if (!broker.up) throw new Error('broker unavailable')
        published.push(v)
      },
    },
  )
  const call: Harness['call'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers }
    if (o.token !== null) headers.authorization = `Bearer ${o.token ?? TOKEN}`
    if (o.body !== undefined) headers['content-type'] ??= 'application/json'
    const res = await fetch(`http://127.0.0.1:${api.port}${path}`, {
      method, headers, body: o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body),
    })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers }
  }
  return { db, api, suppressions, published, broker, recorded, call }
}

let h: Harness
const harnesses: Harness[] = []
async function harness() {
  const started = await startHarness()
  harnesses.push(started)
  return started
}

afterEach(async () => {
  for (const x of harnesses.splice(0)) {
    await x.api.close()
    await x.suppressions.close()
    await x.db.drop()
  }
})

// ---------------------------------------------------------------------------------------------

describe('feedback API: authentication', () => {
  beforeEach(async () => {
    h = await harness()
    await insertAlert(h.db.pool, { id: 'a1', entity: '10.0.0.1' })
  })

  it('refuses a call without a token, with another token or another scheme, on every route', async () => {
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/alerts'], ['GET', '/api/alerts/a1'], ['POST', '/api/alerts/a1/verdict', { verdict: 'true_positive' }],
      ['POST', '/api/suppressions/preview', { scope: 'entity', value: '10.0.0.1' }], ['GET', '/api/suppressions'], ['DELETE', '/api/suppressions/1'],
      ['POST', '/api/suppressions', { scope: 'entity', value: '10.0.0.1', reason: 'r', expiresAt: inDays(1) }], ['GET', '/api/nothing-here'],
    ]
    for (const [method, path, body] of routes) {
      const none = await h.call(method, path, { body, token: null })
      expect(none.status, `${method} ${path}`).toBe(401)
      expect(none.body.error.code).toBe('UNAUTHENTICATED')
      expect(none.body.error.message).toMatch(/Authorization: Bearer/)
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="vigil"')
      expect((await h.call(method, path, { body, token: `${TOKEN}x` })).status).toBe(401)
      expect((await h.call(method, path, { body, token: null, headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` } })).status).toBe(401)
    }
    // nothing was done on the refused calls
    const { rows } = await h.db.pool.query(`SELECT (SELECT count(*) FROM alert_verdicts) AS v, (SELECT count(*) FROM suppressions) AS s, (SELECT status FROM alerts) AS st`)
    expect(rows[0]).toEqual({ v: '0', s: '0', st: 'open' })
    expect(h.published).toEqual([])
    expect(h.recorded.requests('GET /api/alerts', 401)).toBe(3)
    expect((await h.call('GET', '/api/alerts')).status).toBe(200)
  })
})

describe('feedback API: alerts', () => {
  beforeEach(async () => {
    h = await harness()
  })

  it('lists alerts most recently seen first, and filters by each field', async () => {
    // one alert as the alerter writes it, from a score
    const store = createAlertStore(h.db.pool, 10)
    const score: Score = {
      eventId: 'raw-logs/0/1', entity: { kind: 'source.ip', id: '203.0.113.9' }, eventTime: T0 + 5_000, receivedAt: T0, scoredAt: T0,
      family: 'sshd', action: 'login_failed', score: 0.9995, rawScore: 1, modelVersion: 'v1', features: { auth_failures: 40 },
      evidence: { topic: 'raw-logs', partition: 0, offset: '1', line: 'Failed password for root from 203.0.113.9' },
    }
    const raised = await store.record(buildAlert(score, { threshold: 0.99, windowMs: 600_000 }), score.eventId, score.eventTime)
    const fromScore = raised!.alert.alertId
    await insertAlert(h.db.pool, { id: 'b1', entity: '10.0.0.1', severity: 'low', lastSeen: T0 - 3_000 })
    await insertAlert(h.db.pool, { id: 'b2', entity: '10.0.0.1', detector: 'sigma:ssh-brute', severity: 'high', lastSeen: T0 - 2_000 })
    await insertAlert(h.db.pool, { id: 'b3', entity: 'web-1', kind: 'host.name', severity: 'medium', lastSeen: T0 - 1_000, status: 'resolved' })
    await h.call('POST', '/api/alerts/b1/verdict', { body: { verdict: 'false_positive' } })

    const ids = async (query: string) => {
      const res = await h.call('GET', `/api/alerts${query}`)
      expect(res.status, query).toBe(200)
      expect(res.body.count).toBe(res.body.alerts.length)
      return res.body.alerts.map((a: { alertId: string }) => a.alertId)
    }
    expect(await ids('')).toEqual([fromScore, 'b3', 'b2', 'b1'])
    expect(await ids('?entity=10.0.0.1')).toEqual(['b2', 'b1'])
    expect(await ids('?entity=web-1&entityKind=host.name')).toEqual(['b3'])
    expect(await ids('?entity=web-1&entityKind=source.ip')).toEqual([])
    expect(await ids('?detector=sigma:ssh-brute')).toEqual(['b2'])
    expect(await ids('?severity=high')).toEqual([fromScore, 'b2'])
    expect(await ids('?status=open')).toEqual([fromScore, 'b2'])
    expect(await ids('?status=resolved')).toEqual(['b3', 'b1']) // b1 by its verdict
    expect(await ids('?verdict=false_positive')).toEqual(['b1'])
    expect(await ids('?verdict=none')).toEqual([fromScore, 'b3', 'b2'])
    expect(await ids(`?since=${new Date(T0 - 2_000).toISOString()}`)).toEqual([fromScore, 'b3', 'b2'])
    expect(await ids(`?since=${T0 - 2_000}&until=${T0}`)).toEqual(['b3', 'b2'])
    expect(await ids('?limit=2')).toEqual([fromScore, 'b3'])
    expect(await ids('?entity=10.0.0.1&severity=low&status=resolved')).toEqual(['b1'])

    const listed = (await h.call('GET', '/api/alerts?entity=203.0.113.9')).body.alerts[0]
    expect(listed).toMatchObject({
      alertId: fromScore, detector: 'model:default', severity: 'high', entity: { kind: 'source.ip', id: '203.0.113.9' }, eventCount: 1,
      firstSeen: new Date(T0 + 5_000).toISOString(), status: 'open', verdict: null, resolution: null,
    })
    expect(listed).not.toHaveProperty('evidence')
  })

  it('shows one alert with its evidence, and says when there is none', async () => {
    await insertAlert(h.db.pool, { id: 'c1', entity: '10.0.0.9' })
    const res = await h.call('GET', '/api/alerts/c1')
    expect(res.status).toBe(200)
    expect(res.body.alert).toMatchObject({ alertId: 'c1', reasons: ['many failed logins'], features: { auth_failures: 12 }, score: 0.995 })
    expect(res.body.alert.evidence[0].line).toBe('sshd: Failed password from 10.0.0.9')
    // And as an OCSF Detection Finding, with its stored count and status.
    expect(res.body.alert.finding).toMatchObject({ class_uid: 2004, metadata: { uid: 'c1' }, status: 'New', finding_info: { uid: 'c1' } })
    expect(res.body.alert.finding.evidences[0].data.line).toBe('sshd: Failed password from 10.0.0.9')
    const missing = await h.call('GET', '/api/alerts/nope')
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'ALERT_NOT_FOUND', message: 'no alert nope' } } })
  })

  it('answers bad input with a JSON error naming the problem, and keeps serving', async () => {
    await insertAlert(h.db.pool, { id: 'd1', entity: '10.0.0.1' })
    const cases: Array<[string, string, unknown, number, string, RegExp]> = [
      ['GET', '/api/alerts?severity=urgent', undefined, 400, 'INVALID_REQUEST', /^invalid query: severity: Invalid option/],
      ['GET', '/api/alerts?sevrity=high', undefined, 400, 'INVALID_REQUEST', /unknown field\(s\) "sevrity"/],
      ['GET', '/api/alerts?limit=1&limit=2', undefined, 400, 'INVALID_REQUEST', /"limit" is given more than once/],
      ['GET', '/api/alerts?since=yesterday', undefined, 400, 'INVALID_REQUEST', /since: must be an ISO 8601 date-time/],
      ['GET', '/api/alerts/d1?x=1', undefined, 400, 'INVALID_REQUEST', /unknown field/],
      ['GET', '/api/alerts/%E0%A4%A', undefined, 400, 'INVALID_REQUEST', /not validly percent-encoded/],
      ['GET', '/api/alerts/a%20b', undefined, 400, 'INVALID_REQUEST', /alert id: is not an alert id/],
      ['POST', '/api/alerts/d1/verdict', '{"verdict": ', 400, 'INVALID_JSON', /^the body is not valid JSON/],
      ['POST', '/api/alerts/d1/verdict', {}, 400, 'INVALID_REQUEST', /^invalid verdict: verdict: /],
      ['POST', '/api/alerts/d1/verdict', { verdict: 'maybe' }, 400, 'INVALID_REQUEST', /verdict: Invalid option/],
      ['POST', '/api/alerts/d1/verdict', [1, 2], 400, 'INVALID_REQUEST', /invalid verdict/],
      ['POST', '/api/alerts/d1/verdict', 'null', 400, 'INVALID_REQUEST', /invalid verdict/],
      ['POST', '/api/alerts/nope/verdict', { verdict: 'true_positive' }, 404, 'ALERT_NOT_FOUND', /no alert nope/],
      ['POST', '/api/suppressions', { scope: 'cidr', value: '10.0.0.1/8', reason: 'r', expiresAt: inDays(1) }, 400, 'INVALID_REQUEST', /did you mean 10\.0\.0\.0\/8\?/],
      ['POST', '/api/suppressions', { scope: 'entity', value: 'x', reason: 'r', expiresAt: inDays(-1) }, 400, 'INVALID_REQUEST', /expiresAt: must be in the future/],
      ['POST', '/api/suppressions', { scope: 'entity', value: 'x', reason: 'r' }, 400, 'INVALID_REQUEST', /expiresAt/],
      ['POST', '/api/suppressions', { scope: 'entity', value: 'x', reason: 'r', expiresAt: inDays(1), alertId: 'nope' }, 422, 'ALERT_NOT_FOUND', /alertId: no alert nope/],
      ['POST', '/api/suppressions/preview', { scope: 'planet', value: 'x' }, 400, 'INVALID_REQUEST', /scope: Invalid option/],
      ['GET', '/api/suppressions?status=maybe', undefined, 400, 'INVALID_REQUEST', /status: Invalid option/],
      ['DELETE', '/api/suppressions/abc', undefined, 400, 'INVALID_REQUEST', /is not a suppression id/],
      ['DELETE', '/api/suppressions/99', undefined, 404, 'SUPPRESSION_NOT_FOUND', /no suppression 99/],
      // a parameter no route takes is refused, not ignored: no dry run turns into a real save or revocation
      ['POST', '/api/suppressions?dryRun=true', { scope: 'entity', value: 'x', reason: 'r', expiresAt: inDays(1) }, 400, 'INVALID_REQUEST', /^invalid query: unknown field\(s\) "dryRun"/],
      ['POST', '/api/alerts/d1/verdict?preview=1', { verdict: 'true_positive' }, 400, 'INVALID_REQUEST', /unknown field\(s\) "preview"/],
      ['DELETE', '/api/suppressions/99?dryRun=true', undefined, 400, 'INVALID_REQUEST', /unknown field\(s\) "dryRun"/],
      ['PUT', '/api/alerts/d1', undefined, 405, 'METHOD_NOT_ALLOWED', /PUT is not allowed on \/api\/alerts\/d1: use GET/],
      ['GET', '/api/verdicts', undefined, 404, 'NOT_FOUND', /no endpoint GET \/api\/verdicts/],
    ]
    for (const [method, path, body, status, code, message] of cases) {
      const res = await h.call(method, path, { body })
      expect({ status: res.status, code: res.body?.error?.code }, `${method} ${path} ${JSON.stringify(body)}`).toEqual({ status, code })
      expect(res.body.error.message).toMatch(message)
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    }
    const wrongType = await h.call('POST', '/api/alerts/d1/verdict', { body: 'verdict=true_positive', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
    expect(wrongType).toMatchObject({ status: 415, body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } } })
    const issues = (await h.call('POST', '/api/suppressions', { body: { scope: 'cidr', value: 'lab', reason: '' } })).body.error.details.issues
    expect(issues.map((i: { path: string }) => i.path).sort()).toEqual(['expiresAt', 'reason', 'value'])

    expect(await postOversized(h.api.port)).toBe(413)
    // none of it changed anything, and the server still answers
    const { rows } = await h.db.pool.query(`SELECT (SELECT count(*) FROM alert_verdicts) AS v, (SELECT count(*) FROM suppressions) AS s`)
    expect(rows[0]).toEqual({ v: '0', s: '0' })
    expect((await h.call('GET', '/api/alerts/d1')).status).toBe(200)
  })
})

/** A body over the limit, sent raw: the answer is 413 whether or not the server read all of it. */
function postOversized(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ verdict: 'true_positive', note: 'x'.repeat(200_000) })
    const req = httpRequest({
      host: '127.0.0.1', port, method: 'POST', path: '/api/alerts/d1/verdict',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('feedback API: verdicts', () => {
  it('stores a verdict, resolves the alert, publishes it, flags a confirmed entity for the trainer and exports the ratios', async () => {
    h = await harness()
    await insertAlert(h.db.pool, { id: 'v1', entity: '10.0.0.1', lastSeen: T0 })
    await insertAlert(h.db.pool, { id: 'v2', entity: '10.0.0.2', detector: 'sigma:ssh-brute' })
    await insertAlert(h.db.pool, { id: 'v3', entity: '10.0.0.3' })

    const res = await h.call('POST', '/api/alerts/v1/verdict', { body: { verdict: 'true_positive', note: 'confirmed brute force', analyst: 'ana' } })
    expect(res.status).toBe(200)
    const expected: FeedbackVerdict = {
      alertId: 'v1', verdict: 'true_positive', note: 'confirmed brute force', analyst: 'ana', detector: 'model:default', modelVersion: 'v7',
      entity: { kind: 'source.ip', id: '10.0.0.1' }, firstSeen: T0 - 60_000, lastSeen: T0, decidedAt: res.body.verdict.decidedAt,
    }
    expect(res.body).toEqual({ verdict: expected, published: true })
    expect(h.published).toEqual([expected])

    const stored = await h.db.pool.query('SELECT verdict, note, analyst, detector, entity_id, published FROM alert_verdicts')
    expect(stored.rows).toEqual([{ verdict: 'true_positive', note: 'confirmed brute force', analyst: 'ana', detector: 'model:default', entity_id: '10.0.0.1', published: true }])
    const alert = (await h.call('GET', '/api/alerts/v1')).body.alert
    expect(alert).toMatchObject({ status: 'resolved', resolution: 'true_positive', verdict: { verdict: 'true_positive', note: 'confirmed brute force', analyst: 'ana' } })
    const flags = await h.db.pool.query('SELECT entity_kind, entity_id, flagged_from, flagged_to, reason, source FROM flagged_entities')
    expect(flags.rows).toEqual([{
      entity_kind: 'source.ip', entity_id: '10.0.0.1', flagged_from: new Date(T0 - 60_000), flagged_to: new Date(T0), reason: 'alert confirmed', source: 'alert:v1',
    }])

    await h.call('POST', '/api/alerts/v2/verdict', { body: { verdict: 'false_positive' } })
    await h.call('POST', '/api/alerts/v3/verdict', { body: { verdict: 'false_positive' } })
    expect(h.recorded.ratio('model:default')).toBe(0.5)
    expect(h.recorded.ratio('sigma:ssh-brute')).toBe(1)

    // changed mind: the latest verdict counts, the flag is withdrawn, and the change is published
    const changed = await h.call('POST', '/api/alerts/v1/verdict', { body: { verdict: 'false_positive', note: 'pentest' } })
    expect(changed.body.verdict).toMatchObject({ verdict: 'false_positive', note: 'pentest', analyst: null })
    expect(h.published.map((v) => `${v.alertId}:${v.verdict}`)).toEqual(['v1:true_positive', 'v2:false_positive', 'v3:false_positive', 'v1:false_positive'])
    expect((await h.db.pool.query('SELECT count(*)::int AS n FROM flagged_entities')).rows[0].n).toBe(0)
    expect((await h.db.pool.query('SELECT count(*)::int AS n FROM alert_verdicts')).rows[0].n).toBe(3)
    expect(h.recorded.ratio('model:default')).toBe(1)
  })

  it('keeps a verdict the topic did not take, and publishes it once the broker is back', async () => {
    h = await harness()
    await insertAlert(h.db.pool, { id: 'p1', entity: '10.0.0.1' })
    h.broker.up = false
    const res = await h.call('POST', '/api/alerts/p1/verdict', { body: { verdict: 'false_positive' } })
    expect(res).toMatchObject({ status: 200, body: { published: false, verdict: { alertId: 'p1', verdict: 'false_positive' } } })
    expect((await h.db.pool.query('SELECT published FROM alert_verdicts')).rows).toEqual([{ published: false }])

    h.broker.up = true
    // what the API's timer runs: a second API on the same database (another instance) picks it up too
    const other = await startApi(
      { port: 0, bind: '127.0.0.1', token: TOKEN, feedbackIntervalMs: 60_000 },
      { pool: h.db.pool, log, metrics: recordingMetrics().metrics, suppressions: h.suppressions, publishVerdict: async (v) => void h.published.push(v) },
    )
    await other.close()
    expect(h.published.map((v) => v.alertId)).toEqual(['p1'])
    expect((await h.db.pool.query('SELECT published FROM alert_verdicts')).rows).toEqual([{ published: true }])
  })

  it('refuses a verdict with a clear message when flagged_entities is missing, and stores nothing', async () => {
    h = await harness()
    await insertAlert(h.db.pool, { id: 'm1', entity: '10.0.0.1' })
    await h.db.pool.query('DROP TABLE flagged_entities')
    const res = await h.call('POST', '/api/alerts/m1/verdict', { body: { verdict: 'true_positive' } })
    expect(res.status).toBe(503)
    expect(res.body.error).toEqual({ code: 'FLAGGED_ENTITIES_MISSING', message: 'the flagged_entities table is not in this database: run the alerter\'s migrations' })
    expect((await h.db.pool.query('SELECT count(*)::int AS n FROM alert_verdicts')).rows[0].n).toBe(0)
    expect((await h.db.pool.query('SELECT status FROM alerts')).rows).toEqual([{ status: 'open' }])
    expect(h.published).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------------
// Suppressions over a seeded history

/** mulberry32: the same seed gives the same history. */
function seeded(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * 400 alerts over the last 10 days: IPv4 and IPv6 sources (source.ip), hosts by name and by address
 * (host.name), users (user.name), one name both a host and a user; three detectors; about a third resolved.
 */
function seededHistory(seed: number): AlertFixture[] {
  const random = seeded(seed)
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!
  const int = (n: number) => Math.floor(random() * n)
  // the users each alert's event names, from a stream of their own: the rest of the history is as it was before they were added
  const userRandom = seeded(seed + 1)
  const namedUsers = () => [[], [], ['root'], ['backup'], ['deploy', 'backup']][Math.floor(userRandom() * 5)]!
  const entities = () => pick([
    () => ({ kind: 'source.ip', entity: `10.${int(3)}.${int(4)}.${int(256)}` }),
    () => ({ kind: 'source.ip', entity: `192.168.${int(2)}.${int(256)}` }),
    () => ({ kind: 'source.ip', entity: `2001:db8:${int(3).toString(16)}::${(1 + int(500)).toString(16)}` }),
    () => ({ kind: 'host.name', entity: pick(['web-0', 'web-1', 'web-2', 'web-3', 'backup']) }), // a host named like a user
    () => ({ kind: 'host.name', entity: `10.1.${int(2)}.${int(10)}` }),
    () => ({ kind: 'user.name', entity: pick(['root', 'backup', 'deploy']) }),
  ])()
  return Array.from({ length: 400 }, (_, i) => ({
    id: `h${i}`, ...entities(),
    detector: pick(['model:default', 'sigma:ssh-brute', 'sigma:sudo-abuse']),
    ageDays: awayFromWeekEdge(random() * 10),
    lastSeen: T0 - int(1_000_000),
    status: random() < 0.33 ? 'resolved' : 'open',
    users: namedUsers(),
  }))
}

/** Ages near the preview's 7-day edge move off it, so the clock moving between two queries changes no count. */
const awayFromWeekEdge = (days: number) => (Math.abs(days - 7) < 0.01 ? days + 0.02 : days)

/** The alerts a match covers by Postgres' own reckoning (inet for networks): an oracle independent of the matcher. */
async function oracle(pool: PgPool, m: SuppressionMatch, withinDays: number | null): Promise<{ all: string[]; open: string[] }> {
  const cond = {
    entity: `entity_id = $1 AND ($2::text IS NULL OR entity_kind = $2)`,
    // the fixture's addresses are those with source.ip kind, and host.name entities beginning with a digit
    cidr: `(entity_kind = 'source.ip' OR (entity_kind = 'host.name' AND entity_id ~ '^[0-9]')) AND entity_id::inet <<= $1::cidr AND $2::text IS NULL`,
    // the evidence in the body, by jsonb containment, not the users column the matcher's SQL reads
    user: `(entity_kind = 'user.name' AND entity_id = $1 OR body->'evidence' @> jsonb_build_array(jsonb_build_object('users', jsonb_build_array($1::text)))) AND $2::text IS NULL`,
    rule: `detector = 'sigma:' || $1 AND $2::text IS NULL`,
    detector: `detector = $1 AND $2::text IS NULL`,
  }[m.scope]
  const { rows } = await pool.query<{ alert_id: string; status: string }>(
    `SELECT alert_id, status FROM alerts WHERE ${cond} AND ($3::int IS NULL OR created_at >= now() - make_interval(days => $3)) ORDER BY alert_id`,
    [m.value, m.entityKind ?? null, withinDays],
  )
  return { all: rows.map((r) => r.alert_id), open: rows.filter((r) => r.status === 'open').map((r) => r.alert_id) }
}

const MATCHES: SuppressionMatch[] = [
  { scope: 'cidr', value: '10.1.0.0/16' },
  { scope: 'cidr', value: '10.0.2.128/25' },
  { scope: 'cidr', value: '2001:db8:1::/48' },
  { scope: 'cidr', value: '192.168.1.17/32' },
  { scope: 'entity', value: 'web-3' },
  { scope: 'entity', value: 'web-3', entityKind: 'source.ip' },
  { scope: 'user', value: 'backup' },
  { scope: 'rule', value: 'sudo-abuse' },
  { scope: 'detector', value: 'model:default' },
]

describe('feedback API: suppressions', () => {
  beforeEach(async () => {
    h = await harness()
    for (const a of seededHistory(42)) await insertAlert(h.db.pool, a)
  })

  it('previews, for each scope, the alerts of the last 7 days it covers, as Postgres counts them', async () => {
    let nonEmpty = 0
    for (const match of MATCHES) {
      const res = await h.call('POST', '/api/suppressions/preview', { body: match })
      expect(res.status, JSON.stringify(match)).toBe(200)
      const expected = await oracle(h.db.pool, match, 7)
      const { preview } = res.body
      expect({ matched: preview.matched, open: preview.open }, JSON.stringify(match)).toEqual({ matched: expected.all.length, open: expected.open.length })
      expect(Object.values(preview.byDetector as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(preview.matched)
      expect(preview.sample.length).toBe(Math.min(10, preview.matched))
      for (const s of preview.sample) expect(expected.all).toContain(s.alertId)
      expect(preview.days).toBe(7)
      if (preview.matched > 0 && preview.matched < 400) nonEmpty++
    }
    expect(nonEmpty).toBeGreaterThanOrEqual(7) // the history exercises the scopes, not only empty answers
    // older alerts are outside the window: the same match over all time covers more
    const all = await oracle(h.db.pool, MATCHES[8]!, null)
    const week = (await h.call('POST', '/api/suppressions/preview', { body: MATCHES[8] })).body.preview.matched
    expect(all.all.length).toBeGreaterThan(week)
    // a preview saves nothing
    expect((await h.db.pool.query('SELECT count(*)::int AS n FROM suppressions')).rows[0].n).toBe(0)
  })

  it('saving resolves exactly the open alerts it covers (of any age), links the alert that prompted it, and applies at once', async () => {
    const before = await h.db.pool.query<{ alert_id: string; status: string; resolution: string | null }>('SELECT alert_id, status, resolution FROM alerts ORDER BY alert_id')
    const match: SuppressionMatch = { scope: 'cidr', value: '10.1.0.0/16' }
    const covered = await oracle(h.db.pool, match, null)
    expect(covered.open.length).toBeGreaterThan(5)
    const prompt = covered.all[0]!

    const res = await h.call('POST', '/api/suppressions', {
      body: { ...match, reason: 'vulnerability scanner subnet', expiresAt: inDays(30), alertId: prompt, createdBy: 'ana' },
    })
    expect(res.status).toBe(201)
    const { suppression } = res.body
    expect(suppression).toMatchObject({ scope: 'cidr', value: '10.1.0.0/16', reason: 'vulnerability scanner subnet', alertId: prompt, createdBy: 'ana', status: 'active', revokedAt: null })
    expect(res.body.resolved).toBe(covered.open.length)
    expect(res.body.resolvedAlertIds).toEqual([...covered.open].sort())

    const after = await h.db.pool.query<{ alert_id: string; status: string; resolution: string | null; suppression_id: string | null }>(
      'SELECT alert_id, status, resolution, suppression_id FROM alerts ORDER BY alert_id',
    )
    const resolvedNow = new Set(covered.open)
    for (const [i, row] of after.rows.entries()) {
      if (resolvedNow.has(row.alert_id)) {
        expect(row).toMatchObject({ status: 'resolved', resolution: 'suppressed', suppression_id: String(suppression.suppressionId) })
      } else {
        expect({ status: row.status, resolution: row.resolution }, row.alert_id).toEqual({ status: before.rows[i]!.status, resolution: before.rows[i]!.resolution })
      }
    }
    // the alerting path: this instance's cache was reloaded by the save
    const alerts = (await h.db.pool.query<{ alert_id: string; detector: string; entity_kind: string; entity_id: string }>(
      'SELECT alert_id, detector, entity_kind, entity_id FROM alerts ORDER BY alert_id',
    )).rows
    const suppressed = alerts.filter((a) => h.suppressions.isSuppressed({ detector: a.detector, entity: { kind: a.entity_kind, id: a.entity_id } }))
    expect(suppressed.map((a) => a.alert_id)).toEqual(covered.all)
    expect(h.suppressions.isSuppressed({ detector: 'model:default', entity: { kind: 'source.ip', id: '10.1.77.3' } })?.suppressionId).toBe(suppression.suppressionId)

    // listed, then revoked: it stops applying, the alerts it resolved stay resolved
    expect((await h.call('GET', '/api/suppressions')).body.suppressions.map((s: { suppressionId: number }) => s.suppressionId)).toEqual([suppression.suppressionId])
    const revoked = await h.call('DELETE', `/api/suppressions/${suppression.suppressionId}`)
    expect(revoked.body.suppression).toMatchObject({ status: 'revoked' })
    expect(h.suppressions.isSuppressed({ detector: 'model:default', entity: { kind: 'source.ip', id: '10.1.77.3' } })).toBeUndefined()
    expect((await h.call('GET', '/api/suppressions')).body.count).toBe(0)
    expect((await h.call('GET', '/api/suppressions?status=revoked')).body.count).toBe(1)
    expect((await h.db.pool.query(`SELECT count(*)::int AS n FROM alerts WHERE resolution = 'suppressed'`)).rows[0].n).toBe(covered.open.length)
  })

  it('lists the alerts a user is involved in, as the user scope matches them: the entity, or a user an event names', async () => {
    for (const user of ['backup', 'root', 'deploy', 'nobody']) {
      const listed = (await h.call('GET', `/api/alerts?user=${user}&limit=1000`)).body.alerts.map((a: { alertId: string }) => a.alertId).sort()
      expect(listed, user).toEqual((await oracle(h.db.pool, { scope: 'user', value: user }, null)).all)
      if (user !== 'nobody') expect(listed.length, user).toBeGreaterThan(20)
    }
    // a host called backup is not the user backup
    const hostsCalledBackup = (await h.call('GET', '/api/alerts?entity=backup&entityKind=host.name&limit=1000')).body.alerts
    const byUser = (await h.call('GET', '/api/alerts?entity=backup&entityKind=host.name&user=backup&limit=1000')).body.alerts
    expect(hostsCalledBackup.length).toBeGreaterThan(byUser.length)
  })

  it('ignores expired suppressions: not listed as active, not applied; a new one applies until its own expiry', async () => {
    await h.db.pool.query(
      `INSERT INTO suppressions (scope, value, reason, created_at, expires_at) VALUES
         ('user', 'backup', 'nightly job (ended)', now() - interval '3 days', now() - interval '1 day'),
         ('cidr', '192.168.0.0/16', 'lab (ended)', now() - interval '3 days', now() - interval '1 second')`,
    )
    await h.suppressions.refresh()
    expect(h.suppressions.size()).toBe(0)
    expect(h.suppressions.isSuppressed({ detector: 'model:default', entity: { kind: 'user.name', id: 'backup' } })).toBeUndefined()
    expect(h.suppressions.isSuppressed({ detector: 'model:default', entity: { kind: 'source.ip', id: '192.168.1.1' } })).toBeUndefined()
    expect((await h.call('GET', '/api/suppressions')).body.count).toBe(0)
    const expired = (await h.call('GET', '/api/suppressions?status=expired')).body
    expect(expired.suppressions.map((s: { value: string; status: string }) => `${s.value}:${s.status}`).sort()).toEqual(['192.168.0.0/16:expired', 'backup:expired'])
    expect((await h.call('GET', '/api/suppressions?status=all')).body.count).toBe(2)

    // a suppression saved now for one of them applies until its own expiry, and not after
    const open = await oracle(h.db.pool, { scope: 'user', value: 'backup' }, null)
    const saved = await h.call('POST', '/api/suppressions', { body: { scope: 'user', value: 'backup', reason: 'job again', expiresAt: inDays(1) } })
    expect(saved.body.resolved).toBe(open.open.length)
    const subject = { detector: 'model:default', entity: { kind: 'user.name', id: 'backup' } }
    expect(h.suppressions.isSuppressed(subject)?.suppressionId).toBe(saved.body.suppression.suppressionId)
    expect(h.suppressions.isSuppressed(subject, Date.now() + DAY_MS + 1_000)).toBeUndefined()
  })
})
