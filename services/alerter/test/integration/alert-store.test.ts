import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createLogger, type PgPool } from '@vigil/platform'
import type { Alert, Score } from '@vigil/schemas'
import { freshTestDatabase, type TestDatabase } from '@vigil/testkit'
import { createAlertStore, type AlertStore } from '../../src/adapters/alert-store.ts'
import { backfillAlertUsers, MAX_ALERT_USERS } from '../../src/adapters/alert-users.ts'
import { migrateAlerterDatabase } from '../../src/adapters/database.ts'
import { userInvolvedSql } from '../../src/api/suppression-match.ts'
import { buildAlert } from '../../src/build-alert.ts'
import { raiseAlerts } from '../../src/rules/raise-alerts.ts'
import { createOutbox, enqueueAlerts } from '../../src/sinks/outbox.ts'
import { emailMessage, slackMessage, webhookBody } from '../../src/sinks/render-alert.ts'

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
    const slowSend = (who: string) => async (alerts: Alert[]) => {
      await new Promise((resolve) => setTimeout(resolve, 200))
      sends.push(...alerts.map((a) => `${who}:${a.alertId}`))
    }
    const [byA, byB] = await Promise.all([a.publishOnce([alert.alertId], slowSend('a')), b.publishOnce([alert.alertId], slowSend('b'))])
    expect([...byA, ...byB].map((a) => a.alertId)).toEqual([alert.alertId])
    expect(sends).toHaveLength(1)
    expect(await a.publishOnce([alert.alertId], slowSend('a'))).toEqual([])
  })

  it('keeps an attack that goes on across alert windows one alert, until it pauses longer than a window, runs past the longest span, or is resolved', async () => {
    const WINDOW = 600_000
    const store = createAlertStore(pools[0]!, 10, { gapMs: WINDOW, maxSpanMs: 3_600_000 })
    const base = Date.UTC(2025, 11, 10, 10, 54, 0) // six minutes before a window boundary
    let n = 0
    const raise = async (at: number, id = '10.9.3.1', eventId = `raw-logs/3/${++n}`) => {
      const score = { entity: { kind: 'source.ip', id }, eventTime: at, score: 1, threshold: 0.99, eventId, family: 'sshd', modelVersion: 'v1', features: {}, evidence: { topic: 'raw-logs', partition: 3, offset: String(n), line: `l${n}` } } as unknown as Score
      const recorded = await store.record(buildAlert(score, { windowMs: WINDOW }, at), eventId, at)
      return recorded?.alert.alertId ?? null
    }
    const minute = 60_000
    // 10:54 to 11:08, across 11:00: one alert, opened once.
    const first = await raise(base)
    const across = [await raise(base + 4 * minute), await raise(base + 8 * minute), await raise(base + 14 * minute)]
    expect(new Set([first, ...across])).toEqual(new Set([first]))
    expect(first).toBe(buildAlert({ entity: { kind: 'source.ip', id: '10.9.3.1' }, eventTime: base, score: 1 } as unknown as Score, { windowMs: WINDOW }).alertId)
    // A redelivered event of the next window lands in the same alert, and counts once (event_count below).
    expect(await raise(base + 8 * minute, '10.9.3.1', 'raw-logs/3/3')).toBe(first)
    const { rows: [row] } = await pools[0]!.query<{ event_count: number; first_seen: Date; last_seen: Date }>('SELECT event_count, first_seen, last_seen FROM alerts WHERE alert_id = $1', [first])
    expect(row).toEqual({ event_count: 4, first_seen: new Date(base), last_seen: new Date(base + 14 * minute) })
    // Another entity, or another detector's alerts, stay apart.
    expect(await raise(base + 9 * minute, '10.9.3.2')).not.toBe(first)
    // A pause longer than a window: a new alert.
    const afterPause = await raise(base + 26 * minute)
    expect(afterPause).not.toBe(first)
    // Every 5 minutes for 90 minutes: a new alert once the first has run an hour.
    const steady = []
    for (let m = 30; m <= 120; m += 5) steady.push(await raise(base + m * minute))
    const distinct = [...new Set(steady)]
    expect(distinct[0]).toBe(afterPause)
    expect(distinct).toHaveLength(2)
    // A resolved alert takes in no later window: the next one opens its own. (A later event of a
    // window that went into it still goes there, as one of an alert's own window always did.)
    const last = distinct[1]!
    await pools[0]!.query("UPDATE alerts SET status = 'resolved', resolution = 'true_positive', resolved_at = now() WHERE alert_id = $1", [last])
    expect(await raise(base + 124 * minute)).toBe(last) // 12:58, the window of the last event, 12:54
    expect(await raise(base + 128 * minute)).not.toBe(last) // 13:02, the next window
  })

  it('counts a redelivered event once, in the alert it went into, however that alert changed since; an event before an alert began opens its own', async () => {
    const WINDOW = 600_000
    const minute = 60_000
    const store = createAlertStore(pools[0]!, 10, { gapMs: WINDOW, maxSpanMs: 3_600_000 })
    const base = Date.UTC(2025, 11, 11, 10, 0, 30)
    const raise = async (at: number, eventId: string, ip = '10.9.4.1') => {
      const score = { entity: { kind: 'source.ip', id: ip }, eventTime: at, score: 1, threshold: 0.99, eventId, family: 'sshd', modelVersion: 'v1', features: {}, evidence: { topic: 'raw-logs', partition: 4, offset: eventId, line: eventId } } as unknown as Score
      return store.record(buildAlert(score, { windowMs: WINDOW }, at), eventId, at)
    }
    const countOf = async (alertId: string) => (await pools[0]!.query<{ n: number }>('SELECT event_count AS n FROM alerts WHERE alert_id = $1', [alertId])).rows[0]?.n
    const published = async (alertId: string) => { await store.publishOnce([alertId], async () => {}) }

    // Resolved by an analyst after the next window's event joined it: that event delivered again stays there, counted once, and opens nothing.
    const a = (await raise(base, 'a1'))!.alert.alertId
    expect((await raise(base + 8 * minute, 'a2'))!.alert.alertId).toBe(a)
    expect((await raise(base + 12 * minute, 'a3'))!.alert.alertId).toBe(a) // the next window joins it
    await published(a)
    await pools[0]!.query("UPDATE alerts SET status = 'resolved', resolution = 'true_positive', resolved_at = now() WHERE alert_id = $1", [a])
    expect(await raise(base + 12 * minute, 'a3')).toBeNull() // counted and published: nothing to do
    // So too after continuation is turned off (ALERT_MAX_SPAN_MS=0): the window's event still goes where it went.
    const score = { entity: { kind: 'source.ip', id: '10.9.4.1' }, eventTime: base + 12 * minute, score: 1, threshold: 0.99, eventId: 'a3', family: 'sshd', modelVersion: 'v1', features: {}, evidence: { topic: 'raw-logs', partition: 4, offset: 'a3', line: 'a3' } } as unknown as Score
    expect(await createAlertStore(pools[0]!, 10).record(buildAlert(score, { windowMs: WINDOW }, base), 'a3', base + 12 * minute)).toBeNull()
    expect(await countOf(a)).toBe(3)
    expect((await pools[0]!.query('SELECT 1 FROM alerts WHERE entity_id = $1', ['10.9.4.1'])).rowCount).toBe(1)

    // An hour's span over: the next window opens its own alert; an event of the hour delivered again still counts once, in the first.
    const steady: string[] = []
    for (let m = 0; m <= 65; m += 5) steady.push((await raise(base + 2 * 3_600_000 + m * minute, `b${m}`, '10.9.4.2'))!.alert.alertId)
    const [first, second] = [...new Set(steady)]
    expect(second).toBeDefined()
    expect((await raise(base + 2 * 3_600_000 + 55 * minute, 'b55', '10.9.4.2'))!.alert.alertId).toBe(first)
    expect((await countOf(first!))! + (await countOf(second!))!).toBe(14)

    // An event before an alert began, in an earlier window, is not folded in: the alert's first seen stays in its first window.
    const c = (await raise(base + 5 * 3_600_000, 'c1', '10.9.4.3'))!.alert.alertId
    const before = (await raise(base + 5 * 3_600_000 - 3 * minute, 'c0', '10.9.4.3'))!.alert.alertId
    expect(before).not.toBe(c)
    expect(await countOf(c)).toBe(1)
  })

  it('lets the publish step queue its notifications on another connection (the outbox refers to the locked alert)', async () => {
    const store = createAlertStore(pools[0]!, 10)
    const score = { entity: { kind: 'source.ip', id: '10.9.0.2' }, eventTime: T, score: 1, threshold: 0.99, eventId: 'raw-logs/0/2', family: 'sshd', modelVersion: 'v1', features: {}, evidence: { topic: 'raw-logs', partition: 0, offset: '2', line: 'l' } } as unknown as Score
    const alert = buildAlert(score, { windowMs: 600_000 }, T)
    await store.record(alert, 'e1', T)
    // As the sinks enqueue: an insert whose foreign key takes KEY SHARE on the alert's row, from another connection.
    const enqueue = async (alerts: Alert[]) => {
      await pools[1]!.query("SET statement_timeout = '5s'")
      await pools[1]!.query("INSERT INTO sink_outbox (alert_id, sink) SELECT unnest($1::text[]), 'webhook'", [alerts.map((a) => a.alertId)])
    }
    expect((await store.publishOnce([alert.alertId], enqueue)).map((a) => a.alertId)).toEqual([alert.alertId])
  })

  it('writes concurrent rises of one alert to `alerts` in rising order, each severity once, whichever instance gets there first', async () => {
    const [a, b] = pools.map((p) => createAlertStore(p, 10)) as [AlertStore, AlertStore]
    const rated = (n: number, severityId: number) => {
      const s = { entity: { kind: 'source.ip', id: '10.9.0.5' }, eventTime: T + n * 1000, score: 0.995, threshold: 0.99, eventId: `raw-logs/0/5-${n}`, family: 'sshd', modelVersion: 'v1', features: {}, evidence: { topic: 'raw-logs', partition: 0, offset: String(n), line: 'l' } } as unknown as Score
      const alert = buildAlert(s, { windowMs: 600_000 }, T)
      return { alert: { ...alert, severityId, severity: ['', '', 'low', 'medium', 'high', 'critical'][severityId]! }, eventId: s.eventId, eventTime: s.eventTime }
    }
    const written: number[] = []
    let writing: () => void = () => {}
    const aIsWriting = new Promise<void>((resolve) => (writing = resolve))
    const producer = (delayMs: number, onSend = () => {}) => ({
      send: async (_topic: unknown, records: Array<{ value: unknown }>) => {
        onSend()
        await new Promise((resolve) => setTimeout(resolve, delayMs))
        written.push(...records.map((r) => (r.value as Alert).severityId))
      },
    })
    const sinks = { enqueue: async () => {} }
    await raiseAlerts([rated(0, 3)], { store: a, producer: producer(0), sinks }) // published at medium
    // Instance A raises it to high and is slow to write (it holds the alert's row while it writes);
    // instance B raises it to critical meanwhile.
    const slow = raiseAlerts([rated(1, 4)], { store: a, producer: producer(300, writing), sinks })
    await aIsWriting
    await raiseAlerts([rated(2, 5)], { store: b, producer: producer(0), sinks })
    await slow
    expect(written).toEqual([3, 4, 5]) // B's rise waited for A's: rising, each once
  })

  it('raises a model alert\'s severity with its scores, never lowers it, and routes the rise to the sinks it now reaches, once each', async () => {
    const store = createAlertStore(pools[0]!, 10)
    const routes = [{ sink: 'webhook' as const, minSeverityId: 2 }, { sink: 'email' as const, minSeverityId: 4 }]
    const published: Alert[] = []
    const deps = {
      store,
      producer: { send: async (_topic: unknown, records: Array<{ value: unknown }>) => void published.push(...records.map((r) => r.value as Alert)) },
      sinks: { enqueue: async (alerts: Alert[]) => void (await enqueueAlerts(pools[0]!, alerts, routes)) },
      published: { inc: ({ kind }: { kind: string }, n: number) => void (counted[kind] = (counted[kind] ?? 0) + n) },
    }
    const counted: Record<string, number> = {}
    const scored = (n: number, value: number) => {
      const s = { entity: { kind: 'source.ip', id: '10.9.0.3' }, eventTime: T + n * 1000, score: value, threshold: 0.99, eventId: `raw-logs/0/3-${n}`, family: 'sshd', modelVersion: 'v1', features: {}, evidence: { topic: 'raw-logs', partition: 0, offset: String(n), line: 'l' } } as unknown as Score
      return { alert: buildAlert(s, { windowMs: 600_000 }, T), eventId: s.eventId, eventTime: s.eventTime }
    }
    const state = async () => (await db.pool.query<{ severity: string; body_severity: string; body_severity_id: number; max_score: number; event_count: number; sinks: string[] }>(
      `SELECT severity, body->>'severity' AS body_severity, (body->>'severityId')::int AS body_severity_id, max_score, event_count,
         ARRAY(SELECT sink FROM sink_outbox o WHERE o.alert_id = a.alert_id ORDER BY sink) AS sinks
       FROM alerts a WHERE alert_id = $1`, [scored(0, 0.995).alert.alertId])).rows[0]

    await raiseAlerts([scored(0, 0.995)], deps) // medium: the webhook only
    expect(await state()).toEqual({ severity: 'medium', body_severity: 'medium', body_severity_id: 3, max_score: 0.995, event_count: 1, sinks: ['webhook'] })

    await raiseAlerts([scored(1, 0.9999), scored(2, 0.9999)], deps) // high: now email too, the webhook keeps its one row
    expect(await state()).toEqual({ severity: 'high', body_severity: 'high', body_severity_id: 4, max_score: 0.9999, event_count: 3, sinks: ['email', 'webhook'] })
    // on `alerts` when it opened, and again when it rose (once: scored(2) raised it no further)
    expect(published.map((a) => `${a.alertId === scored(0, 0.995).alert.alertId}:${a.severity}:${a.severityId}`)).toEqual(['true:medium:3', 'true:high:4'])

    await raiseAlerts([scored(3, 0.995), scored(1, 0.9999)], deps) // a lower score and a redelivery: nothing goes down, nothing is routed twice
    expect(await state()).toEqual({ severity: 'high', body_severity: 'high', body_severity_id: 4, max_score: 0.9999, event_count: 4, sinks: ['email', 'webhook'] })
    expect(published).toHaveLength(2)
    expect(counted).toEqual({ new: 1, severity_rise: 1 }) // app_alerts_published_total{kind}
  })

  it('describes an alert by its highest-scoring event and dates it from its earliest, in whatever order they come', async () => {
    const store = createAlertStore(pools[0]!, 10)
    const scored = (n: number, eventTime: number, value: number, modelVersion: string) => {
      const explanation = { feature: 'auth_failure_ratio', value: n / 10, baselineP50: 0, baselineP99: 0.08, contribution: 1, text: `auth_failure_ratio ${n / 10}, training p99 0.08` }
      const s = { entity: { kind: 'source.ip', id: '10.9.0.9' }, eventTime, score: value, threshold: 0.99, eventId: `raw-logs/0/9-${n}`, family: 'sshd', modelVersion,
        features: { auth_failure_ratio: n / 10 }, explanations: [explanation], evidence: { topic: 'raw-logs', partition: 0, offset: String(n), line: `l${n}` } } as unknown as Score
      return buildAlert(s, { windowMs: 600_000 }, T)
    }
    const described = (alert: Alert | undefined) => alert && ({
      score: alert.score, modelVersion: alert.modelVersion, features: alert.features, reasons: alert.reasons,
      explained: (alert.explanations ?? []).map((e) => e.value), firstSeen: alert.firstSeen - T, severity: alert.severity,
    })
    await store.record(scored(5, T + 5000, 0.995, 'v1'), 'raw-logs/0/9-5', T + 5000)
    // higher, and earlier: the body takes its score and reasons, and its time as first seen
    const higher = await store.record(scored(9, T + 1000, 0.9995, 'v2'), 'raw-logs/0/9-9', T + 1000)
    expect(described(higher?.alert)).toEqual({
      score: 0.9995, modelVersion: 'v2', features: { auth_failure_ratio: 0.9 }, reasons: ['auth_failure_ratio 0.9, training p99 0.08'], explained: [0.9], firstSeen: 1000, severity: 'high',
    })
    // lower and later: nothing it says replaces the highest's, but its evidence is added
    const lower = await store.record(scored(7, T + 9000, 0.996, 'v3'), 'raw-logs/0/9-7', T + 9000)
    expect(described(lower?.alert)).toEqual(described(higher?.alert))
    expect(lower?.alert.evidence.map((e) => e.line)).toEqual(['l9', 'l5', 'l7']) // the highest's line first
    const row = (await db.pool.query<{ first_seen: Date; max_score: number }>('SELECT first_seen, max_score FROM alerts WHERE alert_id = $1', [higher!.alert.alertId])).rows[0]!
    expect([row.first_seen.getTime() - T, row.max_score]).toEqual([1000, 0.9995]) // the columns agree with the body
  })

  it('cites the event its score and features come from past the evidence cap: stored, on `alerts` and in the notifications alike', async () => {
    const store = createAlertStore(pools[0]!, 10)
    const published: Alert[] = []
    const deps = {
      store,
      producer: { send: async (_topic: unknown, records: Array<{ value: unknown }>) => void published.push(...records.map((r) => r.value as Alert)) },
      sinks: { enqueue: async (alerts: Alert[]) => void (await enqueueAlerts(pools[0]!, alerts, [{ sink: 'slack', minSeverityId: 4 }])) },
    }
    const failure = (n: number, value: number) => {
      const s = { entity: { kind: 'source.ip', id: '10.9.0.60' }, eventTime: T + n * 1000, score: value, threshold: 0.99, eventId: `raw-logs/0/60-${n}`, family: 'sshd', modelVersion: 'v1',
        features: { auth_attempts: n + 1 }, evidence: { topic: 'raw-logs', partition: 0, offset: String(200 + n), line: `Failed password for root from 10.9.0.60 port ${40000 + n} ssh2` } } as unknown as Score
      return { alert: buildAlert(s, { windowMs: 600_000 }, T), eventId: s.eventId, eventTime: s.eventTime }
    }
    // Twelve failures at medium fill the cap; the thirteenth scores highest (and raises it to high).
    for (let n = 0; n < 12; n++) await raiseAlerts([failure(n, 0.995)], deps)
    const strongest = failure(12, 0.9999)
    await raiseAlerts([strongest], deps)
    const strongestLine = strongest.alert.evidence[0]!
    const describes = (alert: Alert) => ({ features: alert.features, score: alert.score, first: alert.evidence[0], lines: alert.evidence.length })
    const expected = { features: { auth_attempts: 13 }, score: 0.9999, first: strongestLine, lines: 10 }

    const { rows: [stored] } = await db.pool.query<{ body: Alert }>('SELECT body FROM alerts WHERE alert_id = $1', [strongest.alert.alertId])
    expect(describes(stored!.body)).toEqual(expected)
    // with the opening failure and the earliest others after it
    expect(stored!.body.evidence.slice(1).map((e) => e.offset)).toEqual(['200', '201', '202', '203', '204', '205', '206', '207', '208'])
    expect(published.map((a) => a.severity)).toEqual(['medium', 'high'])
    expect(describes(published.at(-1)!)).toEqual(expected) // the rise on `alerts`
    const claimed = await createOutbox(db.pool).claim('slack', 60_000) // the notification, as the dispatcher renders it
    expect(claimed?.alertId).toBe(strongest.alert.alertId)
    expect(describes(claimed!.alert)).toEqual(expected)
    expect(JSON.stringify(slackMessage(claimed!.alert, claimed!.eventCount).blocks)).toContain(strongestLine.line)
    expect(emailMessage(claimed!.alert, claimed!.eventCount).text).toContain(strongestLine.line)
    expect(JSON.parse(webhookBody(claimed!.alert, claimed!.eventCount)).finding.evidences[0].data).toEqual(strongestLine)
  })

  it('routes a rise whose routing a crash cut off when the event that raised it is delivered again', async () => {
    const store = createAlertStore(pools[0]!, 10)
    const enqueued: Alert[] = []
    const published: Alert[] = []
    const deps = {
      store,
      producer: { send: async (_topic: unknown, records: Array<{ value: unknown }>) => void published.push(...records.map((r) => r.value as Alert)) },
      sinks: { enqueue: async (alerts: Alert[]) => void enqueued.push(...alerts) },
    }
    const scored = (n: number, value: number) => {
      const s = { entity: { kind: 'source.ip', id: '10.9.0.4' }, eventTime: T + n * 1000, score: value, threshold: 0.99, eventId: `raw-logs/0/4-${n}`, family: 'sshd', modelVersion: 'v1', features: {}, evidence: { topic: 'raw-logs', partition: 0, offset: String(n), line: 'l' } } as unknown as Score
      return { alert: buildAlert(s, { windowMs: 600_000 }, T), eventId: s.eventId, eventTime: s.eventTime }
    }
    await raiseAlerts([scored(0, 0.995)], deps)
    // The rise is stored, and the instance dies before routing it.
    const rise = scored(1, 0.9999)
    expect(await store.record(rise.alert, rise.eventId, rise.eventTime)).toMatchObject({ needsPublishing: false, needsRouting: true })
    await raiseAlerts([rise], deps) // the redelivery
    expect(enqueued.map((a) => a.severity)).toEqual(['medium', 'high'])
    expect(published.map((a) => a.severity)).toEqual(['medium', 'high'])
    await raiseAlerts([rise], deps) // routed now: another redelivery does nothing
    expect(enqueued).toHaveLength(2)
    expect(published).toHaveLength(2)
  })

  it('keeps every user its events named, past the evidence it cites, and gives alerts stored before the users column theirs without making them look active', async () => {
    const store = createAlertStore(db.pool, 2)
    const event = (n: number, users: string[]) => {
      const s = { entity: { kind: 'source.ip', id: '10.9.0.55' }, eventTime: T + n, score: 0.995, threshold: 0.99, eventId: `raw-logs/0/55-${n}`, family: 'sshd', modelVersion: 'v1', features: {}, evidence: { topic: 'raw-logs', partition: 0, offset: String(n), line: 'l', users } } as unknown as Score
      return buildAlert(s, { windowMs: 600_000 }, T)
    }
    await store.record(event(1, ['a']), 'e5-1', T)
    await store.record(event(2, ['b', 'a']), 'e5-2', T)
    const third = await store.record(event(3, ['root']), 'e5-3', T)
    expect(third!.alert.evidence.map((e) => e.users)).toEqual([['a'], ['b', 'a']]) // the body cites two events
    expect(third!.users).toEqual(['a', 'b', 'root'])

    // As stored before migration 013: no users column value, last written a month ago.
    await db.pool.query('ALTER TABLE alerts DISABLE TRIGGER alerts_set_updated_at')
    await db.pool.query("UPDATE alerts SET users = NULL, updated_at = now() - interval '30 days' WHERE alert_id = $1", [third!.alert.alertId])
    await db.pool.query('ALTER TABLE alerts ENABLE TRIGGER alerts_set_updated_at')
    const involving = async (user: string) => (await db.pool.query(`SELECT 1 FROM alerts WHERE alert_id = $1 AND ${userInvolvedSql('$2')}`, [third!.alert.alertId, user])).rowCount
    expect([await involving('b'), await involving('root')]).toEqual([1, 0]) // read from its evidence until backfilled
    expect(await backfillAlertUsers(db.pool, { batchSize: 1 })).toBeGreaterThanOrEqual(1)
    const { rows: [row] } = await db.pool.query<{ users: string[]; quiet: boolean }>(
      "SELECT users, updated_at < now() - interval '29 days' AS quiet FROM alerts WHERE alert_id = $1", [third!.alert.alertId])
    expect({ users: [...row!.users].sort(), quiet: row!.quiet }).toEqual({ users: ['a', 'b'], quiet: true }) // what its evidence names
    expect(await backfillAlertUsers(db.pool)).toBe(0)
    expect(await involving('b')).toBe(1)
  })

  it('merges users in the order first named, at most MAX_ALERT_USERS, starting from the evidence of a row opened before the users column', async () => {
    const store = createAlertStore(db.pool, 10)
    const event = (n: number, users: string[]) => {
      const s = { entity: { kind: 'source.ip', id: '10.9.0.56' }, eventTime: T + n, score: 0.995, threshold: 0.99, eventId: `raw-logs/0/56-${n}`, family: 'sshd', modelVersion: 'v1', features: {}, evidence: { topic: 'raw-logs', partition: 0, offset: String(n), line: 'l', users } } as unknown as Score
      return buildAlert(s, { windowMs: 600_000 }, T)
    }
    const opened = await store.record(event(1, ['zed', 'amy']), 'e56-1', T)
    // As stored before migration 013, not yet backfilled: no users.
    await db.pool.query("UPDATE alerts SET users = NULL WHERE alert_id = $1", [opened!.alert.alertId])
    expect((await store.record(event(2, ['bob']), 'e56-2', T))!.users).toEqual(['zed', 'amy', 'bob'])
    const many = Array.from({ length: MAX_ALERT_USERS + 5 }, (_, i) => `u${i}`)
    const full = await store.record(event(3, ['x']), 'e56-3', T, many)
    expect(full!.users).toHaveLength(MAX_ALERT_USERS)
    expect(full!.users.slice(0, 4)).toEqual(['zed', 'amy', 'bob', 'u0'])
    expect((await store.record(event(4, ['late']), 'e56-4', T))!.users).not.toContain('late')
  })
})
