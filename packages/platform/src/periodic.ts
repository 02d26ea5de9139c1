import type { Logger } from './logger.ts'

/** A job startPeriodic runs; `close` stops it and waits for the run in progress. */
export interface PeriodicJob {
  close(): Promise<void>
}

/**
 * Runs `run` at once and then `intervalMs` after each run ends, so two runs never overlap, until
 * closed. `close` waits for the run in progress, which can end early by asking `isStopping()`.
 * A failed run is logged as "`what` failed", and the next one comes as usual.
 */
export function startPeriodic(what: string, intervalMs: number, run: (isStopping: () => boolean) => Promise<unknown>, log: Pick<Logger, 'error'>): PeriodicJob {
  let timer: NodeJS.Timeout | null = null
  let running: Promise<void> = Promise.resolve()
  let stopped = false
  const isStopping = () => stopped

  const loop = () => {
    if (stopped) return
    running = run(isStopping)
      .then(() => {}, (err: unknown) => log.error({ err }, `${what} failed`))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, intervalMs)
      })
  }
  loop()

  return {
    async close() {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
    },
  }
}
