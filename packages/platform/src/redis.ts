import { Redis } from 'ioredis'
import type { RedisConfig } from './config.ts'
import { redisConnection, type RedisSecuritySettings } from './connection-security.ts'
import type { Logger } from './logger.ts'

export type { Redis }

/** The settings a client is made from: a service's parsed config (redisConfig) will do. */
export type RedisClientSettings = RedisSecuritySettings & Pick<RedisConfig, 'REDIS_KEY_PREFIX'>

type ProjectRedis = Redis & { close(): Promise<void>; ready(): Promise<void> }

/**
 * A Redis client with the project's defaults, TLS and password as the settings say
 * (connection-security.ts). Commands fail fast while Redis is away (no offline queue) so callers
 * see a TransientError and hold their offsets, instead of buffering without bound.
 */
export function createRedis(settings: RedisClientSettings, log?: Logger): ProjectRedis {
  const redis = new Redis(settings.REDIS_URL, {
    ...redisConnection(settings),
    keyPrefix: settings.REDIS_KEY_PREFIX,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  }) as ProjectRedis
  // ioredis reconnects by itself; without a listener it would print every failed attempt to stderr.
  redis.on('error', (err) => log?.warn({ err: err.message }, 'redis connection error'))
  // Commands fail fast until the connection is up: callers wait for it before they start work.
  redis.ready = () => new Promise((resolve) => (redis.status === 'ready' ? resolve() : redis.once('ready', () => resolve())))
  redis.close = async () => {
    await redis.quit().catch(() => redis.disconnect())
  }
  return redis
}
