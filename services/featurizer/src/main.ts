import { createRedis, runService } from '@vigil/platform'
import { FEATURE_WINDOW_SECONDS, topics } from '@vigil/schemas'
import { createFeatureStore } from './adapters/feature-store.ts'
import { loadConfig } from './config.ts'
import { handleRawLogs } from './handle-raw-logs.ts'

await runService({ name: 'featurizer', loadConfig }, async ({ config, kafka, onShutdown }) => {
  const redis = createRedis(config.REDIS_URL, config.REDIS_KEY_PREFIX)
  const featureStore = createFeatureStore(redis, {
    windowSeconds: FEATURE_WINDOW_SECONDS, lateGraceSeconds: config.LATE_EVENT_GRACE_SECONDS, ttlSeconds: config.STATE_TTL_SECONDS,
  })
  const producer = await kafka.producer()

  await kafka.consume(topics.rawLogs, {
    groupId: 'featurizer',
    handler: (messages) => handleRawLogs(messages, { featureStore, producer }),
  })

  onShutdown(redis) // after the consumer has finished its batch
})
