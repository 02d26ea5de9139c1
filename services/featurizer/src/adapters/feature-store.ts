import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TransientError, type Redis } from '@vigil/platform'
import type { SshdLine } from '../compute-features.ts'
import type { NormalizedEvent } from '../normalize-event.ts'

/** What an entity did in the window that ends at one of its events (that event included), and what its user did before. */
export interface WindowStats {
  events: number
  authAttempts: number
  authAttemptsLastMinute: number
  authFailures: number
  invalidUserAttempts: number
  distinctUsers: number
  httpRequests: number
  httpRequestsLast10s: number
  http4xx: number
  http5xx: number
  distinctPaths: number
  distinctDestinations: number
  /** event time of the entity's previous event, null for its first */
  previousEventTime: number | null
  /**
   * the event came more than the late grace behind its entity's newest: that part of its window was
   * already trimmed, so its counts are short of what a timely delivery would have given
   */
  lateBeyondGrace: boolean
  /** for logins: what the user's earlier successful logins say; null when the event is not a login with a user */
  user: { countryKnown: boolean; ipKnown: boolean; usualLat: number | null; usualLon: number | null } | null
}

/** How an event counts towards its entity's windows and its user's history. */
export interface WindowMarks {
  authAttempt: boolean
  authFailure: boolean
  invalidUser: boolean
  /** user name tried, for attempts */
  user: string | null
  httpRequest: boolean
  http4xx: boolean
  http5xx: boolean
  urlPath: string | null
  /** destination address:port, for events that reach one */
  destination: string | null
  /** a login by a named user from a known address: read (and, on success, extend) the user's history */
  login: { user: string; ip: string; country: string | null; lat: number | null; lon: number | null; success: boolean } | null
  /** how many events the line stands for (rsyslog folds repeats into one line) */
  weight: number
}

/** What a host's sshd sessions say of one of its lines. */
export interface SshdSessionAnswer {
  /** for a line that names no client address: its connection's, when an earlier line of it named one */
  sessionIp: string | null
  /**
   * a verdict: whether it counts as the attempt (not the failed one whose connection's PAM failure
   * stood alone, or whose `Invalid user` line, counted for it); a PAM failure: whether it stands
   * alone, no verdict of its host in the day before it nor an `Invalid user` line of its connection
   * that counted; an `Invalid user` (or `User … not allowed`) line: whether it names its connection (a pid and an address),
   * so that its verdict, if one follows, can be told apart; a line that ends a connection: whether
   * its process wrote just before it that the client sent no identification (it is then that
   * connection's record); another line: false
   */
  counts: boolean
}

export interface FeatureStore {
  /**
   * Reads the batch's sshd lines against what their hosts' sshd wrote before (sshd-sessions.lua),
   * and records them: the client address of an address-less line's connection (its process id), and
   * whether a verdict, a PAM failure or an `Invalid user` line is the attempt. One round trip, none for a batch without sshd lines.
   */
  sshdSessions(lines: readonly SshdLine[]): Promise<ReadonlyMap<SshdLine, SshdSessionAnswer>>
  /** Adds a batch of events to their entities' windows and reads back each event's window, in one round trip. */
  update(events: Array<{ event: NormalizedEvent; marks: WindowMarks }>): Promise<WindowStats[]>
}

export interface FeatureStoreOptions {
  windowSeconds: number
  /** how far behind an entity's newest event a late one may still land; older state is trimmed */
  lateGraceSeconds: number
  /** wall-clock expiry of an idle entity's keys, so memory stays bounded whatever the number of entities */
  ttlSeconds: number
  /** wall-clock expiry of a user's login history, and of a host's recent sshd verdicts */
  userTtlSeconds: number
}

const MINUTE_MS = 60_000
const TEN_SECONDS_MS = 10_000
/** values entity-window.lua returns per event */
const WINDOW_VALUES = 14
// Runs inside Redis: one call per entity and batch instead of ~25 commands per event, which was most of the featurizer's time.
const ENTITY_WINDOW_SCRIPT = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'entity-window.lua'), 'utf8')
// A login read against its user's history and added to it, once per event id however often it is delivered.
const USER_LOGIN_SCRIPT = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'user-login.lua'), 'utf8')
// A host's sshd lines read against its sessions and recent verdicts (see the script).
const SSHD_SESSIONS_SCRIPT = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'sshd-sessions.lua'), 'utf8')
/** how far back a verdict of its host makes a PAM failure one of the verdict's attempt (event time) */
const SSHD_VERDICT_HORIZON_MS = 86_400_000
/** verdict times kept per host, the newest */
const SSHD_VERDICTS_KEPT = 64
/** the longest a PAM failure comes before its verdict (pam_faildelay, 2 s by default, lies between) */
const SSHD_PAM_TO_VERDICT_MS = 60_000
/** the longest an `Invalid user` line comes before its connection's first verdict: sshd's LoginGraceTime, 120 s by default */
const SSHD_USER_TO_VERDICT_MS = 120_000
/** wall-clock expiry of a host's hour of sessions: the hour after it reads it too */
const SSHD_SESSION_TTL_SECONDS = 2 * 3600
/** how long after a line named its client a line of the same sshd process with none is placed there (a reused pid is another connection) */
const SSHD_SESSION_MS = 600_000
/** how far from its kex_exchange_identification error the line that ends the connection comes (the same call of sshd, at once; a relay may swap them) */
const SSHD_KEX_TO_CLOSE_MS = 10_000
const SSHD_KINDS: Record<SshdLine['kind'], string> = {
  'failed-verdict': 'f', 'accepted-verdict': 'v', 'pam-failure': 'p', 'invalid-user': 'i', 'kex-unidentified': 'k', 'closing': 'c', 'other': 'o',
}
/** logins remembered per user for redeliveries */
const USER_MEMO_MAX = 1000

/**
 * Per-entity sliding windows on event time in Redis: sorted sets (score = event time, member =
 * event id, so a redelivered event is counted once) for counts, and HyperLogLogs in one-minute
 * event-time buckets for distinct counts (PFCOUNT over the window's buckets), updated and read by
 * one script call per entity and batch (entity-window.lua). What falls behind the window and the
 * late grace on event time is deleted then, though never a batch's own events, so a retried batch
 * gets the windows it got however much event time it spans; an idle entity's keys expire after ttlSeconds of wall
 * time. A user's login history lives beside them. All
 * calls of a batch go in one pipeline; an entity's keys share a hash tag (one Cluster slot).
 */
export function createFeatureStore(redis: Redis, options: FeatureStoreOptions): FeatureStore {
  const windowMs = options.windowSeconds * 1000
  const keepMs = windowMs + options.lateGraceSeconds * 1000
  const bucketsPerWindow = Math.ceil(windowMs / MINUTE_MS)
  redis.defineCommand('vigilEntityWindow', { numberOfKeys: 1, lua: ENTITY_WINDOW_SCRIPT })
  redis.defineCommand('vigilUserLogin', { numberOfKeys: 4, lua: USER_LOGIN_SCRIPT })
  redis.defineCommand('vigilSshdSessions', { numberOfKeys: 2, lua: SSHD_SESSIONS_SCRIPT })

  return {
    async sshdSessions(lines) {
      const byHost = new Map<string, SshdLine[]>()
      for (const line of lines) {
        // Lines of hosts without a name would share one host's sessions and verdicts; a line with no
        // pid and no address is nothing to them.
        if (line.host === '' || (line.pid === null && line.ip === null && line.kind === 'other')) continue
        const host = byHost.get(line.host)
        if (host) host.push(line)
        else byHost.set(line.host, [line])
      }
      // a line left out has none: a verdict counts, a PAM failure or `Invalid user` line does not
      const answers = new Map<SshdLine, SshdSessionAnswer>(kexPairsOfUnnamedHosts(lines).map((line) => [line, { sessionIp: null, counts: true }]))
      if (byHost.size === 0) return answers
      const pipeline = redis.pipeline() as ReturnType<Redis['pipeline']> & { vigilSshdSessions(...args: Array<string | number>): unknown }
      for (const [host, hostLines] of byHost) {
        pipeline.vigilSshdSessions(`${hostBase(host)}:sshd-verdicts`, `${hostBase(host)}:sshd-sessions`,
          options.userTtlSeconds, SSHD_VERDICTS_KEPT, SSHD_VERDICT_HORIZON_MS, SSHD_PAM_TO_VERDICT_MS, SSHD_USER_TO_VERDICT_MS, SSHD_SESSION_MS, SSHD_SESSION_TTL_SECONDS, SSHD_KEX_TO_CLOSE_MS,
          ...hostLines.flatMap((l) => [SSHD_KINDS[l.kind], l.time, l.pid ?? '', l.ip ?? '', l.eventId]))
      }
      const results = await execPipeline(pipeline)
      let call = 0
      for (const hostLines of byHost.values()) {
        const values = results[call++]![1] as string[]
        hostLines.forEach((line, i) => answers.set(line, { sessionIp: values[2 * i] || null, counts: values[2 * i + 1] === '1' }))
      }
      return answers
    },

    async update(batch) {
      if (batch.length === 0) return []
      const pipeline = redis.pipeline() as ReturnType<Redis['pipeline']> & {
        vigilEntityWindow(...args: Array<string | number>): unknown
        vigilUserLogin(...args: Array<string | number>): unknown
      }
      // One script call per entity with all of its events of the batch, in batch order.
      const byEntity = new Map<string, number[]>()
      batch.forEach(({ event }, i) => {
        const base = entityBase(event)
        const events = byEntity.get(base)
        if (events) events.push(i)
        else byEntity.set(base, [i])
      })
      const windowOf: Array<{ call: number; at: number }> = new Array(batch.length)
      let index = 0
      for (const [base, events] of byEntity) {
        let packed = ''
        events.forEach((i, k) => {
          const { event, marks } = batch[i]!
          const t = event.ecs.timestamp
          windowOf[i] = { call: index, at: k * WINDOW_VALUES }
          // The window's bounds are worked out here: Lua turning numbers into strings for Redis was dear.
          // Packed as entity-window.lua reads it: a header, then the strings by their byte lengths.
          const [id, idBytes] = utf8(event.eventId)
          const [user, userBytes] = utf8(marks.user ?? '')
          const [urlPath, urlPathBytes] = utf8(marks.urlPath ?? '')
          const [destination, destinationBytes] = utf8(marks.destination ?? '')
          packed += `${t}|${t - windowMs}|${t - MINUTE_MS}|${t - TEN_SECONDS_MS}|${Math.floor(t / MINUTE_MS)}|${marks.weight}|${flagsOf(marks)}|`
            + `${idBytes}|${userBytes}|${urlPathBytes}|${destinationBytes}|${id}${user}${urlPath}${destination}`
        })
        pipeline.vigilEntityWindow(base, keepMs, options.ttlSeconds, bucketsPerWindow, packed)
        index++
      }
      const userAt: Array<number | null> = []
      for (const { event, marks } of batch) {
        const { login } = marks
        if (!login) {
          userAt.push(null)
          continue
        }
        const u = userBase(login.user)
        userAt.push(index++)
        pipeline.vigilUserLogin(
          `${u}:countries`, `${u}:ips`, `${u}:loc`, `${u}:memo`,
          event.eventId, login.country ?? '', login.ip, login.lat ?? '', login.lon ?? '', login.success ? 1 : 0, options.userTtlSeconds, USER_MEMO_MAX, options.ttlSeconds,
        )
      }

      const results = await execPipeline(pipeline)
      // The entity calls came first in the pipeline, one per entity.
      const windows = results.slice(0, byEntity.size).map(([, packed]) => (packed as string).split('|'))
      return batch.map((_, i) => {
        const { call, at } = windowOf[i]!
        const window = windows[call]!
        const n = (j: number) => Number(window[at + j])
        const u = userAt[i]
        let user: WindowStats['user'] = null
        if (u !== null && u !== undefined) {
          const [countryKnown, ipKnown, lat, lon, count] = (results[u]![1] as Array<string | number>).map((v) => (v === '' ? null : Number(v)))
          user = {
            countryKnown: countryKnown === 1,
            ipKnown: ipKnown === 1,
            usualLat: count ? lat! / count : null,
            usualLon: count ? lon! / count : null,
          }
        }
        return {
          events: n(0), authAttempts: n(1), authAttemptsLastMinute: n(2), authFailures: n(3), invalidUserAttempts: n(4),
          httpRequests: n(5), httpRequestsLast10s: n(6), http4xx: n(7), http5xx: n(8),
          distinctUsers: n(9), distinctPaths: n(10), distinctDestinations: n(11),
          previousEventTime: window[at + 12] === '' ? null : Number(window[at + 12]),
          lateBeyondGrace: window[at + 13] === '1',
          user,
        }
      })
    },
  }
}

/**
 * For lines of hosts without a name, which keep no sessions: the lines that end a connection whose
 * kex error (the client sent no identification) came in the same batch from the same process, as
 * sshd-sessions.lua pairs them for a named host.
 */
function kexPairsOfUnnamedHosts(lines: readonly SshdLine[]): SshdLine[] {
  const unnamed = lines.filter((l) => l.host === '' && l.pid !== null)
  const errors = unnamed.filter((l) => l.kind === 'kex-unidentified')
  const paired: SshdLine[] = []
  for (const closing of unnamed.filter((l) => l.kind === 'closing')) {
    const at = errors.findIndex((e) => e.pid === closing.pid && Math.abs(e.time - closing.time) <= SSHD_KEX_TO_CLOSE_MS)
    if (at === -1) continue
    errors.splice(at, 1)
    paired.push(closing)
  }
  return paired
}

/** Runs a pipeline; Redis away, or a command of it failing, is a TransientError, which holds the batch. */
async function execPipeline(pipeline: ReturnType<Redis['pipeline']>): Promise<Array<[Error | null, unknown]>> {
  let results: Array<[Error | null, unknown]> | null
  try {
    results = await pipeline.exec()
  } catch (cause) {
    throw new TransientError('FEATURE_STORE_UNAVAILABLE', `redis: ${(cause as Error).message}`, { cause })
  }
  if (!results) throw new TransientError('FEATURE_STORE_UNAVAILABLE', 'redis pipeline returned nothing')
  const failed = results.find(([err]) => err)
  if (failed) throw new TransientError('FEATURE_STORE_UNAVAILABLE', `redis: ${failed[0]!.message}`, { cause: failed[0] })
  return results
}

/** The marks as entity-window.lua's flags: 0/1 for auth, fail, inval, http, h4, h5. */
const flagsOf = (m: WindowMarks) =>
  (m.authAttempt ? '1' : '0') + (m.authFailure ? '1' : '0') + (m.invalidUser ? '1' : '0') + (m.httpRequest ? '1' : '0') + (m.http4xx ? '1' : '0') + (m.http5xx ? '1' : '0')

/**
 * A value as the packed argument carries it, with its UTF-8 byte count. Lone surrogates become
 * U+FFFD, the bytes they go to Redis as anyway: measured one by one, a value ending in a lone high
 * surrogate and the next starting with a lone low one would join into one character on the wire,
 * 4 bytes sent where 6 were counted, and every later length off. ASCII (nearly every value) needs
 * neither step.
 */
function utf8(s: string): [string, number] {
  if (!NON_ASCII.test(s)) return [s, s.length]
  const wellFormed = (s as string & { toWellFormed(): string }).toWellFormed()
  return [wellFormed, Buffer.byteLength(wellFormed, 'utf8')]
}
const NON_ASCII = /[\u0080-\uffff]/

const entityBase = (event: NormalizedEvent) => `f:{${event.entity.kind}=${event.entity.id}}`
const userBase = (user: string) => `u:{${user}}`
const hostBase = (host: string) => `h:{${host}}`
