import type { Logger } from './logger.ts'

/**
 * How long a starting service waits for a dependency that is not there yet (a Kafka broker, the
 * schema registry, Postgres), ms: a new deployment starts them and the services together.
 */
export const STARTUP_WAIT_MS = 120_000

/** A dependency still not reachable when the wait for it was up; `cause` is the last failure. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError'
  constructor(what: string, waitedMs: number, cause: unknown) {
    super(`${what} is not reachable${waitedMs > 0 ? ` after ${Math.round(waitedMs / 1000)} s` : ''}: ${messagesOf(cause)}`, { cause })
  }
}

/** An error's message and its causes' that say more: kafkajs wraps a socket error in errors of its own. */
function messagesOf(err: unknown): string {
  const messages: string[] = []
  for (let e = err as { message?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (typeof e.message === 'string' && e.message !== '' && !messages.some((m) => m.includes(e.message as string))) messages.push(e.message)
  }
  return messages.join(': ') || String(err)
}

/**
 * Runs `probe` until it succeeds and returns what it gave, every `retryMs` for up to `timeoutMs`,
 * while its failure means `what` is not reachable yet (`isUnreachable`), logging each wait; any
 * other failure (a setting the dependency refuses) is thrown at once; when the time is up, an
 * UnreachableError naming `what` and the last failure.
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
      if (!isUnreachable(err)) throw err
      if (Date.now() + retryMs > deadline) throw new UnreachableError(what, timeoutMs, err)
      log.warn({ err: (err as Error).message, attempt, waitedMs: timeoutMs - (deadline - Date.now()) }, `waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, retryMs))
    }
  }
}
