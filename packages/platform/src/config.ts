import { accessSync, constants, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { z } from 'zod'
import { REGISTRY_TIMEOUT_MS } from '@vigil/schemas'
import { connectionSecurityProblems } from './connection-security.ts'

/** An environment flag: exactly 'true' or 'false'. */
export const flag = z.enum(['true', 'false']).transform((v) => v === 'true')

/** A PEM file the process can read now, so a wrong path stops the service at start rather than at its first connection. */
const pemFile = z.string().min(1).refine((path) => {
  try {
    accessSync(path, constants.R_OK)
    return readFileSync(path, 'utf8').includes('-----BEGIN ')
  } catch {
    return false
  }
}, 'not a readable PEM file')

/** host:port, the host a name, an IPv4 address or a bracketed IPv6 address. */
const BROKER_ADDRESS = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$/

/** Settings every service has. Each service extends this in its own config.ts, the only reader of process.env. */
export const baseConfig = z.object({
  // Kafka
  KAFKA_BROKERS: z.string().min(1).transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
    .refine((brokers) => brokers.length > 0 && brokers.every((b) => BROKER_ADDRESS.test(b)), 'must be host:port[,host:port…]'), // host:port,host:port
  KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(-1).refine((n) => n !== 0, 'must be -1 (the broker\'s default) or at least 1').default(-1), // -1: the broker's default
  // Kafka connection security; the defaults (no SASL, no TLS) fit the local stack.
  KAFKA_SASL_MECHANISM: z.string().toLowerCase().pipe(z.enum(['scram-sha-256', 'scram-sha-512', 'plain'])).optional(), // unset: no SASL
  KAFKA_SASL_USERNAME: z.string().optional(), // required with KAFKA_SASL_MECHANISM
  KAFKA_SASL_PASSWORD: z.string().optional(), // required with KAFKA_SASL_MECHANISM; or KAFKA_SASL_PASSWORD_FILE
  KAFKA_SSL: flag.default(false), // TLS to the brokers
  KAFKA_SSL_CA_FILE: pemFile.optional(), // CA bundle the brokers' certificates chain to; unset: Node's default CAs
  KAFKA_SSL_CERT_FILE: pemFile.optional(), // client certificate, for brokers that require mutual TLS (with KAFKA_SSL_KEY_FILE)
  KAFKA_SSL_KEY_FILE: pemFile.optional(), // its private key
  KAFKA_SSL_REJECT_UNAUTHORIZED: flag.default(true), // false accepts any broker certificate: tests only
  SCHEMA_REGISTRY_URL: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(), // Confluent-compatible; without it, messages are schema-validated JSON
  SCHEMA_REGISTRY_USERNAME: z.string().optional(), // HTTP basic auth to the registry (with SCHEMA_REGISTRY_PASSWORD)
  SCHEMA_REGISTRY_PASSWORD: z.string().optional(), // or SCHEMA_REGISTRY_PASSWORD_FILE
  // one registry request's time limit, after which the registry counts as unavailable (a batch needing it is held)
  SCHEMA_REGISTRY_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(REGISTRY_TIMEOUT_MS),
  TOPIC_PREFIX: z.string().regex(/^[a-zA-Z0-9._-]*$/).default(''), // prepended to every Kafka topic name and consumer group
  TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(12), // partitions of data topics created at start
  CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4), // partitions one instance processes at once (order holds within each)
  // Process
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0), // 0: any free port (logged at start)
  // keep below k8s terminationGracePeriodSeconds; at most an hour (Node fires a timer of 2^31 ms or more at once)
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
  INSTANCE_ID: z.string().min(1).default(`${hostname()}-${process.pid}`),
})
export type BaseConfig = z.infer<typeof baseConfig>

/** Postgres settings, for services that keep history or alerts. */
export const pgConfig = {
  PG_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'), // postgres://user:pass@host:port/db
  PG_PASSWORD: z.string().optional(), // when PG_URL carries none; or PG_PASSWORD_FILE
  PG_POOL_SIZE: z.coerce.number().int().min(1).default(5),
  // disable: no TLS; require: TLS, server not verified (libpq's meaning); verify-full: TLS, certificate and host name verified.
  // Unset: whatever PG_URL's sslmode says (none: no TLS).
  PG_SSL: z.enum(['disable', 'require', 'verify-full']).optional(),
  PG_SSL_CA_FILE: pemFile.optional(), // CA bundle for verify-full; unset: Node's default CAs
}
export type PgConfig = z.infer<z.ZodObject<typeof pgConfig>>

/**
 * The alert threshold, read by the alerter (which alerts at it) and the scorer (which explains the
 * scores that reach it): one setting, so that no alert goes out without its top features.
 */
export const alertThresholdConfig = {
  // Calibrated score at or above which an event alerts; unset, each score's own model threshold (set by the trainer) applies.
  ALERT_SCORE_THRESHOLD: z.coerce.number().min(0).max(1).optional(),
}

/** Redis settings, for services that keep per-entity state. */
export const redisConfig = {
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL'), // redis://[:pass@]host:port/db; rediss:// for TLS
  REDIS_KEY_PREFIX: z.string().default('vigil:'), // every key starts with it
  REDIS_PASSWORD: z.string().optional(), // AUTH password when REDIS_URL carries none; or REDIS_PASSWORD_FILE
  REDIS_TLS: flag.optional(), // true: TLS even with a redis:// URL; unset: TLS exactly when the URL is rediss://
  REDIS_TLS_CA_FILE: pemFile.optional(), // CA bundle for Redis's certificate; unset: Node's default CAs
}
export type RedisConfig = z.infer<z.ZodObject<typeof redisConfig>>

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
 * A secret setting may come from a file instead: `<NAME>_FILE` holds its path (as k8s mounts secrets).
 * Connection settings that only make sense together are checked together (see connection-security.ts).
 */
export function parseConfig<S extends z.ZodObject>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const problems: string[] = []
  const known = new Set(Object.keys(schema.shape))
  for (const key of Object.keys(env)) {
    if (key.startsWith('VIGIL_') && !known.has(key)) problems.push(`${key}: unknown setting`)
  }
  // An empty variable means unset, as in most shells' `VAR= cmd`.
  const present: Record<string, string> = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''))
  for (const name of SECRET_SETTINGS) {
    const path = present[`${name}_FILE`]
    if (!known.has(name) || path === undefined) continue
    if (present[name] !== undefined) problems.push(`${name}_FILE: set ${name} or ${name}_FILE, not both`)
    else {
      try {
        // One trailing newline is how editors and `echo` end a file, not part of the secret.
        present[name] = readFileSync(path, 'utf8').replace(/\r?\n$/, '')
      } catch (err) {
        problems.push(`${name}_FILE: cannot read ${JSON.stringify(path)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
      }
    }
  }
  const result = schema.safeParse(present)
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = issue.path.join('.') || '(env)'
      const missing = issue.code === 'invalid_type' && present[name] === undefined
      problems.push(`${name}: ${missing ? 'required but not set' : `${issue.message} (got ${shownValue(name, present[name])})`}`)
    }
  } else {
    problems.push(...connectionSecurityProblems(result.data as Record<string, unknown>))
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return result.data as z.infer<S>
}

/** A value as a config error may show it: a secret only by its URL scheme, if it has one. */
function shownValue(name: string, value: string | undefined): string {
  if (value === undefined || !SECRET_SETTINGS.includes(name)) return JSON.stringify(value)
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value)
  return scheme ? `"${scheme[0]}…", the rest withheld` : 'a secret, withheld'
}

/**
 * Names of settings whose values never reach a log line, nor a config error. Each may also be
 * given as `<NAME>_FILE`, the path of a file holding it.
 */
export const SECRET_SETTINGS = [
  'PG_URL', 'PG_PASSWORD', 'REDIS_URL', 'REDIS_PASSWORD', 'SCHEMA_REGISTRY_URL', 'SCHEMA_REGISTRY_PASSWORD', 'KAFKA_SASL_PASSWORD',
  'SLACK_WEBHOOK_URL', 'SMTP_URL', 'WEBHOOK_URL', 'WEBHOOK_SECRET', 'API_TOKEN',
]
