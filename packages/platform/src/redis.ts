import { Redis } from 'ioredis'
import type { Logger } from './logger.ts'

export type { Redis }

/**
 * A Redis client with the project's defaults. Commands fail fast while Redis is away (no offline
 * queue) so callers see a TransientError and hold their offsets, instead of buffering without bound.
 */
export function createRedis(url: string, keyPrefix: string, log?: Logger): Redis & { close(): Promise<void>; ready(): Promise<void> } {
  const redis = new Redis(url, {
    keyPrefix,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  }) as Redis & { close(): Promise<void>; ready(): Promise<void> }
  // ioredis reconnects by itself; without a listener it would print every failed attempt to stderr.
  redis.on('error', (err) => log?.warn({ err: err.message }, 'redis connection error'))
  // Commands fail fast until the connection is up: callers wait for it before they start work.
  redis.ready = () => new Promise((resolve) => (redis.status === 'ready' ? resolve() : redis.once('ready', () => resolve())))
  redis.close = async () => {
    await redis.quit().catch(() => redis.disconnect())
  }
  return redis
}
