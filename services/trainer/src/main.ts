import { createPgPool, runService, waitForPostgres } from '@vigil/platform'
import { topics } from '@vigil/schemas'
import { createAnalystVerdicts } from './adapters/analyst-verdicts.ts'
import { migrateTrainerDatabase } from './adapters/database.ts'
import { createFeatureHistory } from './adapters/feature-history.ts'
import { startHistoryRetention } from './adapters/history-retention.ts'
import { createScoreHistory } from './adapters/score-history.ts'
import { createTrainingRequests, serveTrainingRequest } from './adapters/training-requests.ts'
import { loadConfig } from './config.ts'
import { ensembleSettings } from './training/ensemble-settings.ts'
import { measureDrift } from './training/feature-drift.ts'
import { reviewShadow } from './training/shadow-review.ts'
import { trainAndPublish } from './training/train-and-publish.ts'
import { startTrainingSchedule } from './training/training-schedule.ts'

await runService({ name: 'trainer', loadConfig }, async ({ config, log, metrics, kafka, onShutdown }) => {
  const pool = createPgPool(config, log)
  onShutdown(pool)
  await waitForPostgres(pool, log) // a deployment starts Postgres beside the services
  await migrateTrainerDatabase(pool, log)
  const model = config.MODEL_NAME
  const actor = `trainer:${config.INSTANCE_ID}`
  const producer = await kafka.producer()

  // History: every feature vector and every score (live and shadow), so inputs and outputs can be joined.
  const history = createFeatureHistory(pool)
  const scoreHistory = createScoreHistory(pool)
  await kafka.consume(topics.features, { groupId: 'trainer', handler: (messages) => history.store(messages) })
  await kafka.consume(topics.scores, { groupId: 'trainer-scores', handler: (messages) => scoreHistory.store(messages.map((m) => m.value)) })
  await kafka.consume(topics.scoresShadow, { groupId: 'trainer-shadow-scores', handler: (messages) => scoreHistory.store(messages.map((m) => m.value)) })
  // Analysts' verdicts: a false positive lets the entity's flagged rows back into training
  const verdicts = createAnalystVerdicts(pool)
  await kafka.consume(topics.feedback, { groupId: 'trainer-feedback', handler: (messages) => verdicts.store(messages.map((m) => m.value)) })
  onShutdown(startHistoryRetention([history, scoreHistory], { retentionDays: config.HISTORY_RETENTION_DAYS, intervalMs: config.HISTORY_RETENTION_CHECK_MS }, log))

  // Training: on request, first model, drift, schedule; each version evaluated before it is published.
  const requests = createTrainingRequests(pool)
  const train = (reason: string) => trainAndPublish({
    pool, history, producer, log, metrics, publishAs: config.PUBLISH_AS,
    candidate: {
      modelName: model, actor, settings: ensembleSettings(config, history.featureNames), minRows: config.TRAIN_MIN_ROWS, maxRows: config.TRAIN_MAX_ROWS,
      trainingMs: config.TRAIN_WINDOW_MS, holdoutMs: config.TRAIN_HOLDOUT_MS, excludeFlagged: config.TRAIN_EXCLUDE_FLAGGED,
    },
    gate: {
      modelName: model, actor, margin: config.GATE_MARGIN, alertRateFactor: config.GATE_ALERT_RATE_FACTOR,
      alertRateFloor: config.GATE_ALERT_RATE_FLOOR, holdoutRows: config.TRAIN_MAX_ROWS,
    },
  }, reason)
  const schedule = startTrainingSchedule(pool, history, {
    model, minRows: config.TRAIN_MIN_ROWS, intervalMs: config.TRAIN_INTERVAL_MS,
    settleMs: config.TRAIN_SETTLE_MS, firstModelMaxWaitMs: config.TRAIN_FIRST_MODEL_MAX_WAIT_MS, checkMs: config.TRAIN_CHECK_MS, driftCheckMs: config.DRIFT_CHECK_MS, driftThreshold: config.DRIFT_PSI_THRESHOLD,
  }, log, {
    train,
    serveRequest: () => serveTrainingRequest(requests, { model, instanceId: config.INSTANCE_ID, staleMs: config.TRAIN_REQUEST_STALE_MS }, async (reason) => {
      const result = await train(reason)
      if (!result) throw new Error('history is too short to train on')
      return result
    }),
    reviewShadow: () => reviewShadow(pool, scoreHistory, producer, {
      modelName: model, actor, reviewAfterMs: config.SHADOW_REVIEW_MS, minEvents: config.SHADOW_MIN_EVENTS, maxScorePsi: config.SHADOW_MAX_SCORE_PSI,
      alertRateFactor: config.GATE_ALERT_RATE_FACTOR, alertRateFloor: config.GATE_ALERT_RATE_FLOOR,
    }, log),
    async measureDrift() {
      const report = await measureDrift(pool, history, model, config.DRIFT_WINDOW_MS, config.TRAIN_MAX_ROWS)
      if (!report) return null
      metrics.featureDrift.reset()
      // Only the features that decide drift: the clock's (report.clockPsi) differ between an hour and a
      // week however steady the traffic, and app_feature_psi has no label to tell them apart.
      for (const [feature, psi] of Object.entries(report.psi)) metrics.featureDrift.set({ model, feature }, psi)
      return report
    },
  })
  onShutdown(schedule)
})
