import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createRedis } from '@vigil/platform'
import { uniquePrefix } from '@vigil/testkit'
import { createFeatureStore, type FeatureStore, type WindowStats } from '../../src/adapters/feature-store.ts'
import { windowMarksOf, type SshdLine } from '../../src/compute-features.ts'
import type { NormalizedEvent } from '../../src/normalize-event.ts'

// The entity windows against the real Redis: counts by hand-worked expectations, the same answers
// whether a replay arrives in one batch or many, and a redelivered batch counted once, with the
// windows it got the first time.

const T0 = Date.UTC(2025, 11, 10, 10, 0)
let redis: ReturnType<typeof createRedis>
const prefix = uniquePrefix('fstore')

beforeAll(async () => {
  redis = createRedis({ REDIS_URL: inject('stack').REDIS_URL, REDIS_KEY_PREFIX: prefix })
  await redis.ready()
})
afterAll(async () => redis.close())

const store = (): FeatureStore => createFeatureStore(redis, { windowSeconds: 600, lateGraceSeconds: 300, ttlSeconds: 3600, userTtlSeconds: 3600 })

let offset = 0
function sshd(ip: string, at: number, action: string, outcome: 'success' | 'failure', user: string, invalid = false): NormalizedEvent {
  const id = `raw-logs/0/${offset++}`
  return {
    eventId: id, entity: { kind: 'source.ip', id: ip }, receivedAt: 0, family: 'sshd', parsed: true, datedAhead: false,
    evidence: { topic: 'raw-logs', partition: 0, offset: id, line: 'x' },
    ecs: {
      timestamp: T0 + at * 1000, message: 'm', source: { ip }, user: { name: user },
      ...(invalid ? { ssh: { invalid_user: true } } : {}),
      event: { kind: 'event', category: ['authentication'], type: ['start'], action, outcome, module: 'sshd', original: 'x' },
    },
  } as NormalizedEvent
}

const failed = (ip: string, at: number, user = 'root') => sshd(ip, at, 'ssh_login_failed', 'failure', user)
const accepted = (ip: string, at: number, user: string) => sshd(ip, at, 'ssh_login_succeeded', 'success', user)
const withMarks = (events: NormalizedEvent[]) => events.map((event) => ({ event, marks: windowMarksOf(event) }))
const counts = (w: WindowStats) => ({ events: w.events, auth: w.authAttempts, lastMinute: w.authAttemptsLastMinute, failures: w.authFailures, users: w.distinctUsers, previous: w.previousEventTime })

describe('entity windows in Redis', () => {
  it('counts an entity\'s attempts, failures and users over the window ending at each event', async () => {
    const ip = `10.0.${offset % 250}.1`
    const events = [failed(ip, 0), failed(ip, 10, 'admin'), accepted(ip, 20, 'bob'), failed(ip, 100), failed(ip, 700)]
    const windows = (await store().update(withMarks(events))).map(counts)
    expect(windows).toEqual([
      { events: 1, auth: 1, lastMinute: 1, failures: 1, users: 1, previous: null },
      { events: 2, auth: 2, lastMinute: 2, failures: 2, users: 2, previous: T0 },
      { events: 3, auth: 3, lastMinute: 3, failures: 2, users: 3, previous: T0 + 10_000 },
      { events: 4, auth: 4, lastMinute: 1, failures: 3, users: 3, previous: T0 + 20_000 },
      // 600 s later the first three have left the window; the one at 100 s is still in it
      { events: 2, auth: 2, lastMinute: 1, failures: 2, users: 1, previous: T0 + 100_000 },
    ])
  })

  it('gives the same windows whether the events come in one batch or one at a time, with other entities between them', async () => {
    const [a, b] = [`10.1.${offset % 250}.1`, `10.1.${offset % 250}.2`]
    const make = (ip: string) => [failed(ip, 0), failed(ip, 5, 'x'), accepted(ip, 9, 'y'), failed(ip, 30)]
    const interleave = (xs: NormalizedEvent[], ys: NormalizedEvent[]) => xs.flatMap((x, i) => [x, ys[i]!])
    const together = (await store().update(withMarks(interleave(make(a), make(b))))).map(counts)
    const [c, d] = [`10.2.${offset % 250}.1`, `10.2.${offset % 250}.2`]
    const single: ReturnType<typeof counts>[] = []
    for (const e of interleave(make(c), make(d))) single.push(...(await store().update(withMarks([e]))).map(counts))
    const relative = (w: ReturnType<typeof counts>) => ({ ...w, previous: w.previous === null ? null : w.previous - T0 })
    expect(single.map(relative)).toEqual(together.map(relative))
  })

  it('counts a redelivered batch once', async () => {
    const ip = `10.3.${offset % 250}.1`
    const batch = withMarks([failed(ip, 0), failed(ip, 1), failed(ip, 2)])
    const first = (await store().update(batch)).map(counts)
    const again = (await store().update(batch)).map(counts)
    expect(again).toEqual(first)
    expect(first.at(-1)).toMatchObject({ events: 3, failures: 3 })
  })

  it('reads and extends a user\'s login history once per login, however often it is delivered', async () => {
    const user = `ana${offset}`
    const from = (ip: string, at: number, country: string, lat: number, lon: number) => {
      const e = accepted(ip, at, user)
      e.ecs.source = { ip, geo: { country_iso_code: country, location: { lat, lon } } } as never
      return e
    }
    const first = withMarks([from('10.5.0.1', 0, 'ES', 40, -4)])
    const second = withMarks([from('10.5.0.2', 60, 'PT', 38, -9)])
    const history = (w: WindowStats) => w.user
    expect((await store().update(first)).map(history)).toEqual([{ countryKnown: false, ipKnown: false, usualLat: null, usualLon: null }])
    // Delivered again (a retried batch): the same answer, and its location is not added twice.
    expect((await store().update(first)).map(history)).toEqual([{ countryKnown: false, ipKnown: false, usualLat: null, usualLon: null }])
    expect((await store().update(second)).map(history)).toEqual([{ countryKnown: false, ipKnown: false, usualLat: 40, usualLon: -4 }])
    const back = withMarks([from('10.5.0.1', 120, 'ES', 40, -4)])
    expect((await store().update(back)).map(history)).toEqual([{ countryKnown: true, ipKnown: true, usualLat: 39, usualLon: -6.5 }])
  })

  it('keeps a failed login\'s memo as long as the windows, not as long as the user history', async () => {
    const user = `made-up-${offset}`
    const longHistory = createFeatureStore(redis, { windowSeconds: 600, lateGraceSeconds: 300, ttlSeconds: 3600, userTtlSeconds: 30 * 86_400 })
    await longHistory.update(withMarks([sshd('10.6.0.1', 0, 'ssh_login_failed', 'failure', user, true)]))
    const ttl = await redis.ttl(`u:{${user}}:memo`)
    expect(ttl).toBeGreaterThan(3500)
    expect(ttl).toBeLessThanOrEqual(3600)
    // A failed login records nothing else of the user.
    expect(await redis.exists(`u:{${user}}:countries`, `u:{${user}}:ips`, `u:{${user}}:loc`)).toBe(0)
  })

  it('takes a late event into the window where its time puts it, with the event before it as its previous one', async () => {
    const ip = `10.6.${offset % 250}.1`
    await store().update(withMarks([failed(ip, 0), failed(ip, 50)]))
    // 20 s and 10 s come after 50 s: each counts what lies at or before its own time
    const late = (await store().update(withMarks([failed(ip, 20), failed(ip, 60), failed(ip, 10)]))).map(counts)
    expect(late).toEqual([
      { events: 2, auth: 2, lastMinute: 2, failures: 2, users: 1, previous: T0 },
      { events: 4, auth: 4, lastMinute: 4, failures: 4, users: 1, previous: T0 + 50_000 },
      { events: 2, auth: 2, lastMinute: 2, failures: 2, users: 1, previous: T0 },
    ])
  })

  it('says which events came later than the grace behind their entity\'s newest, whose windows were already trimmed', async () => {
    const ip = `10.6.${offset % 250}.2`
    // window 600 s + grace 300 s: once the entity is at 1000 s, what lies before 100 s is trimmed
    // (after the batch that moved it there: a batch keeps its own events, for a retry of it)
    await store().update(withMarks([failed(ip, 0), failed(ip, 80)]))
    await store().update(withMarks([failed(ip, 1000)]))
    const batch = withMarks([failed(ip, 750), failed(ip, 650), failed(ip, 50)])
    const windows = await store().update(batch)
    expect(windows.map((w) => [w.lateBeyondGrace, w.events])).toEqual([
      // 250 s late: its window, from 150 s, is whole
      [false, 1],
      // 350 s late: its window, from 50 s, would count the event at 80 s, which is gone
      [true, 1],
      // and this one's, the events at 0 s and 80 s
      [true, 1],
    ])
    // a redelivery is told the same
    expect((await store().update(batch)).map((w) => w.lateBeyondGrace)).toEqual([false, true, true])
    // and still the same once the entity has moved on: its values are those of its first delivery
    await store().update(withMarks([failed(ip, 1100)]))
    expect((await store().update(batch.slice(0, 1))).map((w) => w.lateBeyondGrace)).toEqual([false])
  })

  it('keeps calling late what reaches into trimmed time after a batch of older events', async () => {
    const ip = `10.6.${offset % 250}.4`
    await store().update(withMarks([failed(ip, 0), failed(ip, 80)]))
    await store().update(withMarks([failed(ip, 1000)]))
    await store().update(withMarks([failed(ip, 660)])) // trims what lies before 100 s: the event at 80 s
    await store().update(withMarks([failed(ip, 50)])) // older still: trims nothing more
    // its window, from 70 s, would count the event at 80 s, which is gone
    expect((await store().update(withMarks([failed(ip, 670)]))).map((w) => w.lateBeyondGrace)).toEqual([true])
  })

  it('does not call an event late for a newer one earlier in its own batch: nothing was trimmed before the batch', async () => {
    const ip = `10.6.${offset % 250}.3`
    await store().update(withMarks([failed(ip, 20)]))
    const windows = await store().update(withMarks([failed(ip, 1000), failed(ip, 50)]))
    expect(windows.map((w) => [w.lateBeyondGrace, w.events])).toEqual([[false, 1], [false, 2]])
  })

  it('counts logins and web requests of one entity apart, whichever it had first', async () => {
    const ip = `10.7.${offset % 250}.1`
    const request = (at: number, status: number) => ({
      ...failed(ip, at),
      family: 'web-access',
      ecs: {
        timestamp: T0 + at * 1000, message: 'm', source: { ip }, url: { path: `/p${at}` }, http: { response: { status_code: status } },
        event: { kind: 'event', category: ['web'], type: ['access'], action: 'http_request', outcome: status < 400 ? 'success' : 'failure', module: 'nginx', original: 'x' },
      },
    }) as NormalizedEvent
    const windows = await store().update(withMarks([request(0, 200), request(5, 404), failed(ip, 7), request(8, 500)]))
    expect(windows.map((w) => [w.events, w.httpRequests, w.http4xx, w.http5xx, w.distinctPaths, w.authAttempts, w.authFailures])).toEqual([
      [1, 1, 0, 0, 1, 0, 0],
      [2, 2, 1, 0, 2, 0, 0],
      [3, 2, 1, 0, 2, 1, 1],
      [4, 3, 1, 1, 3, 1, 1],
    ])
    // a later batch finds both kinds in the window
    const [next] = await store().update(withMarks([failed(ip, 9)]))
    expect([next!.events, next!.httpRequests, next!.authAttempts, next!.previousEventTime]).toEqual([5, 3, 2, T0 + 8000])
  })

  it('gives a redelivered event the window it got the first time, even after later events of the same second', async () => {
    const ip = `10.4.${offset % 250}.1`
    const batch = withMarks([failed(ip, 0), failed(ip, 0, 'admin'), failed(ip, 0, 'oracle')])
    const first = (await store().update(batch)).map(counts)
    expect(first.map((w) => [w.events, w.users])).toEqual([[1, 1], [2, 2], [3, 3]])
    await store().update(withMarks([failed(ip, 0, 'guest'), failed(ip, 1)]))
    // A retried batch (the first attempt reached Redis, its output never reached Kafka), then its first event alone.
    expect((await store().update(batch)).map(counts)).toEqual(first)
    expect((await store().update(batch.slice(0, 1))).map(counts)).toEqual(first.slice(0, 1))
  })
  it('gives a retried batch that spans more than the window and the grace the windows it got the first time, however often it comes', async () => {
    // A catch-up or a replay of old logs: one batch holds over 15 minutes of an entity's event time.
    // Its first attempt updated Redis, its output never reached Kafka, and the batch comes again.
    const ip = `10.4.${offset % 250}.2`
    const batch = withMarks([failed(ip, 0), failed(ip, 10, 'admin'), failed(ip, 950), failed(ip, 960, 'oracle')])
    const windows = async () => (await store().update(batch)).map((w) => ({ ...counts(w), late: w.lateBeyondGrace }))
    const first = await windows()
    expect(first.map((w) => [w.events, w.users, w.late])).toEqual([[1, 1, false], [2, 2, false], [1, 1, false], [2, 2, false]])
    expect(await windows()).toEqual(first)
    expect(await windows()).toEqual(first)
    // Once a later batch moves the entity on, what lies behind its window and grace is trimmed as before.
    await store().update(withMarks([failed(ip, 2000)]))
    expect(await redis.zcard(`f:{source.ip=${ip}}:ev`)).toBe(1)
  })

  it('takes user names and paths with any characters, the packing\'s separator, NUL and multi-byte ones included', async () => {
    const ip = `10.8.${offset % 250}.1`
    // Two names that would run together if a length were counted in UTF-16 units instead of bytes.
    const users = ['a|b', 'a', 'b', 'ü|7', 'ü', '\u0000', '日本|', '']
    const windows = await store().update(withMarks(users.map((user, i) => failed(ip, i, user))))
    // One more distinct user per event, but for the empty name, which is no user at all.
    expect(windows.map((w) => w.distinctUsers)).toEqual([1, 2, 3, 4, 5, 6, 7, 7])
    expect(windows.map((w) => w.authFailures)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
  })
  it('takes a user name with a lone surrogate next to a path that starts with one', async () => {
    const ip = `10.9.${offset % 250}.1`
    const request = (at: number, path: string, user: string) => {
      const e = failed(ip, at, user)
      e.ecs.url = { path } as never
      return e
    }
    // Each value counted alone, \ud800 then \udc00 would join into one 4-byte character on the wire.
    const windows = await store().update(withMarks([request(0, '\udc00/x', 'eve\ud800'), failed(ip, 1, 'mallory')]))
    expect(windows.map((w) => [w.events, w.authFailures, w.distinctUsers])).toEqual([[1, 1, 1], [2, 2, 2]])
  })

  it('keeps the distinct-count minutes a window can still reach, however fast event time goes by', async () => {
    // Three hours of one entity's failed logins, a user each, replayed in batches of a minute: with a
    // 10-minute window and 5 minutes' grace, a window reaches back 15 minutes of distinct-user buckets.
    const ip = `10.10.${offset % 250}.1`
    const windows: WindowStats[] = []
    for (let minute = 0; minute < 180; minute++) {
      windows.push(...await store().update(withMarks(Array.from({ length: 6 }, (_, i) => failed(ip, minute * 60 + i * 10, `u${minute}-${i}`)))))
    }
    expect(windows.at(-1)!.distinctUsers).toBe(60) // the 10 minutes of the window, 6 users each
    const buckets = await redis.keys(`${prefix}f:{source.ip=${ip}}:users:*`)
    expect(buckets.length).toBeGreaterThanOrEqual(10)
    expect(buckets.length).toBeLessThanOrEqual(16)
    // An event that lands almost the whole grace late still counts the users of its whole window:
    // the minutes 166 to 175, six users each, and its own.
    const [late] = await store().update(withMarks([failed(ip, 175 * 60, 'late')]))
    expect(late!.lateBeyondGrace).toBe(false)
    expect(late!.distinctUsers).toBe(61)
  })
  // sshd lines of one host as sshdSessions reads them
  let lineNo = 0
  const sshdLine = (host: string, at: number, kind: SshdLine['kind'], pid: number | null = null, ip: string | null = null) =>
    ({ host, time: T0 + at * 1000, pid, ip, kind, eventId: `raw-logs/0/s${lineNo++}` })
  const counted = async (lines: Array<ReturnType<typeof sshdLine>>) => {
    const answers = await store().sshdSessions(lines)
    return lines.map((l) => answers.get(l)!.counts)
  }

  it('takes a PAM failure for its attempt\'s only record where its host wrote no verdict in the day before it, and answers a retried batch as the first time', async () => {
    const [a, b] = ['a', 'b'].map((h) => `host-${h}-${offset++}`) as [string, string]
    expect((await store().sshdSessions([])).size).toBe(0)
    // a writes verdicts, two seconds after each PAM line; b writes PAM lines only.
    const batch = [sshdLine(a, 10, 'pam-failure'), sshdLine(b, 10, 'pam-failure'), sshdLine(a, 12, 'failed-verdict'), sshdLine(a, 20, 'pam-failure'), sshdLine(b, 20, 'pam-failure'), sshdLine(a, 22, 'failed-verdict')]
    expect(await counted(batch)).toEqual([true, true, true, false, true, true])
    expect(await counted(batch)).toEqual([true, true, true, false, true, true]) // retried
    // The same lines one at a time, on fresh hosts: the same answers.
    const [c, d] = ['c', 'd'].map((h) => `host-${h}-${offset++}`) as [string, string]
    const single = [sshdLine(c, 10, 'pam-failure'), sshdLine(d, 10, 'pam-failure'), sshdLine(c, 12, 'failed-verdict'), sshdLine(c, 20, 'pam-failure'), sshdLine(d, 20, 'pam-failure'), sshdLine(c, 22, 'failed-verdict')]
    const answers: boolean[] = []
    for (const l of single) answers.push(...await counted([l]))
    expect(answers).toEqual([true, true, true, false, true, true])
    // A day after a's last verdict its next PAM line stands alone again; a day less a second, not.
    expect(await counted([sshdLine(a, 22 + 86_399, 'pam-failure'), sshdLine(a, 22 + 86_401, 'pam-failure')])).toEqual([false, true])
    // The verdicts are kept with the user histories, and a host without one has nothing kept.
    expect(await redis.ttl(`h:{${a}}:sshd-verdicts`)).toBeGreaterThan(3500)
    expect(await redis.exists(`h:{${b}}:sshd-verdicts`)).toBe(0)
  })

  it('takes a PAM failure older than every verdict it still keeps of a busy host for one beside a verdict', async () => {
    const host = `host-busy-${offset++}`
    await store().sshdSessions(Array.from({ length: 100 }, (_, i) => sshdLine(host, i, 'failed-verdict')))
    expect(await counted([sshdLine(host, 5, 'pam-failure')])).toEqual([false]) // its verdict's record was dropped (64 kept)
    expect(await counted([sshdLine(host, -3 * 86_400, 'pam-failure')])).toEqual([false])
  })

  it('does not count the verdict of a PAM failure that stood alone and counted: one attempt, once, however often it comes', async () => {
    const host = `host-pair-${offset++}`
    // A host's first attempt: its PAM line stands alone, and its verdict two seconds later is that attempt.
    const first = [sshdLine(host, 0, 'pam-failure', 100, '10.1.1.1'), sshdLine(host, 2, 'failed-verdict', 100, '10.1.1.1'), sshdLine(host, 4, 'failed-verdict', 100, '10.1.1.1')]
    expect(await counted(first)).toEqual([true, false, true]) // the connection's second failure is another attempt
    expect(await counted(first)).toEqual([true, false, true]) // retried
    // Split across batches, on a fresh host: the same.
    const other = `host-pair-${offset++}`
    const split = [sshdLine(other, 0, 'pam-failure', 100, '10.1.1.1'), sshdLine(other, 2, 'failed-verdict', 100, '10.1.1.1'), sshdLine(other, 4, 'failed-verdict', 100, '10.1.1.1')]
    const answers: boolean[] = []
    for (const l of split) answers.push(...await counted([l]))
    expect(answers).toEqual([true, false, true])
    // Not a verdict of another connection, of another client, or more than a minute later.
    const [p, q, r] = ['p', 'q', 'r'].map((h) => `host-pair-${h}-${offset++}`) as [string, string, string]
    expect(await counted([sshdLine(p, 0, 'pam-failure', 100, '10.1.1.1'), sshdLine(p, 2, 'failed-verdict', 101, '10.1.1.1')])).toEqual([true, true])
    expect(await counted([sshdLine(q, 0, 'pam-failure', 100, '10.1.1.1'), sshdLine(q, 2, 'failed-verdict', 100, '10.2.2.2')])).toEqual([true, true])
    expect(await counted([sshdLine(r, 0, 'pam-failure', 100, '10.1.1.1'), sshdLine(r, 61, 'failed-verdict', 100, '10.1.1.1')])).toEqual([true, true])
  })

  it('takes the verdict of a PAM failure that named its client by host name only for the same attempt (UseDNS): counted once, at the name', async () => {
    // sotm34's honeynet after a quiet day: ten connections' PAM lines (rhost=wpc1599.host7x24.com) stand
    // alone before the first verdict; each connection's verdict names 62.193.229.186.
    const host = `host-named-${offset++}`
    const pams = Array.from({ length: 10 }, (_, i) => sshdLine(host, 0, 'pam-failure', 12758 + i))
    const verdicts = Array.from({ length: 10 }, (_, i) => sshdLine(host, 2, 'failed-verdict', 12758 + i, '62.193.229.186'))
    expect(await counted([...pams, ...verdicts])).toEqual([...pams.map(() => true), ...verdicts.map(() => false)])
    expect(await counted([...pams, ...verdicts])).toEqual([...pams.map(() => true), ...verdicts.map(() => false)]) // retried
    // A connection's second try is another attempt; another connection's verdict, or one a minute later, is not the PAM line's.
    const other = `host-named-${offset++}`
    expect(await counted([sshdLine(other, 0, 'pam-failure', 200), sshdLine(other, 2, 'failed-verdict', 200, '10.2.2.2'), sshdLine(other, 4, 'failed-verdict', 200, '10.2.2.2')])).toEqual([true, false, true])
    const [p, q] = ['p', 'q'].map((h) => `host-named-${h}-${offset++}`) as [string, string]
    expect(await counted([sshdLine(p, 0, 'pam-failure', 300), sshdLine(p, 2, 'failed-verdict', 301, '10.2.2.2')])).toEqual([true, true])
    expect(await counted([sshdLine(q, 0, 'pam-failure', 300), sshdLine(q, 61, 'failed-verdict', 300, '10.2.2.2')])).toEqual([true, true])
  })

  it('places a line that names no client at its connection\'s address, named by an earlier line of the same sshd process', async () => {
    const host = `host-session-${offset++}`
    const lines = [
      sshdLine(host, 0, 'invalid-user', 200, '10.3.3.3'), // Invalid user webmaster from 10.3.3.3
      sshdLine(host, 0, 'other', 200), // input_userauth_request: invalid user webmaster [preauth]
      sshdLine(host, 1, 'pam-failure', 200), // pam_unix: authentication failure; rhost=<a host name>
      sshdLine(host, 1, 'other', 201), // another connection, which named no address
      sshdLine(host, 3, 'failed-verdict', 200, '10.3.3.3'), // Failed password for invalid user webmaster from 10.3.3.3
      sshdLine(host, 599, 'other', 200), // ten minutes on, the connection's last line
      sshdLine(host, 3590, 'other', 210, '10.3.3.4'), // another connection, named just before the hour
      sshdLine(host, 3610, 'other', 210), // and its line in the next hour
    ]
    const answers = await store().sshdSessions(lines)
    expect(lines.map((l) => answers.get(l))).toEqual([
      { sessionIp: null, counts: true }, { sessionIp: '10.3.3.3', counts: false }, { sessionIp: '10.3.3.3', counts: false },
      { sessionIp: null, counts: false }, { sessionIp: null, counts: false }, { sessionIp: '10.3.3.3', counts: false },
      { sessionIp: null, counts: false }, { sessionIp: '10.3.3.4', counts: false },
    ])
    // The Invalid user line is the attempt; the PAM line, placed at 10.3.3.3, is the same attempt,
    // though it stood alone (the host's first), and so is the verdict.
  })

  it('takes an Invalid user line for the attempt, and not again the first failed verdict of its connection that follows', async () => {
    const ip = '10.4.4.4'
    // OpenSSH 3 (the sotm34 honeynet): `Illegal user jordan from 211.141.89.73`, one per connection, no verdict
    const old = `host-illegal-${offset++}`
    const tries = Array.from({ length: 5 }, (_, i) => sshdLine(old, i, 'invalid-user', 900 + i, ip))
    expect(await counted(tries)).toEqual([true, true, true, true, true])
    expect(await counted(tries)).toEqual([true, true, true, true, true]) // retried
    // Today's sshd: the line, then the connection's failed verdicts; its second verdict is another attempt.
    const host = `host-invalid-${offset++}`
    const connection = [sshdLine(host, 0, 'invalid-user', 100, ip), sshdLine(host, 3, 'failed-verdict', 100, ip), sshdLine(host, 6, 'failed-verdict', 100, ip)]
    expect(await counted(connection)).toEqual([true, false, true])
    expect(await counted(connection)).toEqual([true, false, true]) // retried
    // A retried batch leaves the line its verdict's: the connection's next verdict is another attempt.
    const retried = `host-invalid-${offset++}`
    const tried = [sshdLine(retried, 0, 'invalid-user', 100, ip), sshdLine(retried, 3, 'failed-verdict', 100, ip)]
    expect(await counted(tried)).toEqual([true, false])
    expect(await counted(tried)).toEqual([true, false])
    expect(await counted([sshdLine(retried, 6, 'failed-verdict', 100, ip)])).toEqual([true])
    // One line a batch, on a fresh host: the same.
    const split = `host-invalid-${offset++}`
    const answers: boolean[] = []
    for (const l of [sshdLine(split, 0, 'invalid-user', 100, ip), sshdLine(split, 3, 'failed-verdict', 100, ip), sshdLine(split, 6, 'failed-verdict', 100, ip)]) answers.push(...await counted([l]))
    expect(answers).toEqual([true, false, true])
    // A verdict up to sshd's LoginGraceTime (120 s) later is the line's; not later, not another connection's or client's.
    const [p, q, r, s] = ['p', 'q', 'r', 's'].map((h) => `host-invalid-${h}-${offset++}`) as [string, string, string, string]
    expect(await counted([sshdLine(p, 0, 'invalid-user', 100, ip), sshdLine(p, 120, 'failed-verdict', 100, ip)])).toEqual([true, false])
    expect(await counted([sshdLine(q, 0, 'invalid-user', 100, ip), sshdLine(q, 121, 'failed-verdict', 100, ip)])).toEqual([true, true])
    expect(await counted([sshdLine(r, 0, 'invalid-user', 100, ip), sshdLine(r, 2, 'failed-verdict', 101, ip)])).toEqual([true, true])
    expect(await counted([sshdLine(s, 0, 'invalid-user', 100, ip), sshdLine(s, 2, 'failed-verdict', 100, '10.4.4.5')])).toEqual([true, true])
    // Without a pid its verdict could not be told apart: the verdict is the attempt, as before.
    const anonymous = `host-invalid-${offset++}`
    expect(await counted([sshdLine(anonymous, 0, 'invalid-user', null, ip), sshdLine(anonymous, 2, 'failed-verdict', null, ip)])).toEqual([false, true])
  })

  it('takes a PAM failure of a connection whose Invalid user line counted for the same attempt, on a host that logs no verdicts too', async () => {
    const host = `host-invalid-pam-${offset++}`
    const ip = '10.4.4.6'
    // a host whose first line of the day is an Invalid user: its PAM line stands alone but is that attempt
    expect(await counted([sshdLine(host, 0, 'invalid-user', 100, ip), sshdLine(host, 2, 'pam-failure', 100, ip)])).toEqual([true, false])
    // once a verdict claimed the line, a later PAM failure of the connection is read as any other
    const other = `host-invalid-pam-${offset++}`
    expect(await counted([sshdLine(other, 0, 'invalid-user', 100, ip), sshdLine(other, 2, 'failed-verdict', 100, ip), sshdLine(other, 4, 'pam-failure', 100, ip)])).toEqual([true, false, false])
  })
  it('gives a batch that comes again the answers it got, however many verdicts its first delivery stored after a line', async () => {
    const host = `host-retry-${offset++}`
    // A quiet host's first attempt, then a brute force: 70 failed verdicts, more than the 64 kept.
    const batch = [sshdLine(host, 0, 'pam-failure', 300, '10.5.5.5'), sshdLine(host, 2, 'failed-verdict', 300, '10.5.5.5'),
      ...Array.from({ length: 70 }, (_, i) => sshdLine(host, 10 + i, 'failed-verdict', 400 + i, '10.6.6.6'))]
    const first = await counted(batch)
    expect(first.slice(0, 3)).toEqual([true, false, true])
    expect(await counted(batch)).toEqual(first)
  })

  it('pairs a PAM failure with a failed verdict only: a login accepted after it still counts, and is a login', async () => {
    const host = `host-accept-${offset++}`
    // pam_unix fails, pam_sss lets the user in: the Accepted line is its own attempt.
    expect(await counted([sshdLine(host, 0, 'pam-failure', 500, '10.7.7.7'), sshdLine(host, 1, 'accepted-verdict', 500, '10.7.7.7')])).toEqual([true, true])
  })

  it('places an address-less line only at an address its connection named before it and lately: a reused pid is another connection', async () => {
    const host = `host-reuse-${offset++}`
    await store().sshdSessions([sshdLine(host, 0, 'other', 600, '10.8.8.1')])
    const batch = [sshdLine(host, 5, 'other', 600), sshdLine(host, 700, 'other', 600), sshdLine(host, 710, 'other', 600, '10.8.8.2'), sshdLine(host, 711, 'other', 600)]
    const placed = async () => { const a = await store().sshdSessions(batch); return batch.map((l) => a.get(l)!.sessionIp) }
    expect(await placed()).toEqual(['10.8.8.1', null, null, '10.8.8.2'])
    expect(await placed()).toEqual(['10.8.8.1', null, null, '10.8.8.2']) // retried, the newer naming line stored
  })

  it('pairs the line that ends a connection with its process\'s kex error just before it (a client that sent no identification), and no other', async () => {
    const host = `host-kex-${offset++}`
    const ip = '203.0.113.7'
    // In one batch: pid 901 errs and closes; 902 closes with no error before it (a known scanner's
    // version string, a session at VERBOSE); 903 closes 11 s after its error.
    expect(await counted([
      sshdLine(host, 0, 'kex-unidentified', 901), sshdLine(host, 0, 'closing', 901, ip),
      sshdLine(host, 1, 'closing', 902, ip),
      sshdLine(host, 2, 'kex-unidentified', 903), sshdLine(host, 13, 'closing', 903, ip),
    ])).toEqual([false, true, false, false, false])
    // Across batches, and another process's error is not this one's.
    await store().sshdSessions([sshdLine(host, 20, 'kex-unidentified', 904)])
    const [closing904, closing905] = [sshdLine(host, 21, 'closing', 904, ip), sshdLine(host, 21, 'closing', 905, ip)]
    expect(await counted([closing904, closing905])).toEqual([true, false])
    expect(await counted([closing904, closing905])).toEqual([true, false]) // retried
    // An error pairs once: a later connection of a reused pid (or of another host by the same name) finds none.
    expect(await counted([sshdLine(host, 22, 'closing', 904, ip)])).toEqual([false])
    // A relay that delivers the closing line before the error: paired within the batch.
    expect(await counted([sshdLine(host, 31, 'closing', 906, ip), sshdLine(host, 30, 'kex-unidentified', 906)])).toEqual([true, false])
  })

  it('leaves out lines of hosts without a name: they would share one host\'s sessions', async () => {
    const named = { host: '', time: T0, pid: 700, ip: '10.9.9.1', kind: 'other' as const, eventId: 'raw-logs/0/anon-1' }
    const unnamed = { host: '', time: T0 + 1000, pid: 700, ip: null, kind: 'other' as const, eventId: 'raw-logs/0/anon-2' }
    const answers = await store().sshdSessions([named, unnamed])
    expect([answers.get(named), answers.get(unnamed)]).toEqual([undefined, undefined])
    // A kex error and the line that ends its connection, of one process, still pair within the batch.
    const batch = [sshdLine('', 0, 'kex-unidentified', 901), sshdLine('', 0, 'closing', 901, '203.0.113.7'), sshdLine('', 1, 'closing', 901, '203.0.113.7'), sshdLine('', 1, 'closing', 902, '203.0.113.7')]
    const paired = await store().sshdSessions(batch)
    expect(batch.map((l) => paired.get(l)?.counts)).toEqual([undefined, true, undefined, undefined])
  })
})
