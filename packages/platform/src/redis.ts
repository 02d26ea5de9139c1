import { Redis } from 'ioredis'

export type { Redis }

/**
 * A Redis client with the project's defaults. Commands fail fast while Redis is away (no offline
 * queue) so callers see a TransientError and hold their offsets, instead of buffering without bound.
 */
export function createRedis(url: string, keyPrefix: string): Redis & { close(): Promise<void> } {
  const redis = new Redis(url, {
    keyPrefix,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  }) as Redis & { close(): Promise<void> }
  redis.close = async () => {
    await redis.quit().catch(() => redis.disconnect())
  }
  return redis
}
