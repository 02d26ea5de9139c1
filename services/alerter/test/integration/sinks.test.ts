import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { createLogger, type PgPool } from '@vigil/platform'
import type { Alert, Score } from '@vigil/schemas'
import { freshTestDatabase, waitFor, type TestDatabase } from '@vigil/testkit'
import { createAlertStore, type AlertStore } from '../../src/adapters/alert-store.ts'
import { migrateAlerterDatabase } from '../../src/adapters/database.ts'
import { buildAlert } from '../../src/build-alert.ts'
import { createSinks, type Notifier, type SinkConfig } from '../../src/sinks/create-sinks.ts'
import { createSinkDispatcher } from '../../src/sinks/dispatcher.ts'
import { createOutbox } from '../../src/sinks/outbox.ts'
import { createSinkEvents, type SinkMetrics } from '../../src/sinks/sink-events.ts'
import { createSlackSink } from '../../src/sinks/slack-sink.ts'
import { DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from '../../src/sinks/webhook-signature.ts'

const log = createLogger('alerter', 'silent', 'test')
const SECRET = 'webhook-secret-for-tests'
const POLICY = { threshold: 0.99, windowMs: 600_000 }
const T0 = Date.UTC(2026, 5, 1, 12)
const HIGH = 0.9995 // buildAlert: high at 0.999 and over, medium below
const MEDIUM = 0.995

// Short timings so failures and recoveries take milliseconds; the behaviour is the production one.
// The timeout is the production default: no receiver here hangs unless a test says so, and a shorter
// one can time out a delivery the receiver has taken on a loaded machine, which the retry then
// delivers twice (at-least-once, as designed), where these tests count each alert once.
const FAST = { SINK_TIMEOUT_MS: 5_000, SINK_RETRY_BASE_MS: 20, SINK_RETRY_MAX_MS: 200, SINK_POLL_MS: 20 }

// ---------------------------------------------------------------------------------------------
// A fresh database per test, with the alerter's migrations

const freshDatabase = (pgUrl: string) => freshTestDatabase(pgUrl, 'alerter', (pool) => migrateAlerterDatabase(pool, log))

// ---------------------------------------------------------------------------------------------
// Alerts, raised the way the alerter raises them

function score(entity: number, value: number, event = 0): Score {
  return {
    eventId: `raw-logs/0/${entity}-${event}`,
    entity: { kind: 'ip', id: `10.0.${Math.floor(entity / 250)}.${entity % 250}` },
    eventTime: T0 + event * 1_000,
    receivedAt: T0, scoredAt: T0, family: 'sshd', action: 'login_failed',
    score: value, rawScore: 1, modelVersion: 'v1', features: { auth_failures: 9 },
    evidence: { topic: 'raw-logs', partition: 0, offset: `${entity}-${event}`, line: `Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root from 10.0.0.${entity}` },
  }
}

/**
 * What handle-scores does with the sinks wired in: fold each score into its alert, enqueue the
 * alerts to publish while publishOnce holds them (raise-alerts.ts, without the topic). Returns the alerts enqueued.
 */
async function handleScores(scores: Score[], store: AlertStore, sinks: Notifier): Promise<Alert[]> {
  const toPublish = new Map<string, Alert>()
  for (const s of scores) {
    const recorded = await store.record(buildAlert(s, POLICY), s.eventId, s.eventTime)
    if (recorded?.needsPublishing) toPublish.set(recorded.alert.alertId, recorded.alert)
  }
  return store.publishOnce([...toPublish.keys()], (alerts) => sinks.enqueue(alerts))
}

async function outboxRows(pool: PgPool, sink?: string) {
  const { rows } = await pool.query<{ alert_id: string; sink: string; status: string; attempts: number; last_error: string | null; locked: boolean }>(
    `SELECT alert_id, sink, status, attempts, last_error, locked_until IS NOT NULL AS locked FROM sink_outbox
     WHERE $1::text IS NULL OR sink = $1 ORDER BY alert_id, sink`,
    [sink ?? null],
  )
  return rows
}

const allDelivered = (pool: PgPool, sink: string, n: number) => async () => {
  const rows = await outboxRows(pool, sink)
  return rows.length === n && rows.every((r) => r.status === 'delivered')
}

// ---------------------------------------------------------------------------------------------
// A local HTTP receiver (Slack's incoming webhook or a generic one): each request is answered as
// `answer` says, and kept with the alert it is about and the status it got

type Answer = 'ok' | 'error' | 'hang' | { status: number; headers?: Record<string, string> }

interface Received {
  alertId: string
  headers: IncomingHttpHeaders
  body: string
  at: number
  status: number | undefined
}

interface HttpReceiver {
  url: string
  answer: (request: Received) => Answer | Promise<Answer>
  requests: Received[]
  /** alert ids of the requests answered 2xx, in arrival order */
  accepted(): string[]
  /** down: connections are refused until `up` */
  down(): Promise<void>
  up(): Promise<void>
}

const receivers: Array<{ close(): Promise<void> }> = []

async function startHttpReceiver(): Promise<HttpReceiver> {
  const requests: Received[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      const request: Received = { alertId: alertIdOf(req.headers, body), headers: req.headers, body, at: performance.now(), status: undefined }
      requests.push(request)
      void Promise.resolve(receiver.answer(request)).then((answer) => {
        if (answer === 'hang') return
        const { status, headers } = answer === 'ok' ? { status: 200, headers: {} } : answer === 'error' ? { status: 500, headers: {} } : answer
        request.status = status
        res.writeHead(status, headers).end(status < 300 ? 'ok' : 'not now')
      })
    })
  })
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const close = async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  await listen(0)
  const port = (server.address() as AddressInfo).port
  const receiver: HttpReceiver = {
    url: `http://127.0.0.1:${port}/hook`,
    answer: () => 'ok',
    requests,
    accepted: () => requests.filter((r) => r.status !== undefined && r.status < 300).map((r) => r.alertId),
    down: close,
    up: () => listen(port),
  }
  receivers.push({ close: () => (server.listening ? close() : Promise.resolve()) })
  return receiver
}

/** The webhook names the alert in a header; a Slack message in its last context line. */
function alertIdOf(headers: IncomingHttpHeaders, body: string): string {
  if (headers[DELIVERY_HEADER]) return String(headers[DELIVERY_HEADER])
  return /Vigil alert `([0-9a-f]+)`/.exec(body)?.[1] ?? '?'
}

// ---------------------------------------------------------------------------------------------
// A local SMTP server (smtp-server): each message is refused with `refuseWith` (an SMTP code) or kept

interface Mail {
  alertId: string
  subject: string
  from: string
  to: string
  text: string
  html: string
}

interface SmtpReceiver {
  url: string
  refuseWith: () => number | undefined
  mails: Mail[]
  refused: number
}

async function startSmtpReceiver(options: { tls?: boolean; auth?: { user: string; pass: string } } = {}): Promise<SmtpReceiver> {
  const receiver: SmtpReceiver = { url: '', refuseWith: () => undefined, mails: [], refused: 0 }
  const server = new SMTPServer({
    secure: options.tls ?? false,
    authOptional: !options.auth,
    allowInsecureAuth: true,
    disabledCommands: options.tls ? [] : ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === options.auth?.user && auth.password === options.auth?.pass) callback(null, { user: auth.username })
      else callback(new Error('invalid credentials'))
    },
    onData(stream, _session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const code = receiver.refuseWith()
        if (code) {
          receiver.refused++
          return callback(Object.assign(new Error('refused by the test'), { responseCode: code }))
        }
        receiver.mails.push(parseMail(Buffer.concat(chunks).toString()))
        callback()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.server.address() as AddressInfo).port
  const auth = options.auth ? `${options.auth.user}:${options.auth.pass}@` : ''
  receiver.url = options.tls ? `smtps://${auth}127.0.0.1:${port}?tls.rejectUnauthorized=false` : `smtp://${auth}127.0.0.1:${port}`
  receivers.push({ close: () => new Promise((resolve) => server.close(() => resolve())) })
  return receiver
}

/** Just enough MIME for nodemailer's multipart/alternative: headers, and the plain and HTML parts decoded. */
function parseMail(raw: string): Mail {
  const [head = '', ...rest] = raw.split('\r\n\r\n')
  const headers = parseHeaders(head)
  const boundary = /boundary="?([^";]+)"?/.exec(headers['content-type'] ?? '')?.[1]
  const parts: Record<string, string> = {}
  for (const part of boundary ? rest.join('\r\n\r\n').split(`--${boundary}`) : []) {
    const split = part.indexOf('\r\n\r\n')
    if (split < 0) continue
    const h = parseHeaders(part.slice(0, split))
    const type = (h['content-type'] ?? '').split(';')[0]!.trim()
    parts[type] = decodeBody(part.slice(split + 4).replace(/\r\n$/, ''), h['content-transfer-encoding'] ?? '7bit')
  }
  return {
    alertId: /<alert-([0-9a-f]+)@/.exec(headers['message-id'] ?? '')?.[1] ?? '?',
    subject: headers.subject ?? '', from: headers.from ?? '', to: headers.to ?? '',
    text: parts['text/plain'] ?? '', html: parts['text/html'] ?? '',
  }
}

function parseHeaders(head: string): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  return headers
}

function decodeBody(body: string, encoding: string): string {
  if (/base64/i.test(encoding)) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
  if (/quoted-printable/i.test(encoding)) {
    const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    return Buffer.from(bytes, 'latin1').toString('utf8')
  }
  return body
}

// ---------------------------------------------------------------------------------------------
// Metrics as the sinks write them, kept in memory

function recordingMetrics() {
  const values = new Map<string, number>()
  const key = (name: string, labels: object) => `${name} ${JSON.stringify(labels)}`
  const add = (name: string, labels: object, v: number) => values.set(key(name, labels), (values.get(key(name, labels)) ?? 0) + v)
  const metrics: SinkMetrics = {
    sinkEnqueued: { inc: (labels, v = 1) => add('enqueued', labels, v) },
    sinkDeliveries: { inc: (labels) => add('deliveries', labels, 1) },
    sinkDeliveryDuration: { observe: (labels) => add('durations', labels, 1) },
    sinkBacklog: { set: (labels, v) => values.set(key('backlog', labels), v) },
    sinkBacklogAge: { set: (labels, v) => values.set(key('backlogAge', labels), v) },
  }
  return { metrics, value: (name: string, labels: object) => values.get(key(name, labels)) ?? 0 }
}

function sinkConfig(overrides: Partial<SinkConfig>): SinkConfig {
  return { SLACK_MIN_SEVERITY: 'medium', EMAIL_MIN_SEVERITY: 'medium', WEBHOOK_MIN_SEVERITY: 'medium', ...FAST, ...overrides }
}

const counts = (ids: string[]) => ids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>())
/** Each of `alerts` exactly once, nothing else. */
const expectEachOnce = (ids: string[], alerts: Alert[]) => {
  expect([...counts(ids).entries()].sort()).toEqual(alerts.map((a) => [a.alertId, 1]).sort())
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// ---------------------------------------------------------------------------------------------

describe('alert sinks', () => {
  let db: TestDatabase
  let store: AlertStore
  const open: Notifier[] = []
  const sinksFor = (config: Partial<SinkConfig>, pool = db.pool, metrics = recordingMetrics().metrics) => {
    let n = 0
    const random = () => ((n = (n * 16807 + 11) % 2_147_483_647) / 2_147_483_647) // seeded jitter
    const sinks = createSinks(sinkConfig(config), { pool, log, metrics, random })
    open.push(sinks)
    return sinks
  }

  beforeEach(async () => {
    db = await freshDatabase(inject('stack').PG_URL)
    store = createAlertStore(db.pool, 10)
  })
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()))
    await Promise.all(receivers.splice(0).map((r) => r.close()))
    await db.drop()
  })

  it('delivers to Slack, email and the webhook, each sink receiving the severities routed to it', async () => {
    const slack = await startHttpReceiver()
    const webhook = await startHttpReceiver()
    const smtp = await startSmtpReceiver({ tls: true, auth: { user: 'vigil', pass: 's3cret' } })
    const { metrics, value } = recordingMetrics()
    const sinks = sinksFor({
      SLACK_WEBHOOK_URL: slack.url, SLACK_MIN_SEVERITY: 'high',
      SMTP_URL: smtp.url, EMAIL_FROM: 'vigil@example.org', EMAIL_TO: ['soc@example.org', 'oncall@example.org'],
      WEBHOOK_URL: webhook.url, WEBHOOK_SECRET: SECRET,
    }, db.pool, metrics)
    expect(sinks.routes).toEqual([{ sink: 'slack', minSeverityId: 4 }, { sink: 'email', minSeverityId: 3 }, { sink: 'webhook', minSeverityId: 3 }])

    // Entity 1 raises a high alert with two repeats folded in before delivery; entity 2 a medium one.
    const alerts = await handleScores([score(1, HIGH, 0), score(1, HIGH, 1), score(1, MEDIUM, 2), score(2, MEDIUM)], store, sinks)
    const [high, medium] = alerts as [Alert, Alert]
    expect([high.severity, medium.severity]).toEqual(['high', 'medium'])

    await waitFor('every delivery', async () => (await outboxRows(db.pool)).filter((r) => r.status === 'delivered').length === 5, 15_000, 20)
    const rows = await outboxRows(db.pool)
    expect(rows.map((r) => [r.alert_id, r.sink, r.attempts, r.locked]), `retried: ${JSON.stringify(rows.filter((r) => r.attempts > 1))}`).toEqual([
      ...[[high.alertId, 'email'], [high.alertId, 'slack'], [high.alertId, 'webhook']],
      ...[[medium.alertId, 'email'], [medium.alertId, 'webhook']],
    ].sort().map(([id, sink]) => [id, sink, 1, false]))

    // Slack: Block Kit, the high alert only, its count read at delivery time.
    expect(slack.accepted()).toEqual([high.alertId])
    const message = JSON.parse(slack.requests[0]!.body)
    expect(message.blocks[0].text.text).toBe(high.title)
    expect(message.text).toBe(`[HIGH] ${high.title} (2 similar events folded in)`)

    // Webhook: both alerts, each signed over its timestamp and body.
    expect(webhook.accepted().sort()).toEqual([high.alertId, medium.alertId].sort())
    for (const r of webhook.requests) {
      expect(verifyWebhookSignature({ body: r.body, timestamp: r.headers[TIMESTAMP_HEADER] as string, signature: r.headers[SIGNATURE_HEADER] as string, secret: SECRET })).toBe(true)
      expect(verifyWebhookSignature({ body: r.body, timestamp: r.headers[TIMESTAMP_HEADER] as string, signature: r.headers[SIGNATURE_HEADER] as string, secret: 'another' })).toBe(false)
      const body = JSON.parse(r.body)
      expect(body.alert.alertId).toBe(r.alertId)
      expect(body.eventCount).toBe(r.alertId === high.alertId ? 3 : 1)
    }

    // Email over TLS with authentication: both alerts, plain text and HTML.
    expect(smtp.mails.map((m) => m.alertId).sort()).toEqual([high.alertId, medium.alertId].sort())
    const mail = smtp.mails.find((m) => m.alertId === high.alertId)!
    expect(mail.subject).toBe(`[Vigil HIGH] ip 10.0.0.1: ${high.title}`)
    expect(mail.from).toBe('vigil@example.org')
    expect(mail.to).toBe('soc@example.org, oncall@example.org')
    expect(mail.text).toContain('Events:     3 (2 similar events folded in)')
    expect(mail.html).toContain('<td>3 (2 similar events folded in)</td>')

    expect(value('enqueued', { sink: 'slack' })).toBe(1)
    expect(value('enqueued', { sink: 'email' })).toBe(2)
    expect(value('deliveries', { sink: 'webhook', outcome: 'delivered' })).toBe(2)
  })

  it('notifies once for a replayed batch and for an alert enqueued again after delivery', async () => {
    const slack = await startHttpReceiver()
    const webhook = await startHttpReceiver()
    const sinks = sinksFor({ SLACK_WEBHOOK_URL: slack.url, WEBHOOK_URL: webhook.url, WEBHOOK_SECRET: SECRET })
    const batch = Array.from({ length: 10 }, (_, i) => score(i, HIGH))

    const alerts = await handleScores(batch, store, sinks)
    await sinks.enqueue(alerts) // the same alerts again before delivery
    await waitFor('deliveries', allDelivered(db.pool, 'slack', 10), 15_000, 20)
    await waitFor('deliveries', allDelivered(db.pool, 'webhook', 10), 15_000, 20)

    expect(await handleScores(batch, store, sinks)).toEqual([]) // the replay: every event already counted
    await sinks.enqueue(alerts) // and once more after delivery
    await sleep(20 * FAST.SINK_POLL_MS)
    expectEachOnce(slack.accepted(), alerts)
    expectEachOnce(webhook.accepted(), alerts)
    expect(slack.requests).toHaveLength(10)
  })

  it('holds a sink\'s alerts while its receiver fails, then delivers each exactly once when it is back', async () => {
    const slack = await startHttpReceiver()
    const smtp = await startSmtpReceiver()
    slack.answer = () => 'error'
    smtp.refuseWith = () => 451 // mailbox busy: try again later
    const sinks = sinksFor({ SLACK_WEBHOOK_URL: slack.url, SMTP_URL: smtp.url, EMAIL_FROM: 'vigil@example.org', EMAIL_TO: ['soc@example.org'] })
    const alerts = await handleScores(Array.from({ length: 20 }, (_, i) => score(i, HIGH)), store, sinks)

    // Slack answers 500, then is gone (connection refused), then comes back.
    await waitFor('Slack failures', () => slack.requests.length >= 3, 10_000, 10)
    await slack.down()
    await waitFor('refused connections recorded', async () => (await outboxRows(db.pool, 'slack')).some((r) => r.last_error?.includes('ECONNREFUSED')), 10_000, 20)
    await waitFor('SMTP refusals', () => smtp.refused >= 3, 10_000, 10)
    expect((await outboxRows(db.pool)).filter((r) => r.status === 'delivered')).toEqual([])

    slack.answer = () => 'ok'
    await slack.up()
    smtp.refuseWith = () => undefined
    await waitFor('Slack deliveries', allDelivered(db.pool, 'slack', 20), 15_000, 20)
    await waitFor('email deliveries', allDelivered(db.pool, 'email', 20), 15_000, 20)
    await sleep(10 * FAST.SINK_POLL_MS)
    expectEachOnce(slack.accepted(), alerts)
    expectEachOnce(smtp.mails.map((m) => m.alertId), alerts)
    const slackRows = await outboxRows(db.pool, 'slack')
    expect(slackRows.some((r) => r.attempts > 1 && /SINK_(UNAVAILABLE: HTTP 500|UNREACHABLE)/.test(r.last_error ?? ''))).toBe(true)
    expect((await outboxRows(db.pool, 'email')).some((r) => r.attempts > 1 && r.last_error?.startsWith('SINK_UNAVAILABLE: SMTP 451'))).toBe(true)
  })

  it('delivers email while Slack does not answer at all, and Slack\'s alerts once it does', async () => {
    const slack = await startHttpReceiver()
    const smtp = await startSmtpReceiver()
    slack.answer = () => 'hang' // every attempt waits out SINK_TIMEOUT_MS
    // The timeout is every sink's: at 300 ms a busy machine let an email attempt time out after the
    // SMTP receiver had taken the mail, and the retry delivered it twice (at-least-once, as designed).
    const sinks = sinksFor({ SINK_TIMEOUT_MS: 3_000, SLACK_WEBHOOK_URL: slack.url, SMTP_URL: smtp.url, EMAIL_FROM: 'vigil@example.org', EMAIL_TO: ['soc@example.org'] })
    const alerts = await handleScores(Array.from({ length: 10 }, (_, i) => score(i, HIGH)), store, sinks)

    await waitFor('every email', allDelivered(db.pool, 'email', 10), 10_000, 20)
    expectEachOnce(smtp.mails.map((m) => m.alertId), alerts)
    await waitFor('a Slack attempt timed out', async () => (await outboxRows(db.pool, 'slack')).some((r) => r.last_error?.startsWith('SINK_TIMEOUT')), 15_000, 20)
    expect((await outboxRows(db.pool, 'slack')).filter((r) => r.status === 'delivered')).toEqual([])
    expect(slack.accepted()).toEqual([])

    slack.answer = () => 'ok'
    await waitFor('Slack deliveries', allDelivered(db.pool, 'slack', 10), 15_000, 20)
    expectEachOnce(slack.accepted(), alerts)
  })

  it('waits as long as a 429\'s Retry-After says, and marks a refused alert failed without holding back the others', async () => {
    const webhook = await startHttpReceiver()
    const { metrics, value } = recordingMetrics()
    const sinks = sinksFor({ WEBHOOK_URL: webhook.url, WEBHOOK_SECRET: SECRET }, db.pool, metrics)
    const refusedId = buildAlert(score(0, HIGH), POLICY).alertId // the receiver refuses this one with a 400
    let throttled = false
    webhook.answer = (r): Answer => {
      if (r.alertId === refusedId) return { status: 400, headers: {} }
      if (!throttled) {
        throttled = true
        return { status: 429, headers: { 'retry-after': '1' } }
      }
      return 'ok'
    }
    const [refused, ...others] = await handleScores(Array.from({ length: 5 }, (_, i) => score(i, HIGH)), store, sinks) as [Alert, ...Alert[]]
    expect(refused.alertId).toBe(refusedId)

    await waitFor('deliveries', async () => (await outboxRows(db.pool, 'webhook')).every((r) => r.status !== 'pending'), 15_000, 20)
    const rows = await outboxRows(db.pool, 'webhook')
    const refusedRow = rows.find((r) => r.alert_id === refused.alertId)!
    expect(refusedRow).toMatchObject({ status: 'failed', locked: false, last_error: 'SINK_REJECTED: HTTP 400: not now' })
    expect(rows.filter((r) => r.status === 'delivered')).toHaveLength(4)
    expectEachOnce(webhook.accepted(), others)

    // The throttled request and the next one are at least Retry-After apart (retry base is 20 ms).
    const first = webhook.requests.findIndex((r) => r.status === 429)
    expect(webhook.requests[first + 1]!.at - webhook.requests[first]!.at).toBeGreaterThanOrEqual(990)

    await sleep(10 * FAST.SINK_POLL_MS)
    expect(webhook.requests.filter((r) => r.alertId === refused.alertId)).toHaveLength(1) // never retried
    expect(value('deliveries', { sink: 'webhook', outcome: 'failed' })).toBe(1)
    expect(value('deliveries', { sink: 'webhook', outcome: 'retried' })).toBe(1)
  })

  it('delivers after a restart what a stopped instance left pending', async () => {
    const slack = await startHttpReceiver()
    await slack.down()
    const first = sinksFor({ SLACK_WEBHOOK_URL: slack.url })
    const alerts = await handleScores(Array.from({ length: 10 }, (_, i) => score(i, HIGH)), store, first)
    await waitFor('failed attempts', async () => (await outboxRows(db.pool, 'slack')).filter((r) => r.attempts > 0).length >= 3, 10_000, 20)
    await first.close()
    const left = await outboxRows(db.pool, 'slack')
    expect(left.every((r) => r.status === 'pending' && !r.locked)).toBe(true) // the stop recorded its last attempt
    const backlog = await createOutbox(db.pool).backlog('slack')
    expect(backlog.pending).toBe(10)
    expect(backlog.oldestAgeSeconds).toBeGreaterThan(0)

    await slack.up()
    sinksFor({ SLACK_WEBHOOK_URL: slack.url }, db.newPool()) // a new instance, its own pool
    await waitFor('deliveries', allDelivered(db.pool, 'slack', 10), 15_000, 20)
    expectEachOnce(slack.accepted(), alerts)
  })

  it('redelivers a row whose instance died mid-delivery once the claim lapses', async () => {
    const slack = await startHttpReceiver()
    const sinks = sinksFor({}) // no sink configured: enqueue through the outbox directly
    expect(sinks.routes).toEqual([])
    const [alert] = await handleScores([score(0, HIGH)], store, sinks) as [Alert]
    await db.pool.query('INSERT INTO sink_outbox (alert_id, sink) VALUES ($1, \'slack\')', [alert.alertId])

    const outbox = createOutbox(db.pool)
    expect(await outbox.stranded(['email'])).toEqual([{ sink: 'slack', pending: 1 }])
    expect(await outbox.stranded(['email', 'slack'])).toEqual([])
    // The delivery timeout is generous (the receiver answers at once): one CI run on a loaded machine
    // timed out 300-ms deliveries twice, where this test counts one attempt after the lapse.
    const leaseMs = 3_000
    const claimed = await outbox.claim('slack', leaseMs) // an instance claims it and dies
    expect(claimed).toMatchObject({ alertId: alert.alertId, attempt: 1, eventCount: 1 })
    const started = performance.now()
    const events = createSinkEvents(log, recordingMetrics().metrics)
    const dispatcher = createSinkDispatcher({
      sink: createSlackSink({ webhookUrl: slack.url, timeoutMs: leaseMs - 500 }), outbox, events,
      policy: { pollMs: 20, leaseMs, baseMs: 20, maxMs: 200 },
    })
    try {
      await waitFor('delivery', allDelivered(db.pool, 'slack', 1), 15_000, 20)
      expect(slack.requests[0]!.at - started).toBeGreaterThanOrEqual(leaseMs - 100)
      expect(await outboxRows(db.pool, 'slack')).toMatchObject([{ attempts: 2, locked: false }])
      expect(slack.accepted()).toEqual([alert.alertId])
      expect(await outbox.markDelivered(claimed!)).toBe(false) // the dead instance's claim is void
    } finally {
      await dispatcher.close()
    }
  })

  it('never delivers a row twice when two instances share the outbox', async () => {
    const slack = await startHttpReceiver()
    const webhook = await startHttpReceiver()
    const config = { SLACK_WEBHOOK_URL: slack.url, WEBHOOK_URL: webhook.url, WEBHOOK_SECRET: SECRET }
    const a = recordingMetrics()
    const b = recordingMetrics()
    const first = sinksFor(config, db.pool, a.metrics)
    sinksFor(config, db.newPool(), b.metrics)
    const alerts = await handleScores(Array.from({ length: 120 }, (_, i) => score(i, HIGH)), store, first)

    await waitFor('Slack deliveries', allDelivered(db.pool, 'slack', 120), 30_000, 50)
    await waitFor('webhook deliveries', allDelivered(db.pool, 'webhook', 120), 30_000, 50)
    await sleep(10 * FAST.SINK_POLL_MS)
    expectEachOnce(slack.accepted(), alerts)
    expectEachOnce(webhook.accepted(), alerts)
    expect(slack.requests).toHaveLength(120)
    const delivered = (m: typeof a, sink: string) => m.value('deliveries', { sink, outcome: 'delivered' })
    expect(delivered(a, 'slack') + delivered(b, 'slack')).toBe(120)
    expect(delivered(a, 'slack')).toBeGreaterThan(0)
    expect(delivered(b, 'slack')).toBeGreaterThan(0) // both instances took part
  })

  it('finishes the delivery in flight when stopped', async () => {
    const slack = await startHttpReceiver()
    let answerNow: (a: Answer) => void = () => {}
    slack.answer = () => new Promise<Answer>((resolve) => (answerNow = resolve))
    const sinks = sinksFor({ SLACK_WEBHOOK_URL: slack.url, SINK_TIMEOUT_MS: 5_000 })
    await handleScores([score(0, HIGH)], store, sinks)
    await waitFor('the request', () => slack.requests.length === 1, 10_000, 10)

    let stopped = false
    const stopping = sinks.close().then(() => (stopped = true))
    await sleep(300)
    expect(stopped).toBe(false) // still waiting for the receiver
    answerNow('ok')
    await stopping
    expect(await outboxRows(db.pool, 'slack')).toMatchObject([{ status: 'delivered', attempts: 1, locked: false }])
    expect(slack.accepted()).toHaveLength(1)
  })
})
