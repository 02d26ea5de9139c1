import { createPgPool, createRedis, runService, waitForPostgres, waitForRedis } from '@vigil/platform'
import { topics } from '@vigil/schemas'
import { startAlertRetention } from './adapters/alert-retention.ts'
import { createAlertStore } from './adapters/alert-store.ts'
import { startAlertUsersBackfill, USERS_BACKFILL_CHECK_MS } from './adapters/alert-users.ts'
import { migrateAlerterDatabase } from './adapters/database.ts'
import { startApi } from './api/start-api.ts'
import { createSuppressionCache } from './api/suppression-cache.ts'
import { createSuppressionStore } from './api/suppression-store.ts'
import { loadConfig } from './config.ts'
import { handleScores } from './handle-scores.ts'
import type { RaiseDeps } from './rules/raise-alerts.ts'
import { DEFAULT_RULE_DIRS } from './rules/rule-set.ts'
import { createSigmaRules } from './rules/sigma-rules.ts'
import { createSinks } from './sinks/create-sinks.ts'

await runService({ name: 'alerter', loadConfig }, async ({ config, log, metrics, kafka, onShutdown }) => {
  const pool = createPgPool(config, log)
  onShutdown(pool)
  await waitForPostgres(pool, log) // a deployment starts Postgres beside the services
  await migrateAlerterDatabase(pool, log)
  // An attack that goes on across windows stays one alert, for at most ALERT_MAX_SPAN_MS
  // (a span shorter than a window counts as one: an alert already takes in its whole window)
  const continuation = config.ALERT_MAX_SPAN_MS > 0 ? { gapMs: config.ALERT_WINDOW_MS, maxSpanMs: Math.max(config.ALERT_MAX_SPAN_MS, config.ALERT_WINDOW_MS) } : null
  const store = createAlertStore(pool, config.ALERT_MAX_EVIDENCE, continuation)
  const policy = { threshold: config.ALERT_SCORE_THRESHOLD, windowMs: config.ALERT_WINDOW_MS }
  // Alerts quiet for ALERT_RETENTION_DAYS deleted, by one instance at a time
  onShutdown(startAlertRetention(pool, { retentionDays: config.ALERT_RETENTION_DAYS, intervalMs: config.ALERT_RETENTION_CHECK_MS }, { log, metrics }))
  // Alerts written before their users were kept given them from their evidence, in batches (migration 013)
  onShutdown(startAlertUsersBackfill(pool, USERS_BACKFILL_CHECK_MS, log))
  // Slack, email and webhook, each through its own outbox queue in Postgres
  const sinks = createSinks(config, { pool, log, metrics })
  onShutdown(sinks) // closed before the pool: the delivery in flight finishes and is recorded
  const producer = await kafka.producer()

  // What analysts suppressed, held in memory for the alerting path and reloaded on a timer
  const suppressions = await createSuppressionCache(createSuppressionStore(pool), { refreshMs: config.SUPPRESSION_REFRESH_MS, log })
  onShutdown(suppressions)
  const raise: RaiseDeps = { store, producer, sinks, suppressions, suppressed: metrics.alertsSuppressed, published: metrics.alertsPublished }

  // Sigma rules on features and on the model's anomalies, correlations in Redis, joined with model alerts
  let sigma = null
  if (config.SIGMA_ENABLED) {
    const redis = createRedis(config, log)
    onShutdown(redis)
    await waitForRedis(redis, log)
    sigma = createSigmaRules(
      { ruleDirs: config.SIGMA_RULES ?? DEFAULT_RULE_DIRS, windowMs: config.ALERT_WINDOW_MS, maxSpanMs: continuation?.maxSpanMs ?? 0, maxEvidence: config.ALERT_MAX_EVIDENCE, correlationIdleTtlMs: config.SIGMA_CORRELATION_IDLE_TTL_MS },
      { pool, redis, ...raise, log, metrics },
    )
    raise.join = sigma.join
    const rules = sigma
    await kafka.consume(topics.features, { groupId: 'alerter-sigma', handler: async (messages) => { await rules.handleFeatureRecords(messages) } })
  }

  await kafka.consume(topics.scores, {
    groupId: 'alerter',
    handler: async (messages) => { await handleScores(messages, policy, raise, sigma) },
  })

  // The feedback API: alerts, verdicts (published on `feedback`) and suppressions
  if (config.API_TOKEN) {
    const api = await startApi(
      { port: config.API_PORT, bind: config.API_BIND, token: config.API_TOKEN, feedbackIntervalMs: config.FEEDBACK_REFRESH_MS },
      { pool, log, metrics, suppressions, publishVerdict: (verdict) => producer.send(topics.feedback, [{ key: verdict.alertId, value: verdict }]).then(() => {}) },
    )
    onShutdown(api)
  } else {
    log.info('API_TOKEN is not set: the feedback API is off')
  }
})
