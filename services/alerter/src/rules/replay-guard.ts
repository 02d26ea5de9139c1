import type { Redis } from '@vigil/platform'

/** One correlation group's fired members: where a replayed event is looked up. */
export interface GuardKey {
  correlationId: string
  groupKey: string
}

/**
 * What correlations already fired on. A correlation clears its group's state when it fires, so
 * without this a redelivered or duplicated batch would count the same events again and fire again
 * (an alert in another window, or evidence counted twice). The rule: an event (for value_count, a
 * value) that was a member of a firing of a correlation never counts toward that correlation's
 * group again, for as long as the group's state would live (`ttlMs`).
 */
export interface ReplayGuard {
  /** For each (key, member), whether it was a member of a firing; one round trip for the lot. */
  fired(items: readonly { key: GuardKey; member: string }[]): Promise<boolean[]>
  /** Records a firing's members. */
  remember(key: GuardKey, members: readonly string[], ttlMs: number): Promise<void>
}

/**
 * The guard in Redis, beside the correlation state (same hash tag, so one Cluster slot per
 * group): a set of fired members per correlation and group, expiring with the group's state.
 */
export function createRedisReplayGuard(redis: Redis, keyPrefix = 'sigma:'): ReplayGuard {
  const keyOf = (k: GuardKey) => `${keyPrefix}fired:{${k.correlationId}:${k.groupKey}}`
  return {
    async fired(items) {
      if (items.length === 0) return []
      const pipeline = redis.pipeline()
      for (const { key, member } of items) pipeline.sismember(keyOf(key), member)
      const results = (await pipeline.exec()) ?? []
      return results.map(([err, found]) => {
        if (err) throw err
        return found === 1
      })
    },
    async remember(key, members, ttlMs) {
      if (members.length === 0) return
      const results = await redis.multi().sadd(keyOf(key), ...members).pexpire(keyOf(key), ttlMs).exec()
      const failed = results?.find(([err]) => err)
      if (failed) throw failed[0]
    },
  }
}

/** The guard in one process's memory, for unit tests (no expiry). */
export function createMemoryReplayGuard(): ReplayGuard {
  const sets = new Map<string, Set<string>>()
  const keyOf = (k: GuardKey) => `${k.correlationId}\u0000${k.groupKey}`
  return {
    async fired(items) {
      return items.map(({ key, member }) => sets.get(keyOf(key))?.has(member) ?? false)
    },
    async remember(key, members) {
      const set = sets.get(keyOf(key)) ?? new Set<string>()
      for (const m of members) set.add(m)
      sets.set(keyOf(key), set)
    },
  }
}
