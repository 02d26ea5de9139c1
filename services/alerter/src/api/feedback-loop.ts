import type { Logger } from '@vigil/platform'
import type { FeedbackVerdict, PublishVerdict, VerdictStore } from './verdict-store.ts'

/**
 * The metrics of the feedback API, by the names proposed for platform's createMetrics. A platform
 * `Metrics` with those fields satisfies this as it is.
 */
export interface FeedbackMetrics {
  /** app_alert_false_positive_ratio{detector}: false positives over all verdicts of the detector (a rule, or a model) */
  alertFalsePositiveRatio: { set(labels: { detector: string }, value: number): void; reset(): void }
  /** app_alert_verdicts{detector,verdict}: verdicts stored */
  alertVerdicts: { set(labels: { detector: string; verdict: string }, value: number): void; reset(): void }
  /** app_suppressions_active: suppressions the alerter applies */
  suppressionsActive: { set(value: number): void }
  /** app_api_requests_total{route,status}: API requests answered */
  apiRequests: { inc(labels: { route: string; status: string }): void }
}

export interface FeedbackLoop {
  /** Publishes a stored verdict and marks it published; false (logged, retried by the loop) when the topic did not take it. */
  publish(verdict: FeedbackVerdict): Promise<boolean>
  /** Recomputes the gauges from the stored verdicts. */
  refreshMetrics(): Promise<void>
  /** Republishes what is pending and recomputes the gauges; what the timer runs. */
  runOnce(): Promise<void>
  close(): Promise<void>
}

/**
 * Keeps the feedback topic and the metrics in line with the stored verdicts: every `intervalMs`,
 * verdicts not yet acknowledged (a broker that was down, an instance that stopped in between) are
 * published again, and the ratios are recomputed from the table, so every instance exports the
 * same figures whichever instance took the verdict.
 */
export function createFeedbackLoop(deps: {
  verdicts: Pick<VerdictStore, 'unpublished' | 'markPublished' | 'counts'>
  publishVerdict: PublishVerdict
  activeSuppressions: () => number
  metrics: FeedbackMetrics
  log: Logger
  intervalMs: number
}): FeedbackLoop {
  const { verdicts, log, metrics } = deps

  async function publish(verdict: FeedbackVerdict): Promise<boolean> {
    try {
      await deps.publishVerdict(verdict)
      await verdicts.markPublished(verdict)
      return true
    } catch (err) {
      log.warn({ err, alertId: verdict.alertId }, 'verdict stored but not published yet: will retry')
      return false
    }
  }

  async function refreshMetrics(): Promise<void> {
    const byDetector = new Map<string, { tp: number; fp: number }>()
    const counts = await verdicts.counts()
    metrics.alertVerdicts.reset()
    for (const { detector, verdict, count } of counts) {
      metrics.alertVerdicts.set({ detector, verdict }, count)
      const d = byDetector.get(detector) ?? { tp: 0, fp: 0 }
      if (verdict === 'true_positive') d.tp += count
      else d.fp += count
      byDetector.set(detector, d)
    }
    metrics.alertFalsePositiveRatio.reset()
    for (const [detector, { tp, fp }] of byDetector) metrics.alertFalsePositiveRatio.set({ detector }, fp / (tp + fp))
    metrics.suppressionsActive.set(deps.activeSuppressions())
  }

  let running: Promise<void> | null = null
  const runOnce = () => {
    running ??= (async () => {
      for (const verdict of await verdicts.unpublished()) {
        if (!(await publish(verdict))) break // the topic is down: the rest wait for the next round
      }
      await refreshMetrics()
    })().finally(() => {
      running = null
    })
    return running
  }

  const timer = setInterval(() => {
    runOnce().catch((err: unknown) => log.warn({ err }, 'feedback upkeep failed: will retry'))
  }, deps.intervalMs)
  timer.unref()

  return {
    publish,
    refreshMetrics,
    runOnce,
    async close() {
      clearInterval(timer)
      await running?.catch(() => {})
    },
  }
}
