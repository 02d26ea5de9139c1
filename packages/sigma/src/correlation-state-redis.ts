import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Redis } from 'ioredis'
import { MAX_FIRING_MEMBERS, MAX_ORDERED_EVENTS, type CorrelationState, type Firing, type Observation } from './correlation.ts'

export interface RedisCorrelationStateOptions {
  /** prepended to every key (besides the client's own keyPrefix), e.g. per deployment or per test */
  keyPrefix?: string
  /** how long an idle group's state lives after the window, ms (wall clock; windows themselves run on event time) */
  idleTtlMs?: number
}

const SCRIPT = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'correlation-window.lua'), 'utf8')

type WithScript = Redis & { vigilSigmaCorrelation(...args: Array<string | number>): Promise<Array<string | number> | null> }

/**
 * Correlation state in Redis, so every alerter instance sees every group: per correlation rule and
 * group, a sorted set (the window: member -> event time), a hash (which event was seen at each
 * step), and each observation's outcome with its time, all updated and checked by one Lua script
 * (correlation-window.lua), which also clears the window when the correlation fires, so two
 * instances cannot both fire on the same events. The keys share a hash tag (one Cluster slot).
 */
export function createRedisCorrelationState(redis: Redis, options: RedisCorrelationStateOptions = {}): CorrelationState {
  const prefix = options.keyPrefix ?? 'sigma:'
  const idleTtlMs = options.idleTtlMs ?? 10 * 60_000
  redis.defineCommand('vigilSigmaCorrelation', { numberOfKeys: 4, lua: SCRIPT })
  const client = redis as WithScript
  const bound = (v: number | undefined) => (v === undefined ? '' : v)
  return {
    async observe(o: Observation): Promise<Firing | null> {
      const base = `${prefix}corr:{${o.correlationId}:${o.groupKey}}`
      const c = o.condition
      const out = await client.vigilSigmaCorrelation(
        `${base}:w`, `${base}:e`, `${base}:o`, `${base}:s`,
        o.type, o.time, o.timespanMs, o.steps.join(','), o.stepCount, o.eventId, o.value ?? '', o.timespanMs + idleTtlMs,
        bound(c.gt), bound(c.gte), bound(c.lt), bound(c.lte), bound(c.eq), bound(c.neq), MAX_FIRING_MEMBERS, MAX_ORDERED_EVENTS,
      )
      if (out === null) return null
      const [count, ...members] = out
      return { count: Number(count), members: members.map(String) }
    },
    // The client belongs to the caller, who closes it.
    async close() {},
  }
}
