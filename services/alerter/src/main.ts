import { createPgPool, runMigrations, runService } from '@vigil/platform'
import { topics } from '@vigil/schemas'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAlertStore } from './adapters/alert-store.ts'
import { loadConfig } from './config.ts'
import { handleScores } from './handle-scores.ts'

const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations')

await runService({ name: 'alerter', loadConfig }, async ({ config, log, kafka, onShutdown }) => {
  const pool = createPgPool(config.PG_URL, config.PG_POOL_SIZE)
  onShutdown(pool)
  await runMigrations(pool, 'alerter', MIGRATIONS, log)
  const store = createAlertStore(pool, config.ALERT_MAX_EVIDENCE)
  const policy = { threshold: config.ALERT_SCORE_THRESHOLD, windowMs: config.ALERT_WINDOW_MS }
  const producer = await kafka.producer()

  await kafka.consume(topics.scores, {
    groupId: 'alerter',
    handler: (messages) => handleScores(messages, policy, store, producer),
  })
})
