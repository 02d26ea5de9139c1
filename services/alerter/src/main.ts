import { createPgPool, runMigrations, runService } from '@vigil/platform'
import { topics } from '@vigil/schemas'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAlertStore } from './adapters/alert-store.ts'
import { loadConfig } from './config.ts'
import { handleScores } from './handle-scores.ts'
import { createSinks } from './sinks/create-sinks.ts'

const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations')

await runService({ name: 'alerter', loadConfig }, async ({ config, log, metrics, kafka, onShutdown }) => {
  const pool = createPgPool(config.PG_URL, config.PG_POOL_SIZE)
  onShutdown(pool)
  await runMigrations(pool, 'alerter', MIGRATIONS, log)
  const store = createAlertStore(pool, config.ALERT_MAX_EVIDENCE)
  const policy = { threshold: config.ALERT_SCORE_THRESHOLD, windowMs: config.ALERT_WINDOW_MS }
  // Slack, email and webhook, each through its own outbox queue in Postgres
  const sinks = createSinks(config, { pool, log, metrics })
  onShutdown(sinks) // closed before the pool: the delivery in flight finishes and is recorded
  const producer = await kafka.producer()

  await kafka.consume(topics.scores, {
    groupId: 'alerter',
    handler: (messages) => handleScores(messages, policy, store, producer, sinks),
  })
})
