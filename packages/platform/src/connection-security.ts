import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import type { KafkaConfig, SASLOptions } from 'kafkajs'
import type { BaseConfig, PgConfig, RedisConfig } from './config.ts'

// How the connection settings of config.ts become client options: the one place that maps them
// for kafkajs, the schema registry client, pg and ioredis, and that checks the ones that only
// make sense together.

/** The Kafka settings `kafkaClientSecurity` reads. */
export type KafkaSecuritySettings = Pick<BaseConfig,
  'KAFKA_SASL_MECHANISM' | 'KAFKA_SASL_USERNAME' | 'KAFKA_SASL_PASSWORD' | 'KAFKA_SSL' | 'KAFKA_SSL_CA_FILE' | 'KAFKA_SSL_CERT_FILE' |
  'KAFKA_SSL_KEY_FILE' | 'KAFKA_SSL_REJECT_UNAUTHORIZED'>

/** kafkajs's `sasl` and `ssl` options; neither key is present when the settings ask for neither. */
export function kafkaClientSecurity(config: KafkaSecuritySettings): Pick<KafkaConfig, 'sasl' | 'ssl'> {
  const out: Pick<KafkaConfig, 'sasl' | 'ssl'> = {}
  if (config.KAFKA_SSL) {
    out.ssl = {
      rejectUnauthorized: config.KAFKA_SSL_REJECT_UNAUTHORIZED,
      ...(config.KAFKA_SSL_CA_FILE ? { ca: [readPem(config.KAFKA_SSL_CA_FILE)] } : {}),
      ...(config.KAFKA_SSL_CERT_FILE ? { cert: readPem(config.KAFKA_SSL_CERT_FILE) } : {}),
      ...(config.KAFKA_SSL_KEY_FILE ? { key: readPem(config.KAFKA_SSL_KEY_FILE) } : {}),
    }
  }
  if (config.KAFKA_SASL_MECHANISM) {
    const { KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = config
    if (!username || !password) throw new Error('KAFKA_SASL_MECHANISM is set without KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD')
    out.sasl = { mechanism: config.KAFKA_SASL_MECHANISM, username, password } as SASLOptions
  }
  return out
}

/**
 * The registry URL the codec gets: with the basic-auth credentials as its user info, which the
 * registry client's HTTP layer sends as an `Authorization: Basic` header.
 */
export function schemaRegistryUrl(config: Pick<BaseConfig, 'SCHEMA_REGISTRY_URL' | 'SCHEMA_REGISTRY_USERNAME' | 'SCHEMA_REGISTRY_PASSWORD'>): string | undefined {
  if (!config.SCHEMA_REGISTRY_URL || !config.SCHEMA_REGISTRY_USERNAME) return config.SCHEMA_REGISTRY_URL
  const url = new URL(config.SCHEMA_REGISTRY_URL)
  url.username = encodeURIComponent(config.SCHEMA_REGISTRY_USERNAME)
  url.password = encodeURIComponent(config.SCHEMA_REGISTRY_PASSWORD ?? '')
  return url.toString()
}

/** The Postgres settings `pgConnection` reads. */
export type PgSecuritySettings = Pick<PgConfig, 'PG_URL'> & Partial<Pick<PgConfig, 'PG_PASSWORD' | 'PG_SSL' | 'PG_SSL_CA_FILE'>>

/**
 * pg's `connectionString` and `ssl`. With PG_SSL unset, `ssl` is false and an `sslmode` in the URL
 * (which pg lets win over `ssl`) decides; pg's own PGSSLMODE variable is never consulted.
 */
export function pgConnection(config: PgSecuritySettings): { connectionString: string; ssl: false | ConnectionOptions } {
  let connectionString = config.PG_URL
  if (config.PG_PASSWORD !== undefined) {
    const url = new URL(config.PG_URL)
    url.password = encodeURIComponent(config.PG_PASSWORD)
    connectionString = url.toString()
  }
  switch (config.PG_SSL) {
    case undefined:
    case 'disable':
      return { connectionString, ssl: false }
    case 'require': // libpq's require: encrypted, the server's certificate unchecked
      return { connectionString, ssl: { rejectUnauthorized: false } }
    case 'verify-full': // Node checks the chain and that the certificate names the host
      return { connectionString, ssl: { rejectUnauthorized: true, ...(config.PG_SSL_CA_FILE ? { ca: readPem(config.PG_SSL_CA_FILE) } : {}) } }
  }
}

/** The Redis settings `redisConnection` reads. */
export type RedisSecuritySettings = Pick<RedisConfig, 'REDIS_URL'> & Partial<Pick<RedisConfig, 'REDIS_PASSWORD' | 'REDIS_TLS' | 'REDIS_TLS_CA_FILE'>>

/** ioredis's `password` and `tls`; TLS when REDIS_TLS=true or the URL is rediss://. */
export function redisConnection(config: RedisSecuritySettings): { password?: string; tls?: ConnectionOptions } {
  const tls = config.REDIS_TLS ?? config.REDIS_URL.startsWith('rediss://')
  return {
    ...(config.REDIS_PASSWORD !== undefined ? { password: config.REDIS_PASSWORD } : {}),
    ...(tls ? { tls: config.REDIS_TLS_CA_FILE ? { ca: readPem(config.REDIS_TLS_CA_FILE) } : {} } : {}),
  }
}

/**
 * Problems with connection settings that are each valid alone but not together, one line each,
 * naming the variable to fix. Only the settings the service's schema has are looked at.
 */
export function connectionSecurityProblems(config: Record<string, unknown>): string[] {
  const problems: string[] = []
  const set = (name: string) => config[name] !== undefined

  if (set('KAFKA_SASL_MECHANISM')) {
    for (const name of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD']) {
      if (!set(name)) problems.push(`${name}: required when KAFKA_SASL_MECHANISM is set`)
    }
  } else if (set('KAFKA_SASL_USERNAME') || set('KAFKA_SASL_PASSWORD')) {
    problems.push('KAFKA_SASL_MECHANISM: required when KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is set (scram-sha-256, scram-sha-512 or plain)')
  }
  if (config.KAFKA_SSL === false) {
    for (const name of ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE']) {
      if (set(name)) problems.push(`${name}: needs KAFKA_SSL=true`)
    }
    if (config.KAFKA_SSL_REJECT_UNAUTHORIZED === false) problems.push('KAFKA_SSL_REJECT_UNAUTHORIZED: needs KAFKA_SSL=true')
  }
  if (set('KAFKA_SSL_CERT_FILE') !== set('KAFKA_SSL_KEY_FILE')) {
    problems.push(set('KAFKA_SSL_CERT_FILE') ? 'KAFKA_SSL_KEY_FILE: required with KAFKA_SSL_CERT_FILE' : 'KAFKA_SSL_CERT_FILE: required with KAFKA_SSL_KEY_FILE')
  }

  if (set('SCHEMA_REGISTRY_USERNAME') || set('SCHEMA_REGISTRY_PASSWORD')) {
    if (!set('SCHEMA_REGISTRY_URL')) problems.push('SCHEMA_REGISTRY_URL: required when SCHEMA_REGISTRY_USERNAME or SCHEMA_REGISTRY_PASSWORD is set')
    else if (userInfoOf(config.SCHEMA_REGISTRY_URL as string)) problems.push('SCHEMA_REGISTRY_USERNAME: SCHEMA_REGISTRY_URL carries credentials already; set them in one place')
    if (!set('SCHEMA_REGISTRY_USERNAME')) problems.push('SCHEMA_REGISTRY_USERNAME: required when SCHEMA_REGISTRY_PASSWORD is set')
    if (!set('SCHEMA_REGISTRY_PASSWORD')) problems.push('SCHEMA_REGISTRY_PASSWORD: required when SCHEMA_REGISTRY_USERNAME is set')
  }

  if (typeof config.PG_URL === 'string') {
    const url = parseUrl(config.PG_URL)
    if (set('PG_PASSWORD') && url?.password) problems.push('PG_PASSWORD: PG_URL carries a password already; set it in one place')
    const sslParams = ['sslmode', 'ssl', 'sslrootcert', 'sslcert', 'sslkey'].filter((p) => url?.searchParams.has(p))
    if (sslParams.length > 0 && (set('PG_SSL') || set('PG_SSL_CA_FILE'))) {
      problems.push(`${set('PG_SSL') ? 'PG_SSL' : 'PG_SSL_CA_FILE'}: PG_URL sets ${sslParams.join(', ')} already; use PG_SSL or the URL, not both`)
    }
    if (set('PG_SSL_CA_FILE') && config.PG_SSL !== 'verify-full') problems.push('PG_SSL_CA_FILE: needs PG_SSL=verify-full')
  }

  if (typeof config.REDIS_URL === 'string') {
    const rediss = config.REDIS_URL.startsWith('rediss://')
    if (config.REDIS_TLS === false && rediss) problems.push('REDIS_TLS: false contradicts the rediss:// REDIS_URL')
    if (set('REDIS_TLS_CA_FILE') && !(config.REDIS_TLS === true || rediss)) problems.push('REDIS_TLS_CA_FILE: needs REDIS_TLS=true or a rediss:// REDIS_URL')
    if (set('REDIS_PASSWORD') && parseUrl(config.REDIS_URL)?.password) problems.push('REDIS_PASSWORD: REDIS_URL carries a password already; set it in one place')
  }
  return problems
}

function readPem(path: string): string {
  return readFileSync(path, 'utf8')
}

function parseUrl(text: string): URL | null {
  try {
    return new URL(text)
  } catch {
    return null
  }
}

function userInfoOf(text: string): string {
  const url = parseUrl(text)
  return url ? url.username + url.password : ''
}
