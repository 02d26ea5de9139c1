import { startPeriodic, withAdvisoryLock, type Logger, type PgPool } from '@vigil/platform'
import type { FeatureHistory } from '../adapters/feature-history.ts'
import type { DriftReport } from './feature-drift.ts'
import type { ShadowReviewOutcome } from './shadow-review.ts'
import { lastTrainingRun } from './train-candidate.ts'

export interface ScheduleOptions {
  /**
   * the model it trains: the registry's record of its training runs is the schedule's memory, so a
   * restarted trainer, or another instance, knows when the last one ran and why
   */
  model: string
  minRows: number
  intervalMs: number
  settleMs: number
  /** how long the first model waits for the history to settle once minRows rows are there */
  firstModelMaxWaitMs: number
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
  reviewShadow(): Promise<ShadowReviewOutcome>
  /** the live version and the feature that drifted most since its training window; null without a live version or recent history */
  measureDrift(): Promise<Pick<DriftReport, 'version' | 'worst'> | null>
}

/** Why the schedule trains now. */
interface Due {
  reason: string
  /** rows of history at the time */
  rows: number
}

/**
 * How the reason of a drift retrain begins: with the live version drift was measured against. Every
 * training run records its reason in the registry, so the schedule reads there whether, and when, a
 * drift retrain from that version ran: after a restart, or on another instance, as well as on this one.
 */
const driftFrom = (version: string) => `drift from ${version}: `

/** The advisory lock that keeps two trainer instances from checking and training at once. */
const TRAINER_LOCK = 'trainer'

/**
 * Decides when to train: on request; a first model once enough history has arrived and stopped
 * growing for a moment (a replay trains on all of it, not its first seconds), or has kept growing
 * for firstModelMaxWaitMs (steady traffic never stops, and the scorers wait for a model); when a feature's
 * distribution has drifted past the threshold (once per live version and interval, across restarts
 * and instances); and every interval when new history arrived. It also reviews shadow versions. A
 * Postgres advisory lock keeps two trainer instances from doing any of it at once.
 */
export function startTrainingSchedule(pool: PgPool, history: FeatureHistory, options: ScheduleOptions, log: Logger, jobs: ScheduleJobs) {
  let lastDriftCheck = Date.now()

  // Rows of history when a run found too few to train on (a first model, with too few left after
  // exclusions), which leaves nothing in the registry: the next run waits for more history.
  let shortAt = -1
  // When a run of this instance last failed before the registry recorded it (Postgres away, an error
  // in training): nothing is tried again (first model, drift or schedule) until an interval later,
  // rather than at every check.
  let failedAt: number | null = null
  // When this instance first found minRows rows and no model, or its last first-model run found too
  // few to train on; a restart waits again, at most as long.
  let enoughForFirstModelSince: number | null = null
  const train = async (due: Due) => {
    try {
      if ((await jobs.train(due.reason)) === null) {
        shortAt = due.rows
        // Under steady traffic the rows pass shortAt within a second: the first model waits again
        // (to settle, or as long again), not a training load per check.
        enoughForFirstModelSince = Date.now()
      }
    } catch (err) {
      failedAt = Date.now()
      throw err
    }
  }

  async function reasonToTrain(): Promise<Due | null> {
    const stats = await history.stats()
    if (stats.rows < options.minRows || stats.rows <= shortAt || !stats.lastStoredAt) return null
    const now = Date.now()
    if (failedAt !== null && now - failedAt < options.intervalMs) return null
    const because = (reason: string) => ({ reason, rows: stats.rows })
    // Every run that found history is in the registry, whichever instance ran it and whatever set it off.
    const lastTrainedAt = await lastTrainingRun(pool, options.model)
    if (!lastTrainedAt) {
      enoughForFirstModelSince ??= now
      if (now - stats.lastStoredAt.getTime() >= options.settleMs) return because('first model')
      if (now - enoughForFirstModelSince >= options.firstModelMaxWaitMs) return because(`first model (history still growing after ${options.firstModelMaxWaitMs / 1000} s)`)
      return null
    }
    if (now - lastDriftCheck >= options.driftCheckMs) {
      lastDriftCheck = now
      const drift = await jobs.measureDrift()
      const worst = drift?.worst
      if (drift && worst && worst.psi > options.driftThreshold) {
        // Drift from a version a drift retrain already ran from sets off no other until the interval
        // has passed: whatever that retrain gave (a version in shadow awaiting review, which another
        // retrain would replace; a rejected candidate; the same model again) another one minutes
        // later, on much the same history, would end no better.
        const retrainedAt = await lastTrainingRun(pool, options.model, driftFrom(drift.version))
        if (!retrainedAt || now - retrainedAt.getTime() >= options.intervalMs) {
          return because(`${driftFrom(drift.version)}${worst.feature} PSI ${worst.psi.toFixed(2)} > ${options.driftThreshold}`)
        }
      }
    }
    if (now - lastTrainedAt.getTime() >= options.intervalMs && (await history.rowsStoredSince(lastTrainedAt)) >= options.minRows) return because('scheduled retrain')
    return null
  }

  // The lock's connection is held across the whole check and any training; a Postgres restart
  // meanwhile fails the check (withAdvisoryLock's connection is discarded) and the next one retries.
  const tick = () => withAdvisoryLock(pool, TRAINER_LOCK, async () => {
    if (await jobs.serveRequest()) return
    const review = await jobs.reviewShadow()
    // A shadow version awaiting its review is not replaced by the next scheduled or drift retrain:
    // with both times at their defaults (an hour), the retrain always came first and no shadow
    // version was ever reviewed. One that cannot get its events gives way an interval after it was due.
    if (review !== null && typeof review === 'object' && Date.now() < review.reviewDueAt.getTime() + options.intervalMs) return
    const due = await reasonToTrain()
    if (due) await train(due)
  })

  return startPeriodic('training check', options.checkMs, tick, log)
}
