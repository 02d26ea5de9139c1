import { randomUUID } from 'node:crypto'
import { createMetrics, createRedis, type DeliveredMessage, type TypedProducer } from '@vigil/platform'
import { FEATURE_WINDOW_SECONDS, featureNames, toFeatureArray, type FeatureRecord, type RawLog } from '@vigil/schemas'
import { createFeatureStore } from '../../../services/featurizer/src/adapters/feature-store.ts'
import { createGeoLookup } from '../../../services/featurizer/src/adapters/geo.ts'
import { createFeatureContext } from '../../../services/featurizer/src/compute-features.ts'
import { loadConfig, parseRange } from '../../../services/featurizer/src/config.ts'
import { handleRawLogs } from '../../../services/featurizer/src/handle-raw-logs.ts'

/** The featurizer's own code path, without Kafka: raw-logs records in, Vigil's 31 features out. */
export interface VigilFeaturizer {
  /**
   * Runs records through the featurizer's handler (parse, enrich, Redis windows, features) in
   * batches, in the order given; one vector (in `featureNames` order) and one family per record.
   */
  featurize(records: readonly RawLog[]): Promise<{ vectors: number[][]; families: string[] }>
  /** Deletes this featurizer's Redis keys and disconnects. */
  close(): Promise<void>
}

// The featurizer consumes batches of up to a few hundred messages; windows do not depend on the size.
const BATCH = 500

/**
 * A featurizer with the service's default settings (time zone, business hours, sensitive paths,
 * privileged users, geo lookup, window and TTL settings, all read from its config schema), whose
 * windows live in Redis under a key prefix of its own, so runs never share state.
 */
export async function createVigilFeaturizer(redisUrl: string): Promise<VigilFeaturizer> {
  const keyPrefix = `bench-models-${randomUUID()}:`
  // Kafka is never contacted; the schema requires a value.
  const config = loadConfig({ KAFKA_BROKERS: 'unused:9092', REDIS_URL: redisUrl, REDIS_KEY_PREFIX: keyPrefix })
  const redis = createRedis(config)
  await redis.ready()
  const featureStore = createFeatureStore(redis, {
    windowSeconds: FEATURE_WINDOW_SECONDS, lateGraceSeconds: config.LATE_EVENT_GRACE_SECONDS,
    ttlSeconds: config.STATE_TTL_SECONDS, userTtlSeconds: config.USER_STATE_TTL_SECONDS,
  })
  const geo = config.GEO_ENABLED ? await createGeoLookup() : null
  const context = createFeatureContext({
    timeZone: config.FEATURE_TIME_ZONE, businessHours: parseRange(config.BUSINESS_HOURS), businessDays: parseRange(config.BUSINESS_DAYS),
    sensitivePaths: config.SENSITIVE_PATHS, privilegedUsers: config.PRIVILEGED_USERS,
  })
  const metrics = createMetrics('bench-models')
  let offset = 0

  return {
    async featurize(records) {
      const out: FeatureRecord[] = []
      const producer: TypedProducer = {
        send: async (_topic, sent) => { for (const r of sent) out.push(r.value as FeatureRecord) },
        close: async () => {},
      }
      for (let i = 0; i < records.length; i += BATCH) {
        const messages: DeliveredMessage<RawLog>[] = records.slice(i, i + BATCH).map((value) => ({
          value, key: null, topic: 'raw-logs', partition: 0, offset: String(offset++), timestamp: value.receivedAt, headers: {},
        }))
        await handleRawLogs(messages, { featureStore, producer, geo, context, metrics })
      }
      if (out.length !== records.length) throw new Error(`featurizer gave ${out.length} feature records for ${records.length} raw logs`)
      return { vectors: out.map((r) => toFeatureArray(r.vector, featureNames)), families: out.map((r) => r.family) }
    },
    async close() {
      // SCAN returns whole key names; ioredis adds the prefix again to DEL's arguments.
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000)
        cursor = next
        if (keys.length > 0) await redis.del(...keys.map((k) => k.slice(keyPrefix.length)))
      } while (cursor !== '0')
      await redis.close()
    },
  }
}
