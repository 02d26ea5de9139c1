import { describe, expect, it } from 'vitest'
import { MAX_RETRY_AFTER_MS, parseRetryAfter, retryDelayMs } from '../../src/sinks/retry-policy.ts'

const policy = { baseMs: 100, maxMs: 5_000 }

describe('retry delay', () => {
  it('doubles from the base, between half and all of it, and stops at the cap', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, policy, () => 0))).toEqual([50, 100, 200, 400])
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, policy, () => 1))).toEqual([100, 200, 400, 800])
    expect(retryDelayMs(7, policy, () => 1)).toBe(5_000) // 6400 capped
    expect(retryDelayMs(1_000, policy, () => 0.5)).toBe(3_750)
    expect(retryDelayMs(0, policy, () => 1)).toBe(100)
  })

  it('spreads instances that failed together', () => {
    let seed = 42
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
    const delays = Array.from({ length: 200 }, () => retryDelayMs(5, policy, random))
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(800)
    expect(Math.max(...delays)).toBeLessThanOrEqual(1_600)
    expect(new Set(delays).size).toBeGreaterThan(100)
  })
})

describe('Retry-After', () => {
  const now = Date.parse('2026-06-01T12:00:00Z')
  it('reads delay-seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
    expect(parseRetryAfter('Mon, 01 Jun 2026 12:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Mon, 01 Jun 2026 11:00:00 GMT', now)).toBe(0) // in the past: now
  })
  it('ignores what it cannot read and caps what is too long', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined()
    expect(parseRetryAfter('', now)).toBeUndefined()
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter('-5', now)).toBeUndefined()
    expect(parseRetryAfter('86400', now)).toBe(MAX_RETRY_AFTER_MS)
  })
})
