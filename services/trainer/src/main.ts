import { listModelVersions, MODEL_REGISTRY_MIGRATIONS } from '@vigil/models'
import { createPgPool, runMigrations, runService } from '@vigil/platform'
import { topics } from '@vigil/schemas'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createFeatureHistory } from './adapters/feature-history.ts'
import { loadConfig } from './config.ts'
import { trainAndPublish } from './train-and-publish.ts'
import { startTrainingSchedule } from './training-schedule.ts'

const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations')

await runService({ name: 'trainer', loadConfig }, async ({ config, log, kafka, onShutdown }) => {
  const pool = createPgPool(config.PG_URL, config.PG_POOL_SIZE)
  onShutdown(pool)
  await runMigrations(pool, 'models', MODEL_REGISTRY_MIGRATIONS, log)
  await runMigrations(pool, 'trainer', MIGRATIONS, log)
  const history = createFeatureHistory(pool)
  const producer = await kafka.producer()

  await kafka.consume(topics.features, {
    groupId: 'trainer',
    handler: (messages) => history.store(messages.map((m) => m.value)),
  })

  const [newest] = await listModelVersions(pool, config.MODEL_NAME)
  const schedule = startTrainingSchedule(pool, history, {
    lastTrainedAt: newest?.createdAt ?? null,
    minRows: config.TRAIN_MIN_ROWS, intervalMs: config.TRAIN_INTERVAL_MS, settleMs: config.TRAIN_SETTLE_MS, checkMs: config.TRAIN_CHECK_MS,
  }, log, (reason) => trainAndPublish({
    pool, history, producer, log, modelName: config.MODEL_NAME, maxRows: config.TRAIN_MAX_ROWS, trees: config.TRAIN_TREES,
  }, reason))
  onShutdown(schedule)
})
