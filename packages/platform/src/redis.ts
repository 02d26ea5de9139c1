import { Redis } from 'ioredis'
import type { RedisConfig } from './config.ts'
import { redisConnection, type RedisSecuritySettings } from './connection-security.ts'
import { UNREACHABLE_NETWORK_CODES } from './errors.ts'
import type { Logger } from './logger.ts'
import { UnreachableError, waitUntilReachable } from './startup-wait.ts'

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
  // Commands fail fast until the connection is up: callers wait for it before they start work
  // (services with waitForRedis, which gives up; tests and benchmarks with this, which does not).
  redis.ready = () => new Promise((resolve) => (redis.status === 'ready' ? resolve() : redis.once('ready', () => resolve())))
  redis.close = async () => {
    await redis.quit().catch(() => redis.disconnect())
  }
  return redis
}

/**
 * Waits until the client's connection is ready (connected, authenticated, Redis's ready check
 * passed), for up to `timeoutMs` (STARTUP_WAIT_MS by default), as for Postgres and the broker: a
 * deployment starts Redis and the services together. A refusal that waiting cannot mend (a wrong
 * password, a password missing, a TLS certificate or protocol mismatch) is thrown at once, naming
 * Redis; when the time is up, an UnreachableError. ioredis reconnects by itself, so each try waits
 * for the outcome of its next connection attempt.
 */
export async function waitForRedis(redis: Redis, log: Logger, options: { timeoutMs?: number; retryMs?: number } = {}): Promise<void> {
  try {
    await waitUntilReachable('redis', () => nextConnection(redis), isUnreachable, log, options)
  } catch (err) {
    if (err instanceof UnreachableError) throw err
    // The server's answer alone ("WRONGPASS invalid username-password pair ...") does not say who answered;
    // no `cause`, which the log would print again after the message.
    throw new Error(`redis at ${redis.options.host}:${redis.options.port} refused the connection: ${(err as Error).message}`)
  }
}

/** Resolves when the connection is ready, now or at ioredis's next attempt; rejects with that attempt's failure. */
function nextConnection(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve()
  return new Promise((resolve, reject) => {
    const settle = (err?: Error) => {
      redis.off('ready', onReady).off('error', onError).off('end', onEnd)
      if (err) reject(err)
      else resolve()
    }
    const onReady = () => settle()
    const onError = (err: Error) => settle(err)
    const onEnd = () => settle(new Error('the client was closed'))
    redis.on('ready', onReady).on('error', onError).on('end', onEnd)
  })
}

// Failures that mean Redis is not there yet or is busy. Anything else refuses a setting: WRONGPASS or
// NOAUTH for a wrong or missing password, a TLS error code for a certificate or protocol mismatch.
function isUnreachable(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown }
  if (typeof code === 'string' && UNREACHABLE_NETWORK_CODES.has(code)) return true
  return typeof message === 'string' && /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN) |^ERR max number of clients/.test(message)
}
