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

/** The script's answer: a fresh firing with its quotes, a firing as kept from before, or null. */
type ScriptAnswer = [Array<string | number>, string[]] | Array<string | number> | null
type WithScript = Redis & { vigilSigmaCorrelation(...args: Array<string | number>): Promise<ScriptAnswer> }

/**
 * Correlation state in Redis, so every alerter instance sees every group: per correlation rule and
 * group, a sorted set (the window: member -> event time), a hash (which event was seen at each
 * step), a hash of the members' quotes, and each observation's outcome with its time, all updated and checked by one Lua script
 * (correlation-window.lua), which also clears the window when the correlation fires, so two
 * instances cannot both fire on the same events. The keys share a hash tag (one Cluster slot).
 */
export function createRedisCorrelationState(redis: Redis, options: RedisCorrelationStateOptions = {}): CorrelationState {
  const prefix = options.keyPrefix ?? 'sigma:'
  const idleTtlMs = options.idleTtlMs ?? 10 * 60_000
  redis.defineCommand('vigilSigmaCorrelation', { numberOfKeys: 5, lua: SCRIPT })
  const client = redis as WithScript
  const bound = (v: number | undefined) => (v === undefined ? '' : v)
  return {
    async observe(o: Observation): Promise<Firing | null> {
      const base = `${prefix}corr:{${o.correlationId}:${o.groupKey}}`
      const c = o.condition
      const out = await client.vigilSigmaCorrelation(
        `${base}:w`, `${base}:e`, `${base}:o`, `${base}:s`, `${base}:q`,
        o.type, o.time, o.timespanMs, o.steps.join(','), o.stepCount, o.eventId, o.value ?? '', o.timespanMs + idleTtlMs,
        bound(c.gt), bound(c.gte), bound(c.lt), bound(c.lte), bound(c.eq), bound(c.neq), MAX_FIRING_MEMBERS, MAX_ORDERED_EVENTS, o.quote ?? '',
      )
      if (out === null) return null
      const [[count, ...members], quotes] = Array.isArray(out[0]) ? out as [Array<string | number>, string[]] : [out as Array<string | number>, []]
      return { count: Number(count), members: members.map(String), quotes: members.map((_, i) => (quotes[i] ? String(quotes[i]) : null)) }
    },
    // The client belongs to the caller, who closes it.
    async close() {},
  }
}
