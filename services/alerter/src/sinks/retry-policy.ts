/** How long a sink waits before trying a notification again. */
export interface RetryPolicy {
  /** delay after the first failure, ms; doubles with each further failure */
  baseMs: number
  /** the delay never grows past this, ms */
  maxMs: number
}

/** The longest Retry-After honoured, ms: a receiver asking for more is asked again after an hour. */
export const MAX_RETRY_AFTER_MS = 3_600_000

/**
 * Exponential backoff with equal jitter: after the n-th failure, between half and all of
 * min(maxMs, baseMs * 2^(n-1)). The jitter keeps instances that failed together from retrying together.
 */
export function retryDelayMs(failures: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(failures - 1, 40)))
  return Math.round(exponential / 2 + random() * (exponential / 2))
}

/** A Retry-After header (delay-seconds or an HTTP date) as ms from `now`, or undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined
  const value = header.trim()
  // An HTTP date always names its day and month; anything else Date.parse would guess at.
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : /^[a-z]{3}, /i.test(value) ? Date.parse(value) - now : NaN
  if (!Number.isFinite(ms)) return undefined
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms))
}
