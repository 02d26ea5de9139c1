import type { Logger, PgPool } from '@vigil/platform'
import type { FeatureHistory } from './adapters/feature-history.ts'

export interface ScheduleOptions {
  /** when the newest registered version was trained: a restarted trainer does not retrain at once */
  lastTrainedAt: Date | null
  minRows: number
  intervalMs: number
  settleMs: number
  checkMs: number
}

/**
 * Decides when to train: a first model once enough history has arrived and stopped growing for a
 * moment (a replay trains on all of it, not its first seconds), then again every interval when new
 * history arrived. A Postgres advisory lock keeps two trainer instances from training at once.
 */
export function startTrainingSchedule(
  pool: PgPool, history: FeatureHistory, options: ScheduleOptions, log: Logger, train: (reason: string) => Promise<string>,
) {
  let lastTrainedAt = options.lastTrainedAt
  let timer: NodeJS.Timeout | null = null
  let running: Promise<void> = Promise.resolve()
  let stopped = false

  async function tick() {
    const stats = await history.stats()
    if (stats.rows < options.minRows || !stats.lastStoredAt) return
    const now = Date.now()
    let reason: string | null = null
    if (!lastTrainedAt) {
      if (now - stats.lastStoredAt.getTime() >= options.settleMs) reason = 'first model'
    } else if (now - lastTrainedAt.getTime() >= options.intervalMs && (await history.rowsStoredSince(lastTrainedAt)) >= options.minRows) {
      reason = 'scheduled retrain'
    }
    if (!reason) return
    const client = await pool.connect()
    try {
      const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock(hashtext('trainer')) AS locked")
      if (!rows[0]!.locked) return
      try {
        lastTrainedAt = new Date()
        await train(reason)
      } finally {
        await client.query("SELECT pg_advisory_unlock(hashtext('trainer'))")
      }
    } finally {
      client.release()
    }
  }

  const loop = () => {
    if (stopped) return
    running = tick().catch((err) => log.error({ err }, 'training check failed')).finally(() => {
      if (!stopped) timer = setTimeout(loop, options.checkMs)
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
