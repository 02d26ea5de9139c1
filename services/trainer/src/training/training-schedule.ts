import { withClient, type Logger, type PgPool } from '@vigil/platform'
import type { FeatureHistory } from '../adapters/feature-history.ts'

export interface ScheduleOptions {
  /** when the newest registered version was trained: a restarted trainer does not retrain at once */
  lastTrainedAt: Date | null
  minRows: number
  intervalMs: number
  settleMs: number
  checkMs: number
  driftCheckMs: number
  driftThreshold: number
}

/** What the schedule can set off; each returns once done. */
export interface ScheduleJobs {
  /** trains, evaluates and publishes (or rejects) a version; null when the history (after exclusions) was too short to train on */
  train(reason: string): Promise<unknown>
  /** serves the oldest open retraining request (from the CLI); false when there is none */
  serveRequest(): Promise<boolean>
  /** promotes or rejects a shadow version that has run long enough */
  reviewShadow(): Promise<unknown>
  /** the feature that drifted most since the live version's training window */
  measureDrift(): Promise<{ feature: string; psi: number } | null>
}

/**
 * Decides when to train: on request; a first model once enough history has arrived and stopped
 * growing for a moment (a replay trains on all of it, not its first seconds); when a feature's
 * distribution has drifted past the threshold; and every interval when new history arrived. It
 * also reviews shadow versions. A Postgres advisory lock keeps two trainer instances from doing
 * any of it at once.
 */
export function startTrainingSchedule(pool: PgPool, history: FeatureHistory, options: ScheduleOptions, log: Logger, jobs: ScheduleJobs) {
  let lastTrainedAt = options.lastTrainedAt
  let lastDriftCheck = Date.now()
  let timer: NodeJS.Timeout | null = null
  let running: Promise<void> = Promise.resolve()
  let stopped = false

  // Rows of history when a first model could not be trained (too few left after exclusions): the
  // next attempt waits for more history, not for the retraining interval.
  let firstAttemptShortAt: number | null = null
  const train = async (reason: string, rows: number) => {
    const before = lastTrainedAt
    lastTrainedAt = new Date()
    const trained = await jobs.train(reason)
    if (trained === null && before === null) {
      lastTrainedAt = null
      firstAttemptShortAt = rows
    }
  }

  async function reasonToTrain(): Promise<{ reason: string; rows: number } | null> {
    const stats = await history.stats()
    if (stats.rows < options.minRows || !stats.lastStoredAt) return null
    const now = Date.now()
    const because = (reason: string) => ({ reason, rows: stats.rows })
    if (!lastTrainedAt) {
      const settled = now - stats.lastStoredAt.getTime() >= options.settleMs
      return settled && stats.rows > (firstAttemptShortAt ?? -1) ? because('first model') : null
    }
    if (now - lastDriftCheck >= options.driftCheckMs) {
      lastDriftCheck = now
      const drift = await jobs.measureDrift()
      if (drift && drift.psi > options.driftThreshold) return because(`drift: ${drift.feature} PSI ${drift.psi.toFixed(2)} > ${options.driftThreshold}`)
    }
    if (now - lastTrainedAt.getTime() >= options.intervalMs && (await history.rowsStoredSince(lastTrainedAt)) >= options.minRows) return because('scheduled retrain')
    return null
  }

  // The lock's connection is held across the whole check and any training: withClient keeps a
  // Postgres restart meanwhile from killing the trainer (the check fails and the next one retries).
  const tick = () => withClient(pool, async (client) => {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock(hashtext('trainer')) AS locked")
    if (!rows[0]!.locked) return
    try {
      if (await jobs.serveRequest()) {
        lastTrainedAt = new Date()
        return
      }
      await jobs.reviewShadow()
      const due = await reasonToTrain()
      if (due) await train(due.reason, due.rows)
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext('trainer'))")
    }
  })

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
