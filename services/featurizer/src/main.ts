import { createRedis, runService, waitForRedis } from '@vigil/platform'
import { FEATURE_WINDOW_SECONDS, topics } from '@vigil/schemas'
import { createFeatureStore } from './adapters/feature-store.ts'
import { createGeoLookup } from './adapters/geo.ts'
import { createFeatureContext } from './compute-features.ts'
import { loadConfig, parseRange } from './config.ts'
import { createRawLogDecoder } from './decode-raw-log.ts'
import { handleRawLogs } from './handle-raw-logs.ts'
import { createSourceTimeZones } from './source-time-zones.ts'

await runService({ name: 'featurizer', loadConfig }, async ({ config, log, metrics, kafka, onShutdown }) => {
  const redis = createRedis(config, log)
  onShutdown(redis) // closed after the consumer has finished its batch
  await waitForRedis(redis, log) // a deployment starts Redis beside the services
  const featureStore = createFeatureStore(redis, {
    windowSeconds: FEATURE_WINDOW_SECONDS, lateGraceSeconds: config.LATE_EVENT_GRACE_SECONDS,
    ttlSeconds: config.STATE_TTL_SECONDS, userTtlSeconds: config.USER_STATE_TTL_SECONDS,
  })
  const geo = config.GEO_ENABLED ? await createGeoLookup() : null
  const context = createFeatureContext({
    timeZone: config.FEATURE_TIME_ZONE, businessHours: parseRange(config.BUSINESS_HOURS), businessDays: parseRange(config.BUSINESS_DAYS),
    sensitivePaths: config.SENSITIVE_PATHS, privilegedUsers: config.PRIVILEGED_USERS,
  })
  const timeZones = createSourceTimeZones(config.SOURCE_TIME_ZONE, config.SOURCE_TIME_ZONES)
  const producer = await kafka.producer()

  await kafka.consume(topics.rawLogs, {
    groupId: 'featurizer',
    // raw-logs is written by log shippers too (rsyslog, syslog-ng, Vector, Zeek): see docs/shippers.md
    decode: createRawLogDecoder(kafka.codec, kafka.kafkaName(topics.rawLogs)),
    handler: (messages) => handleRawLogs(messages, { featureStore, producer, geo, context, timeZones, metrics }),
  })
})
