import { VigilError } from '@vigil/platform'
import type { Alert } from '@vigil/schemas'

/** The notification sinks an alert can be routed to, beside the alerts topic and Postgres (always written). */
export const sinkNames = ['slack', 'email', 'webhook'] as const
export type SinkName = (typeof sinkNames)[number]

/** One alert to deliver to one sink, as it stands at delivery time. */
export interface Notification {
  alertId: string
  alert: Alert
  /** the alert's current event count: the event that opened it plus every repeat folded into it */
  eventCount: number
  /** 1 on the first try */
  attempt: number
}

/** Where notifications go. `deliver` resolves once the receiver accepted the notification, or throws a SinkError. */
export interface Sink {
  name: SinkName
  deliver(notification: Notification): Promise<void>
  close(): Promise<void>
}

/**
 * A delivery that did not go through. `canRetry` tells a receiver that is down or busy (retried with
 * backoff) from one that refused this notification for good (marked failed, never retried).
 */
export class SinkError extends VigilError {
  constructor(code: SinkErrorCode, message: string, canRetry: boolean, readonly retryAfterMs?: number, options?: { cause?: unknown }) {
    super(code, message, canRetry, options)
  }
}

export type SinkErrorCode =
  | 'SINK_UNREACHABLE' // connection refused or reset, DNS, TLS
  | 'SINK_TIMEOUT' // no answer within SINK_TIMEOUT_MS
  | 'SINK_UNAVAILABLE' // the receiver answered that it cannot take it now (HTTP 408, 5xx; SMTP 4xx)
  | 'SINK_THROTTLED' // HTTP 429, retried after Retry-After
  | 'SINK_REJECTED' // the receiver refused this notification (HTTP 4xx, SMTP 5xx)
  | 'SINK_BROKEN' // an error of ours (rendering, configuration): retrying will not help
