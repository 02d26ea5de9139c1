import { TransientError, type Logger, type PgPool } from '@vigil/platform'
import type { Alert } from '@vigil/schemas'
import { createSinkDispatcher } from './dispatcher.ts'
import { createEmailSink } from './email-sink.ts'
import { createOutbox, enqueueAlerts, severityIds, type Queryable, type Severity, type SinkRoute } from './outbox.ts'
import { createSinkEvents, type SinkMetrics } from './sink-events.ts'
import type { Sink } from './sink.ts'
import { createSlackSink } from './slack-sink.ts'
import { createWebhookSink } from './webhook-sink.ts'

/** The settings the sinks read; the alerter's config.ts defines and documents each. */
export interface SinkConfig {
  SLACK_WEBHOOK_URL?: string | undefined
  SLACK_MIN_SEVERITY: Severity
  SMTP_URL?: string | undefined
  EMAIL_FROM?: string | undefined
  EMAIL_TO?: string[] | undefined
  EMAIL_MIN_SEVERITY: Severity
  WEBHOOK_URL?: string | undefined
  WEBHOOK_SECRET?: string | undefined
  WEBHOOK_MIN_SEVERITY: Severity
  SINK_TIMEOUT_MS: number
  SINK_RETRY_BASE_MS: number
  SINK_RETRY_MAX_MS: number
  SINK_POLL_MS: number
}

export interface Notifier {
  /** The configured sinks and the least severe alert each receives. */
  routes: SinkRoute[]
  /** Routes alerts to the configured sinks through the outbox, once per alert and sink; `db` may be a client in a transaction. */
  enqueue(alerts: Alert[], db?: Queryable): Promise<void>
  /** Stops every dispatcher after its delivery in flight, then closes the sinks. */
  close(): Promise<void>
}

/**
 * The notification sinks (Slack, email, webhook) that are configured, each fed from the Postgres
 * outbox by its own dispatcher. The alerts topic and the alerts table are written by the alerter
 * itself; these come after.
 */
export function createSinks(config: SinkConfig, deps: { pool: PgPool; log: Logger; metrics: SinkMetrics; random?: () => number }): Notifier {
  const timeoutMs = config.SINK_TIMEOUT_MS
  const configured = configuredSinks(config, timeoutMs)
  const routes = configured.map(({ sink, minSeverity }) => ({ sink: sink.name, minSeverityId: severityIds[minSeverity] }))
  const outbox = createOutbox(deps.pool)
  const events = createSinkEvents(deps.log, deps.metrics)
  const policy = { pollMs: config.SINK_POLL_MS, leaseMs: leaseFor(timeoutMs), baseMs: config.SINK_RETRY_BASE_MS, maxMs: config.SINK_RETRY_MAX_MS }
  const dispatchers = new Map(configured.map(({ sink }) => [sink.name, createSinkDispatcher({ sink, outbox, policy, events, random: deps.random })]))

  deps.log.info({ sinks: configured.map(({ sink, minSeverity }) => ({ sink: sink.name, minSeverity })) }, 'notification sinks')
  void outbox.stranded(routes.map((r) => r.sink)).then(events.stranded, (err) => events.outboxUnavailable(undefined, err))

  return {
    routes,
    async enqueue(alerts, db = deps.pool) {
      if (routes.length === 0 || alerts.length === 0) return
      const added = await enqueueAlerts(db, alerts, routes).catch((cause) => {
        throw new TransientError('SINK_OUTBOX_UNAVAILABLE', `postgres: ${(cause as Error).message}`, { cause })
      })
      events.enqueued(added)
      for (const sink of added.keys()) dispatchers.get(sink)?.nudge()
    },
    async close() {
      await Promise.all([...dispatchers.values()].map((d) => d.close()))
      await Promise.all(configured.map(({ sink }) => sink.close()))
    },
  }
}

/** A claim outlasts one delivery (bounded by the timeout) and the writes around it, with room to spare. */
export const leaseFor = (timeoutMs: number) => 2 * timeoutMs + 5_000

function configuredSinks(config: SinkConfig, timeoutMs: number): Array<{ sink: Sink; minSeverity: Severity }> {
  const sinks: Array<{ sink: Sink; minSeverity: Severity }> = []
  if (config.SLACK_WEBHOOK_URL) {
    sinks.push({ sink: createSlackSink({ webhookUrl: config.SLACK_WEBHOOK_URL, timeoutMs }), minSeverity: config.SLACK_MIN_SEVERITY })
  }
  if (config.SMTP_URL) {
    if (!config.EMAIL_FROM || !config.EMAIL_TO?.length) throw new Error('SMTP_URL is set: EMAIL_FROM and EMAIL_TO are required')
    sinks.push({
      sink: createEmailSink({ smtpUrl: config.SMTP_URL, from: config.EMAIL_FROM, to: config.EMAIL_TO, timeoutMs }),
      minSeverity: config.EMAIL_MIN_SEVERITY,
    })
  }
  if (config.WEBHOOK_URL) {
    if (!config.WEBHOOK_SECRET) throw new Error('WEBHOOK_URL is set: WEBHOOK_SECRET is required')
    sinks.push({ sink: createWebhookSink({ url: config.WEBHOOK_URL, secret: config.WEBHOOK_SECRET, timeoutMs }), minSeverity: config.WEBHOOK_MIN_SEVERITY })
  }
  return sinks
}
