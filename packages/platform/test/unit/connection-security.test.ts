import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { allTopics, createCodec } from '@vigil/schemas'
import { z } from 'zod'
import {
  baseConfig, ConfigError, createPgPool, createRedis, kafkaClientSecurity, parseConfig, pgConfig, pgConnection, redisConfig,
  redisConnection, schemaRegistryUrl,
} from '../../src/index.ts'

/** What pg itself reads from a connection string. */
const parsePgUrl = (connectionString: string) => {
  const client = new pg.Client({ connectionString })
  return { user: client.user, password: client.password, host: client.host, database: client.database }
}

const root = join(import.meta.dirname, '..', '..', '..', '..')
const dir = mkdtempSync(join(tmpdir(), 'vigil-connection-security-'))
const file = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}
// The mapping only passes PEM text through; the TLS libraries parse it.
const CA = file('ca.pem', '-----BEGIN CERTIFICATE-----\nY2E=\n-----END CERTIFICATE-----\n')
const CERT = file('cert.pem', '-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n')
const KEY = file('key.pem', '-----BEGIN PRIVATE KEY-----\na2V5\n-----END PRIVATE KEY-----\n')
const NOT_PEM = file('notes.txt', 'hello\n')

const kafkaOnly = { KAFKA_BROKERS: 'k:9092' }
const Everything = baseConfig.extend({ ...pgConfig, ...redisConfig })
const all = { ...kafkaOnly, PG_URL: 'postgres://vigil@db:5432/vigil', REDIS_URL: 'redis://cache:6379' }

function problemsOf(env: Record<string, string>, schema: z.ZodObject = Everything): string[] {
  try {
    parseConfig(schema, env)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

describe('Kafka: env to kafkajs sasl and ssl', () => {
  it('asks for neither by default', () => {
    expect(kafkaClientSecurity(parseConfig(baseConfig, kafkaOnly))).toEqual({})
  })

  it.each(['scram-sha-256', 'SCRAM-SHA-512', 'plain'])('maps KAFKA_SASL_MECHANISM=%s with its credentials', (mechanism) => {
    const config = parseConfig(baseConfig, { ...kafkaOnly, KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: 'vigil', KAFKA_SASL_PASSWORD: 'p@ss word' })
    expect(kafkaClientSecurity(config)).toEqual({ sasl: { mechanism: mechanism.toLowerCase(), username: 'vigil', password: 'p@ss word' } })
  })

  it('maps KAFKA_SSL with a CA, a client certificate and its key, verifying the broker by default', () => {
    const config = parseConfig(baseConfig, { ...kafkaOnly, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: CA, KAFKA_SSL_CERT_FILE: CERT, KAFKA_SSL_KEY_FILE: KEY })
    expect(kafkaClientSecurity(config)).toEqual({
      ssl: { rejectUnauthorized: true, ca: [expect.stringContaining('Y2E=')], cert: expect.stringContaining('Y2VydA=='), key: expect.stringContaining('a2V5') },
    })
    const lax = parseConfig(baseConfig, { ...kafkaOnly, KAFKA_SSL: 'true', KAFKA_SSL_REJECT_UNAUTHORIZED: 'false' })
    expect(kafkaClientSecurity(lax)).toEqual({ ssl: { rejectUnauthorized: false } })
  })

  it('refuses, naming the variable, settings that do not go together', () => {
    expect(problemsOf({ ...kafkaOnly, KAFKA_SASL_MECHANISM: 'scram-sha-512' }, baseConfig)).toEqual([
      'KAFKA_SASL_USERNAME: required when KAFKA_SASL_MECHANISM is set',
      'KAFKA_SASL_PASSWORD: required when KAFKA_SASL_MECHANISM is set',
    ])
    expect(problemsOf({ ...kafkaOnly, KAFKA_SASL_USERNAME: 'vigil', KAFKA_SASL_PASSWORD: 'x' }, baseConfig))
      .toEqual(['KAFKA_SASL_MECHANISM: required when KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is set (scram-sha-256, scram-sha-512 or plain)'])
    expect(problemsOf({ ...kafkaOnly, KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'x' }, baseConfig)[0])
      .toMatch(/^KAFKA_SASL_MECHANISM: .*scram-sha-256.*\(got "gssapi"\)$/)
    expect(problemsOf({ ...kafkaOnly, KAFKA_SSL_CA_FILE: CA }, baseConfig)).toEqual(['KAFKA_SSL_CA_FILE: needs KAFKA_SSL=true'])
    expect(problemsOf({ ...kafkaOnly, KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: CERT }, baseConfig)).toEqual(['KAFKA_SSL_KEY_FILE: required with KAFKA_SSL_CERT_FILE'])
    expect(problemsOf({ ...kafkaOnly, KAFKA_SSL: 'yes' }, baseConfig)[0]).toMatch(/^KAFKA_SSL: .*\(got "yes"\)$/)
  })

  it('refuses a certificate file that is missing or not PEM at start, not at the first connection', () => {
    expect(problemsOf({ ...kafkaOnly, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: join(dir, 'nope.pem') }, baseConfig))
      .toEqual([`KAFKA_SSL_CA_FILE: not a readable PEM file (got ${JSON.stringify(join(dir, 'nope.pem'))})`])
    expect(problemsOf({ ...kafkaOnly, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: NOT_PEM }, baseConfig)).toHaveLength(1)
  })

  it('stops a service at start with one line naming the variable', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'services', 'ingestor', 'src', 'main.ts')], {
      env: { PATH: process.env.PATH, KAFKA_BROKERS: '127.0.0.1:1', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_PASSWORD: 'x' }, encoding: 'utf8', timeout: 30_000,
    })
    expect(run.status).toBe(1)
    expect(run.stderr.trim()).toBe('ingestor: config error: KAFKA_SASL_USERNAME: required when KAFKA_SASL_MECHANISM is set')
  }, 30_000) // a process start under tsx
})

describe('secrets from files (<NAME>_FILE)', () => {
  it('reads the secret from the file, without the trailing newline', () => {
    const config = parseConfig(baseConfig, {
      ...kafkaOnly, KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'vigil', KAFKA_SASL_PASSWORD_FILE: file('kafka-password', 's3cret\n'),
    })
    expect(config.KAFKA_SASL_PASSWORD).toBe('s3cret')
  })

  it('refuses both forms at once, and a file it cannot read', () => {
    expect(problemsOf({ ...all, REDIS_PASSWORD: 'a', REDIS_PASSWORD_FILE: file('redis-password', 'b') }))
      .toEqual(['REDIS_PASSWORD_FILE: set REDIS_PASSWORD or REDIS_PASSWORD_FILE, not both'])
    expect(problemsOf({ ...all, PG_PASSWORD_FILE: join(dir, 'absent') })).toEqual([`PG_PASSWORD_FILE: cannot read ${JSON.stringify(join(dir, 'absent'))} (ENOENT)`])
  })

  it('ignores the file form of a setting the service does not have', () => {
    expect(() => parseConfig(baseConfig, { ...kafkaOnly, PG_PASSWORD_FILE: join(dir, 'absent') })).not.toThrow()
  })
})

describe('secrets stay out of config errors and logs', () => {
  it('shows a secret URL only by its scheme in a config error', () => {
    expect(problemsOf({ ...all, PG_URL: 'mysql://vigil:hunter2@db/vigil' })).toEqual(['PG_URL: must be a postgres:// URL (got "mysql://…", the rest withheld)'])
  })

  it('redacts every secret setting in the logged config', () => {
    const secrets = { PG_URL: 'postgres://u:pg-secret@h/d', PG_PASSWORD: 'pg-password', REDIS_URL: 'redis://:redis-secret@h', REDIS_PASSWORD: 'redis-password',
      KAFKA_SASL_PASSWORD: 'kafka-password', SCHEMA_REGISTRY_URL: 'http://u:registry-secret@h', SCHEMA_REGISTRY_PASSWORD: 'registry-password' }
    const script = `import { createLogger } from './packages/platform/src/index.ts'
      createLogger('test', 'info', 'i').info({ config: ${JSON.stringify({ ...secrets, KAFKA_SASL_USERNAME: 'vigil' })} }, 'starting')`
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 })
    expect(run.status).toBe(0)
    const logged = JSON.parse(run.stdout.trim()).config
    expect(logged.KAFKA_SASL_USERNAME).toBe('vigil')
    for (const [name, value] of Object.entries(secrets)) {
      expect(logged[name], name).toBe('[redacted]')
      expect(run.stdout).not.toContain(value.replace(/^.*:([^@]*)@.*$/, '$1'))
    }
  }, 30_000)
})

describe('Postgres: env to pg connectionString and ssl', () => {
  const pgSettings = (env: Record<string, string>) => parseConfig(Everything, { ...all, ...env })

  it('leaves TLS off unless asked, and lets an sslmode in PG_URL decide alone', () => {
    expect(pgConnection(pgSettings({}))).toEqual({ connectionString: all.PG_URL, ssl: false })
    expect(pgConnection(pgSettings({ PG_URL: 'postgres://vigil@db/vigil?sslmode=verify-full' })).ssl).toBe(false) // pg lets the URL win
  })

  it('maps PG_SSL: disable, require (encrypted, unverified) and verify-full with a CA', () => {
    expect(pgConnection(pgSettings({ PG_SSL: 'disable' })).ssl).toBe(false)
    expect(pgConnection(pgSettings({ PG_SSL: 'require' })).ssl).toEqual({ rejectUnauthorized: false })
    expect(pgConnection(pgSettings({ PG_SSL: 'verify-full' })).ssl).toEqual({ rejectUnauthorized: true })
    expect(pgConnection(pgSettings({ PG_SSL: 'verify-full', PG_SSL_CA_FILE: CA })).ssl).toEqual({ rejectUnauthorized: true, ca: expect.stringContaining('Y2E=') })
  })

  it('puts PG_PASSWORD into the URL so that pg reads it back unchanged', () => {
    const password = 'p@ss:w/rd%?#'
    const { connectionString } = pgConnection(pgSettings({ PG_PASSWORD: password }))
    expect(parsePgUrl(connectionString)).toMatchObject({ user: 'vigil', password, host: 'db', database: 'vigil' })
  })

  it('refuses settings that contradict each other', () => {
    expect(problemsOf({ ...all, PG_URL: 'postgres://vigil:x@db/vigil', PG_PASSWORD: 'y' })).toEqual(['PG_PASSWORD: PG_URL carries a password already; set it in one place'])
    expect(problemsOf({ ...all, PG_URL: 'postgres://vigil@db/vigil?sslmode=require', PG_SSL: 'verify-full' }))
      .toEqual(['PG_SSL: PG_URL sets sslmode already; use PG_SSL or the URL, not both'])
    expect(problemsOf({ ...all, PG_SSL: 'require', PG_SSL_CA_FILE: CA })).toEqual(['PG_SSL_CA_FILE: needs PG_SSL=verify-full'])
    expect(problemsOf({ ...all, PG_SSL: 'prefer' })[0]).toMatch(/^PG_SSL: .*\(got "prefer"\)$/)
  })

  it('builds the pool with them', async () => {
    const pool = createPgPool(pgSettings({ PG_SSL: 'verify-full', PG_SSL_CA_FILE: CA, PG_PASSWORD: 'pw', PG_POOL_SIZE: '3' }))
    expect(pool.options).toMatchObject({ max: 3, ssl: { rejectUnauthorized: true, ca: expect.stringContaining('Y2E=') } })
    expect(parsePgUrl(pool.options.connectionString!).password).toBe('pw')
    await pool.close()
  })
})

describe('Redis: env to ioredis password and tls', () => {
  const redis = (env: Record<string, string>) => parseConfig(Everything, { ...all, ...env })

  it('maps REDIS_PASSWORD, REDIS_TLS and REDIS_TLS_CA_FILE; rediss:// means TLS', () => {
    expect(redisConnection(redis({}))).toEqual({})
    expect(redisConnection(redis({ REDIS_PASSWORD: 'pw' }))).toEqual({ password: 'pw' })
    expect(redisConnection(redis({ REDIS_URL: 'rediss://cache:6380' }))).toEqual({ tls: {} })
    expect(redisConnection(redis({ REDIS_TLS: 'true', REDIS_TLS_CA_FILE: CA }))).toEqual({ tls: { ca: expect.stringContaining('Y2E=') } })
  })

  it('refuses settings that contradict each other', () => {
    expect(problemsOf({ ...all, REDIS_URL: 'rediss://cache', REDIS_TLS: 'false' })).toEqual(['REDIS_TLS: false contradicts the rediss:// REDIS_URL'])
    expect(problemsOf({ ...all, REDIS_TLS_CA_FILE: CA })).toEqual(['REDIS_TLS_CA_FILE: needs REDIS_TLS=true or a rediss:// REDIS_URL'])
    expect(problemsOf({ ...all, REDIS_URL: 'redis://:x@cache', REDIS_PASSWORD: 'y' })).toEqual(['REDIS_PASSWORD: REDIS_URL carries a password already; set it in one place'])
  })

  it('builds the client with them', () => {
    const client = createRedis(redis({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_TLS: 'true', REDIS_TLS_CA_FILE: CA, REDIS_PASSWORD: 'pw' }))
    client.disconnect()
    expect(client.options).toMatchObject({ password: 'pw', tls: { ca: expect.stringContaining('Y2E=') }, keyPrefix: 'vigil:' })
  })
})

describe('schema registry: basic auth', () => {
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization)
    // The two calls a registration makes: the subject's compatibility, then the schema itself.
    const body = req.url!.includes('/config/') ? { compatibilityLevel: 'BACKWARD' } : { id: 1 }
    res.writeHead(200, { 'content-type': 'application/vnd.schemaregistry.v1+json' }).end(JSON.stringify(body))
  })
  const seen: Array<string | undefined> = []
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('refuses credentials without a registry, or half of them', () => {
    expect(problemsOf({ ...kafkaOnly, SCHEMA_REGISTRY_USERNAME: 'u', SCHEMA_REGISTRY_PASSWORD: 'p' }, baseConfig))
      .toEqual(['SCHEMA_REGISTRY_URL: required when SCHEMA_REGISTRY_USERNAME or SCHEMA_REGISTRY_PASSWORD is set'])
    expect(problemsOf({ ...kafkaOnly, SCHEMA_REGISTRY_URL: 'http://r:8081', SCHEMA_REGISTRY_USERNAME: 'u' }, baseConfig))
      .toEqual(['SCHEMA_REGISTRY_PASSWORD: required when SCHEMA_REGISTRY_USERNAME is set'])
  })

  it('reaches the registry as an Authorization: Basic header through the codec', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    const { port } = server.address() as { port: number }
    const config = parseConfig(baseConfig, {
      ...kafkaOnly, SCHEMA_REGISTRY_URL: `http://127.0.0.1:${port}/apis/ccompat/v7`, SCHEMA_REGISTRY_USERNAME: 'vigil', SCHEMA_REGISTRY_PASSWORD: 'p@ss:word',
    })
    await createCodec({ registryUrl: schemaRegistryUrl(config), kafkaName: (t) => t.name, topics: allTopics().slice(0, 1) })
    expect(seen.length).toBeGreaterThan(0)
    expect(new Set(seen)).toEqual(new Set([`Basic ${Buffer.from('vigil:p@ss:word').toString('base64')}`]))
    expect(schemaRegistryUrl(parseConfig(baseConfig, { ...kafkaOnly, SCHEMA_REGISTRY_URL: 'http://r:8081' }))).toBe('http://r:8081')
  })
})
