import { errorCode, type Logger } from '@vigil/platform'
import type { ClaimedNotification } from './outbox.ts'
import type { SinkName } from './sink.ts'

export type DeliveryOutcome = 'delivered' | 'retried' | 'failed'

/**
 * The metrics the sinks write, by the names they are proposed under in platform's createMetrics
 * (labels: sink, outcome). A platform `Metrics` with those fields satisfies this as it is.
 */
export interface SinkMetrics {
  /** app_sink_enqueued_total{sink}: alerts routed to the sink */
  sinkEnqueued: { inc(labels: { sink: string }, value?: number): void }
  /** app_sink_deliveries_total{sink,outcome}: delivery attempts by outcome */
  sinkDeliveries: { inc(labels: { sink: string; outcome: DeliveryOutcome }): void }
  /** app_sink_delivery_duration_seconds{sink}: time to an accepted delivery */
  sinkDeliveryDuration: { observe(labels: { sink: string }, seconds: number): void }
  /** app_sink_backlog_notifications{sink}: rows neither delivered nor failed */
  sinkBacklog: { set(labels: { sink: string }, value: number): void }
  /** app_sink_backlog_age_seconds{sink}: age of the oldest of them */
  sinkBacklogAge: { set(labels: { sink: string }, value: number): void }
}

/** Each outcome of the sinks as one log line and its metric, written together. */
export function createSinkEvents(log: Logger, metrics: SinkMetrics) {
  const at = (c: ClaimedNotification) => ({ sink: c.sink, alertId: c.alertId, attempt: c.attempt })
  return {
    enqueued(added: Map<SinkName, number>) {
      for (const [sink, n] of added) metrics.sinkEnqueued.inc({ sink }, n)
    },
    delivered(claim: ClaimedNotification, seconds: number) {
      metrics.sinkDeliveries.inc({ sink: claim.sink, outcome: 'delivered' })
      metrics.sinkDeliveryDuration.observe({ sink: claim.sink }, seconds)
      log.info({ ...at(claim), ms: Math.round(seconds * 1000) }, 'notification delivered')
    },
    retried(claim: ClaimedNotification, err: Error, delayMs: number) {
      metrics.sinkDeliveries.inc({ sink: claim.sink, outcome: 'retried' })
      log.warn({ ...at(claim), code: errorCode(err), reason: err.message, retryInMs: delayMs }, 'notification not delivered: will retry')
    },
    failed(claim: ClaimedNotification, err: Error) {
      metrics.sinkDeliveries.inc({ sink: claim.sink, outcome: 'failed' })
      log.error({ ...at(claim), code: errorCode(err), reason: err.message }, 'notification refused: marked failed, not retried')
    },
    /**
     * The row changed during the delivery: its claim lapsed and another dispatcher took it (the
     * receiver may get it twice), or its alert was resolved as noise and the row withdrawn.
     */
    claimLost(claim: ClaimedNotification) {
      log.warn(at(claim), 'outcome not recorded: the row changed during the delivery (its claim lapsed, or it was withdrawn)')
    },
    outcomeNotRecorded(claim: ClaimedNotification, err: unknown) {
      log.error({ ...at(claim), err }, 'could not record a delivery outcome: the row is tried again when its claim lapses')
    },
    outboxUnavailable(sink: SinkName | undefined, err: unknown) {
      log.warn({ sink, err }, 'outbox unavailable')
    },
    backlog(sink: SinkName, stats: { pending: number; oldestAgeSeconds: number }) {
      metrics.sinkBacklog.set({ sink }, stats.pending)
      metrics.sinkBacklogAge.set({ sink }, stats.oldestAgeSeconds)
    },
    stranded(rows: Array<{ sink: string; pending: number }>) {
      for (const { sink, pending } of rows) log.warn({ sink, pending }, 'notifications pending for a sink that is not configured: they wait until it is')
    },
  }
}

export type SinkEvents = ReturnType<typeof createSinkEvents>
