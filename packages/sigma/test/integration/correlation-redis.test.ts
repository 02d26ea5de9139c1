import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createRedis } from '@vigil/platform'
import { uniquePrefix } from '@vigil/testkit'
import { createRedisCorrelationState } from '../../src/correlation-state-redis.ts'
import { MAX_FIRING_MEMBERS, type Observation } from '../../src/correlation.ts'
import { correlationStateConformance } from '../correlation-conformance.ts'

// Correlation state in the real Redis of the local stack: the same semantics suite the in-memory
// state passes, and several alerter instances sharing one group without firing twice.

let redis: ReturnType<typeof createRedis>
let second: ReturnType<typeof createRedis>
const prefix = uniquePrefix('sigma')

beforeAll(async () => {
  redis = createRedis({ REDIS_URL: inject('stack').REDIS_URL, REDIS_KEY_PREFIX: prefix })
  second = createRedis({ REDIS_URL: inject('stack').REDIS_URL, REDIS_KEY_PREFIX: prefix })
  await Promise.all([redis.ready(), second.ready()])
})
afterAll(async () => {
  // ioredis does not prefix KEYS patterns, and returns full names; del() adds the prefix again.
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys.map((k) => k.slice(prefix.length)))
  await Promise.all([redis.close(), second.close()])
})

let run = 0
describe('correlation semantics (Redis state)', () => {
  correlationStateConformance(async () => createRedisCorrelationState(redis, { keyPrefix: `t${run++}:` }))
})

describe('several alerter instances on one Redis', () => {
  it('agree: of many concurrent observations of one group, exactly the threshold-crossing ones fire', async () => {
    const a = createRedisCorrelationState(redis, { keyPrefix: 'shared:' })
    const b = createRedisCorrelationState(second, { keyPrefix: 'shared:' })
    const obs = (i: number): Observation => ({
      correlationId: 'many-failures', type: 'event_count', groupKey: 'g1', steps: [0], stepCount: 1, eventId: `e${i}`,
      time: 1_000 + i, timespanMs: 60_000, condition: { gte: 5 }, value: null,
    })
    // 50 events, split over two instances and sent concurrently: 10 windows of 5 events each fire once.
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).observe(obs(i))))
    const firings = results.filter((r) => r !== null)
    expect(firings).toHaveLength(10)
    const members = firings.flatMap((f) => f!.members)
    expect(new Set(members).size).toBe(50)
  })

  it('remembers no more than a timespan of events, however long an attack lasts', async () => {
    const state = createRedisCorrelationState(redis, { keyPrefix: 'long:' })
    // 2000 s of one failure a second against a 60 s window that fires every 10
    let firings = 0
    for (let i = 0; i < 2000; i++) {
      const fired = await state.observe({
        correlationId: 'c', type: 'event_count', groupKey: 'g', steps: [0], stepCount: 1, eventId: `e${i}`,
        time: i * 1000, timespanMs: 60_000, condition: { gte: 10 }, value: null, quote: `evidence of e${i}`,
      })
      if (fired) firings++
    }
    expect(firings).toBe(200)
    expect(await redis.hlen('long:corr:{c:g}:o')).toBeLessThanOrEqual(60)
    expect(await redis.zcard('long:corr:{c:g}:s')).toBeLessThanOrEqual(60)
    // the quotes go with their members: only those of the window since the last firing are kept
    expect(await redis.hlen('long:corr:{c:g}:q')).toBeLessThan(10)
  })

  it('keeps at most as many quotes as a firing returns members, in a window that never fires', async () => {
    const state = createRedisCorrelationState(redis, { keyPrefix: 'quotes:' })
    for (let i = 0; i < 3 * MAX_FIRING_MEMBERS; i++) {
      await state.observe({
        correlationId: 'c', type: 'temporal_ordered', groupKey: 'g', steps: [0], stepCount: 2, eventId: `e${i}`,
        time: i, timespanMs: 60_000, condition: { gte: 2 }, value: null, quote: 'x'.repeat(2048),
      })
    }
    expect(await redis.zcard('quotes:corr:{c:g}:w')).toBe(3 * MAX_FIRING_MEMBERS)
    expect(await redis.hlen('quotes:corr:{c:g}:q')).toBe(MAX_FIRING_MEMBERS)
  })

  it('expires an idle group', async () => {
    const state = createRedisCorrelationState(redis, { keyPrefix: 'ttl:', idleTtlMs: 0 })
    await state.observe({ correlationId: 'c', type: 'event_count', groupKey: 'g', steps: [0], stepCount: 1, eventId: 'x', time: 0, timespanMs: 200, condition: { gte: 2 }, value: null })
    const ttl = await redis.pttl('ttl:corr:{c:g}:w')
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(200)
  })
})
