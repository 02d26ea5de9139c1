import { TransientError, type Redis } from '@vigil/platform'
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

export interface FeatureStore {
  /** Adds a batch of events to their entities' windows and reads back each event's window, in one round trip. */
  update(events: Array<{ event: NormalizedEvent; marks: WindowMarks }>): Promise<WindowStats[]>
}

export interface FeatureStoreOptions {
  windowSeconds: number
  /** how far behind an entity's newest event a late one may still land; older state is trimmed */
  lateGraceSeconds: number
  /** wall-clock expiry of an idle entity's keys, so memory stays bounded whatever the number of entities */
  ttlSeconds: number
  /** wall-clock expiry of a user's login history */
  userTtlSeconds: number
}

const MINUTE_MS = 60_000
const ZSETS = ['ev', 'auth', 'fail', 'inval', 'http', 'h4', 'h5'] as const
const READS_PER_EVENT = 13

/**
 * Per-entity sliding windows on event time in Redis: sorted sets (score = event time, member =
 * event id, so a redelivered event is counted once) for counts, and HyperLogLogs in one-minute
 * event-time buckets for distinct counts (PFCOUNT over the window's buckets). A user's login
 * history lives beside them. All commands of a batch go in one pipeline; an entity's keys share a
 * hash tag, so the same code runs on Redis Cluster.
 */
export function createFeatureStore(redis: Redis, options: FeatureStoreOptions): FeatureStore {
  const windowMs = options.windowSeconds * 1000
  const keepMs = windowMs + options.lateGraceSeconds * 1000
  const bucketsPerWindow = Math.ceil(windowMs / MINUTE_MS)

  return {
    async update(batch) {
      if (batch.length === 0) return []
      const pipeline = redis.pipeline()
      let index = 0
      const readAt: number[] = []
      const userReadAt: Array<number | null> = []
      const newestByEntity = new Map<string, number>()
      const hllKeys = new Set<string>()
      for (const { event, marks } of batch) {
        const base = entityBase(event)
        const t = event.ecs.timestamp
        const id = event.eventId
        // A line standing for N repeats adds N members, so window counts see N events.
        const members = marks.weight > 1 ? Array.from({ length: marks.weight }, (_, r) => [t, r === 0 ? id : `${id}#${r}`]).flat() : [t, id]
        const add = (set: (typeof ZSETS)[number], when: boolean) => {
          if (when) { pipeline.zadd(`${base}:${set}`, ...members); index++ }
        }
        add('ev', true)
        add('auth', marks.authAttempt)
        add('fail', marks.authFailure)
        add('inval', marks.invalidUser)
        add('http', marks.httpRequest)
        add('h4', marks.http4xx)
        add('h5', marks.http5xx)
        const bucket = Math.floor(t / MINUTE_MS)
        const pfadd = (kind: string, value: string | null) => {
          if (!value) return
          const key = `${base}:${kind}:${bucket}`
          pipeline.pfadd(key, value); index++
          hllKeys.add(key)
        }
        pfadd('users', marks.user)
        pfadd('paths', marks.urlPath)
        pfadd('dst', marks.destination)

        readAt.push(index)
        const from = t - windowMs
        const buckets = (kind: string) => Array.from({ length: bucketsPerWindow }, (_, i) => `${base}:${kind}:${bucket - i}`)
        pipeline.zcount(`${base}:ev`, from, t)
        pipeline.zcount(`${base}:auth`, from, t)
        pipeline.zcount(`${base}:auth`, t - MINUTE_MS, t)
        pipeline.zcount(`${base}:fail`, from, t)
        pipeline.zcount(`${base}:inval`, from, t)
        pipeline.zcount(`${base}:http`, from, t)
        pipeline.zcount(`${base}:http`, t - 10_000, t)
        pipeline.zcount(`${base}:h4`, from, t)
        pipeline.zcount(`${base}:h5`, from, t)
        pipeline.pfcount(...buckets('users'))
        pipeline.pfcount(...buckets('paths'))
        pipeline.pfcount(...buckets('dst'))
        pipeline.zrevrangebyscore(`${base}:ev`, t, '-inf', 'WITHSCORES', 'LIMIT', 0, marks.weight + 1)
        index += READS_PER_EVENT

        if (marks.login) {
          const u = userBase(marks.login.user)
          userReadAt.push(index)
          pipeline.sismember(`${u}:countries`, marks.login.country ?? '')
          pipeline.sismember(`${u}:ips`, marks.login.ip)
          pipeline.hmget(`${u}:loc`, 'lat', 'lon', 'n')
          index += 3
          if (marks.login.success) {
            if (marks.login.country) { pipeline.sadd(`${u}:countries`, marks.login.country); index++ }
            pipeline.sadd(`${u}:ips`, marks.login.ip); index++
            if (marks.login.lat !== null && marks.login.lon !== null) {
              pipeline.hincrbyfloat(`${u}:loc`, 'lat', marks.login.lat)
              pipeline.hincrbyfloat(`${u}:loc`, 'lon', marks.login.lon)
              pipeline.hincrby(`${u}:loc`, 'n', 1)
              index += 3
            }
            for (const k of ['countries', 'ips', 'loc']) { pipeline.expire(`${u}:${k}`, options.userTtlSeconds); index++ }
          }
        } else {
          userReadAt.push(null)
        }
        newestByEntity.set(base, Math.max(newestByEntity.get(base) ?? -Infinity, t))
      }
      for (const [base, newest] of newestByEntity) {
        for (const set of ZSETS) {
          pipeline.zremrangebyscore(`${base}:${set}`, '-inf', `(${newest - keepMs}`)
          pipeline.expire(`${base}:${set}`, options.ttlSeconds)
        }
      }
      for (const key of hllKeys) pipeline.expire(key, options.ttlSeconds)

      let results: Array<[Error | null, unknown]> | null
      try {
        results = await pipeline.exec()
      } catch (cause) {
        throw new TransientError('FEATURE_STORE_UNAVAILABLE', `redis: ${(cause as Error).message}`, { cause })
      }
      if (!results) throw new TransientError('FEATURE_STORE_UNAVAILABLE', 'redis pipeline returned nothing')
      const failed = results.find(([err]) => err)
      if (failed) throw new TransientError('FEATURE_STORE_UNAVAILABLE', `redis: ${failed[0]!.message}`, { cause: failed[0] })
      return batch.map(({ event }, i) => {
        const at = readAt[i]!
        const n = (j: number) => Number(results[at + j]![1])
        const u = userReadAt[i]
        let user: WindowStats['user'] = null
        if (u !== null && u !== undefined) {
          const [lat, lon, count] = (results[u + 2]![1] as Array<string | null>).map((v) => (v === null ? null : Number(v)))
          user = {
            countryKnown: Number(results[u]![1]) === 1,
            ipKnown: Number(results[u + 1]![1]) === 1,
            usualLat: count ? lat! / count : null,
            usualLon: count ? lon! / count : null,
          }
        }
        return {
          events: n(0), authAttempts: n(1), authAttemptsLastMinute: n(2), authFailures: n(3), invalidUserAttempts: n(4),
          httpRequests: n(5), httpRequestsLast10s: n(6), http4xx: n(7), http5xx: n(8),
          distinctUsers: n(9), distinctPaths: n(10), distinctDestinations: n(11),
          previousEventTime: previousOf(results[at + 12]![1] as string[], event.eventId),
          user,
        }
      })
    },
  }
}

const entityBase = (event: NormalizedEvent) => `f:{${event.entity.kind}=${event.entity.id}}`
const userBase = (user: string) => `u:{${user}}`

/** From [member, score, member, score] newest first: the newest event that is not this one (nor its repeats). */
function previousOf(recent: string[], eventId: string): number | null {
  for (let i = 0; i + 1 < recent.length; i += 2) {
    if (recent[i] !== eventId && !recent[i]!.startsWith(`${eventId}#`)) return Number(recent[i + 1])
  }
  return null
}
