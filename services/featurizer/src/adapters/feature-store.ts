import { TransientError, type Redis } from '@vigil/platform'
import type { NormalizedEvent } from '../normalize-event.ts'

/** What an entity did in the window that ends at one of its events (that event included). */
export interface WindowStats {
  events: number
  authAttempts: number
  authFailures: number
  invalidUserAttempts: number
  distinctUsers: number
  /** event time of the entity's previous event, null for its first */
  previousEventTime: number | null
}

/** How an event counts towards its entity's windows. */
export interface WindowMarks {
  authAttempt: boolean
  authFailure: boolean
  invalidUser: boolean
  /** user name tried, for attempts */
  user: string | null
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
}

/**
 * Per-entity sliding windows on event time in Redis sorted sets (score = event time, member = event
 * id, so a redelivered event is counted once). All commands of a batch go in one pipeline; keys of an
 * entity share a hash tag so the same code works on Redis Cluster.
 */
export function createFeatureStore(redis: Redis, options: FeatureStoreOptions): FeatureStore {
  const windowMs = options.windowSeconds * 1000
  const keepMs = windowMs + options.lateGraceSeconds * 1000

  return {
    async update(batch) {
      if (batch.length === 0) return []
      const pipeline = redis.pipeline()
      let index = 0
      const readAt: number[] = [] // pipeline index of each event's first read
      const newestByEntity = new Map<string, number>()
      for (const { event, marks } of batch) {
        const k = keysOf(event)
        const t = event.ecs.timestamp
        const id = event.eventId
        // A line standing for N repeats adds N members, so window counts see N events.
        const members = marks.weight > 1 ? Array.from({ length: marks.weight }, (_, r) => [t, r === 0 ? id : `${id}#${r}`]).flat() : [t, id]
        pipeline.zadd(k.events, ...members); index++
        if (marks.authAttempt) { pipeline.zadd(k.attempts, ...members); index++ }
        if (marks.authFailure) { pipeline.zadd(k.failures, ...members); index++ }
        if (marks.invalidUser) { pipeline.zadd(k.invalid, ...members); index++ }
        if (marks.user) { pipeline.zadd(k.users, 'GT', t, marks.user); index++ }
        readAt.push(index)
        const from = t - windowMs
        pipeline.zcount(k.events, from, t)
        pipeline.zcount(k.attempts, from, t)
        pipeline.zcount(k.failures, from, t)
        pipeline.zcount(k.invalid, from, t)
        pipeline.zcount(k.users, from, t)
        pipeline.zrevrangebyscore(k.events, t, '-inf', 'WITHSCORES', 'LIMIT', 0, marks.weight + 1)
        index += 6
        const base = k.events.slice(0, -':ev'.length)
        newestByEntity.set(base, Math.max(newestByEntity.get(base) ?? -Infinity, t))
      }
      for (const [base, newest] of newestByEntity) {
        for (const key of [`${base}:ev`, `${base}:auth`, `${base}:fail`, `${base}:inval`, `${base}:users`]) {
          pipeline.zremrangebyscore(key, '-inf', `(${newest - keepMs}`)
          pipeline.expire(key, options.ttlSeconds)
        }
      }
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
        const recent = results[at + 5]![1] as string[]
        return {
          events: n(0), authAttempts: n(1), authFailures: n(2), invalidUserAttempts: n(3), distinctUsers: n(4),
          previousEventTime: previousOf(recent, event.eventId),
        }
      })
    },
  }
}

function keysOf(event: NormalizedEvent) {
  const base = `f:{${event.entity.kind}=${event.entity.id}}`
  return { events: `${base}:ev`, attempts: `${base}:auth`, failures: `${base}:fail`, invalid: `${base}:inval`, users: `${base}:users` }
}

/** From [member, score, member, score] newest first: the newest event that is not this one. */
function previousOf(recent: string[], eventId: string): number | null {
  for (let i = 0; i + 1 < recent.length; i += 2) {
    if (recent[i] !== eventId && !recent[i]!.startsWith(`${eventId}#`)) return Number(recent[i + 1])
  }
  return null
}
