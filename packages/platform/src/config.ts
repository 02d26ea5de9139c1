import { hostname } from 'node:os'
import { z } from 'zod'

/** Settings every service has. Each service extends this in its own config.ts, the only reader of process.env. */
export const baseConfig = z.object({
  // Kafka
  KAFKA_BROKERS: z.string().min(1).transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean)), // host:port,host:port
  KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(-1).default(-1), // -1: the broker's default
  SCHEMA_REGISTRY_URL: z.url().optional(), // Confluent-compatible; without it, messages are schema-validated JSON
  TOPIC_PREFIX: z.string().regex(/^[a-zA-Z0-9._-]*$/).default(''), // prepended to every Kafka topic name and consumer group
  TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(12), // partitions of data topics created at start
  CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4), // partitions one instance processes at once (order holds within each)
  // Process
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0), // 0: any free port (logged at start)
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000), // keep below k8s terminationGracePeriodSeconds
  INSTANCE_ID: z.string().min(1).default(`${hostname()}-${process.pid}`),
})
export type BaseConfig = z.infer<typeof baseConfig>

/** Postgres settings, for services that keep history or alerts. */
export const pgConfig = {
  PG_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'), // postgres://user:pass@host:port/db
  PG_POOL_SIZE: z.coerce.number().int().min(1).default(5),
}

/** Redis settings, for services that keep per-entity state. */
export const redisConfig = {
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL'), // redis://host:port/db
  REDIS_KEY_PREFIX: z.string().default('vigil:'), // every key starts with it
}

/** Raised when the environment is wrong; runService prints each problem on one line and exits 1. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '))
    this.name = 'ConfigError'
  }
}

/**
 * Parses `env` with `schema`. Fails with one line per wrong or missing variable, naming it.
 * Unknown VIGIL_* variables are errors too: a typo must not fall back to a default silently.
 */
export function parseConfig<S extends z.ZodObject>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const problems: string[] = []
  const known = new Set(Object.keys(schema.shape))
  for (const key of Object.keys(env)) {
    if (key.startsWith('VIGIL_') && !known.has(key)) problems.push(`${key}: unknown setting`)
  }
  // An empty variable means unset, as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const result = schema.safeParse(present)
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = issue.path.join('.') || '(env)'
      const missing = issue.code === 'invalid_type' && present[name] === undefined
      problems.push(`${name}: ${missing ? 'required but not set' : `${issue.message} (got ${JSON.stringify(present[name])})`}`)
    }
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return result.data as z.infer<S>
}

/** Names of settings whose values never reach a log line. */
export const SECRET_SETTINGS = ['PG_URL', 'REDIS_URL', 'SCHEMA_REGISTRY_URL', 'KAFKA_SASL_PASSWORD', 'SLACK_WEBHOOK_URL', 'SMTP_URL', 'WEBHOOK_URL', 'WEBHOOK_SECRET', 'API_TOKEN']
