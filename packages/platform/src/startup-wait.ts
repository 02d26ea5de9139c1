import type { Logger } from './logger.ts'

/**
 * How long a starting service waits for a dependency that is not there yet (a Kafka broker, the
 * schema registry, Postgres), ms: a new deployment starts them and the services together.
 */
export const STARTUP_WAIT_MS = 120_000

/**
 * Runs `probe` until it succeeds and returns what it gave, every `retryMs` for up to `timeoutMs`,
 * while its failure means `what` is not reachable yet (`isUnreachable`), logging each wait; any
 * other failure (a setting the dependency refuses) is thrown at once, and so is the last one when
 * the time is up.
 */
export async function waitUntilReachable<T>(
  what: string, probe: () => Promise<T>, isUnreachable: (err: unknown) => boolean, log: Logger,
  { timeoutMs = STARTUP_WAIT_MS, retryMs = 1_000 }: { timeoutMs?: number; retryMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await probe()
      if (attempt > 1) log.info({ attempts: attempt }, `${what} is reachable`)
      return result
    } catch (err) {
      if (!isUnreachable(err) || Date.now() + retryMs > deadline) throw err
      log.warn({ err: (err as Error).message, attempt, waitedMs: timeoutMs - (deadline - Date.now()) }, `waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, retryMs))
    }
  }
}
