import { DEPLOYMENT_RENEW_MS, MODEL_REGISTRY_MIGRATIONS } from '@vigil/models'
import { createPgPool, runMigrations, runService, startPeriodic, waitForPostgres } from '@vigil/platform'
import { topics } from '@vigil/schemas'
import { createModelRegistry } from './adapters/model-registry.ts'
import { createRunningModels } from './adapters/running-models.ts'
import { loadConfig } from './config.ts'
import { handleFeatures } from './handle-features.ts'

await runService({ name: 'scorer', loadConfig, readiness: 'manual' }, async ({ config, log, metrics, kafka, setReady, onShutdown }) => {
  const pool = createPgPool(config, log)
  onShutdown(pool)
  await waitForPostgres(pool, log) // a deployment starts Postgres beside the services
  await runMigrations(pool, 'models', MODEL_REGISTRY_MIGRATIONS, log)
  const registry = createModelRegistry(pool, { modelName: config.MODEL_NAME, instanceId: config.INSTANCE_ID, runtime: config.FOREST_RUNTIME })
  const models = createRunningModels(registry, { modelName: config.MODEL_NAME }, log, metrics)
  onShutdown(models) // closes the loaded versions and withdraws this instance's deployments from the registry
  onShutdown(startPeriodic('renewing this instance\'s deployments', DEPLOYMENT_RENEW_MS, () => registry.renew(), log))
  const producer = await kafka.producer()
  const explain = { explain: config.EXPLAIN, alertThreshold: config.ALERT_SCORE_THRESHOLD }

  // Every instance reads model-control whole (a group of its own), at every start, so each runs the live version.
  await kafka.consume(topics.modelControl, {
    groupId: `scorer-control-${config.INSTANCE_ID}`,
    fromBeginning: true,
    fromStartEachRun: true,
    handler: async (messages) => {
      for (const m of messages) await models.apply(m.value)
    },
  })

  // Bootstrapping: nothing is scored, and /readyz says not ready, until a first model exists.
  log.info({ model: config.MODEL_NAME }, 'waiting for a first model on model-control')
  void models.firstLoaded().then(async () => {
    await kafka.consume(topics.features, {
      groupId: 'scorer',
      handler: (messages) => models.withCurrent((pair) => handleFeatures(messages, pair, producer, explain)),
    })
    setReady(true)
  }) // a failure here is an unhandled rejection, which runService turns into a fatal shutdown
})
