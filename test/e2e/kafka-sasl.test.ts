import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { dlqOf, type ServiceName, topics } from '@vigil/schemas'
import {
  OPENSSH_SAMPLE, type Pipeline, readLinesAsRecent, replayOverTcp, REPO_ROOT, type SecuredBroker, startPipeline, startSecuredBroker, startService, uniquePrefix, waitFor,
} from '@vigil/testkit'

// The five services against a broker whose client listener only accepts SASL/SCRAM-SHA-512, with
// the credentials from the environment as a deployment gives them (the password from a file).
// Postgres, Redis and the registry are the shared stack's.
// 500 lines: with the 370 events of the sources Sigma flags left out, 130 to train a first model on (TRAIN_MIN_ROWS 100 below)
const lines = readLinesAsRecent(OPENSSH_SAMPLE).slice(0, 500)
const SERVICES: ServiceName[] = ['ingestor', 'featurizer', 'scorer', 'trainer', 'alerter']

/** Whether a client with these settings can list the broker's topics; the error if not. */
async function tryListTopics(config: Omit<KafkaConfig, 'clientId' | 'logLevel'>): Promise<Error | null> {
  const admin = new Kafka({ clientId: 'sasl-test-intruder', logLevel: logLevel.NOTHING, connectionTimeout: 2_000, retry: { retries: 0 }, ...config }).admin()
  try {
    await admin.connect()
    await admin.listTopics()
    return null
  } catch (err) {
    return err as Error
  } finally {
    await admin.disconnect().catch(() => {})
  }
}

describe('the pipeline over Kafka SASL/SCRAM-SHA-512', () => {
  const prefix = uniquePrefix('sasl')
  const logDir = join(REPO_ROOT, '.cache', 'test-logs', 'kafka-sasl', prefix.slice(0, -1))
  const secrets = mkdtempSync(join(tmpdir(), 'vigil-sasl-secrets-'))
  let broker: SecuredBroker
  let pipeline: Pipeline

  beforeAll(async () => {
    broker = await startSecuredBroker({ logDir: join(logDir, 'broker') })
    const passwordFile = join(secrets, 'kafka-password')
    writeFileSync(passwordFile, `${broker.password}\n`)
    chmodSync(passwordFile, 0o600)
    pipeline = await startPipeline({
      // The harness's topic reader cannot authenticate: it reads through the broker's plaintext
      // listener. The services get only the SASL listener.
      stack: { ...inject('stack'), KAFKA_BROKERS: broker.plaintextBrokers },
      prefix, logDir,
      env: {
        KAFKA_BROKERS: broker.brokers,
        KAFKA_SASL_MECHANISM: broker.env.KAFKA_SASL_MECHANISM!,
        KAFKA_SASL_USERNAME: broker.username,
        KAFKA_SASL_PASSWORD_FILE: passwordFile,
        TOPIC_PARTITIONS: '4',
        MODEL_TARGET_ALERT_RATE: '0.01',
        TRAIN_MIN_ROWS: '100',
      },
    })
    await replayOverTcp('127.0.0.1', pipeline.syslogTcpPort, lines)
  })

  afterAll(async () => {
    const stopped = await pipeline?.stop()
    await broker?.stop()
    rmSync(secrets, { recursive: true, force: true })
    for (const s of stopped ?? []) expect(s.code, `${s.name} exit code`).toBe(0)
  })

  it('refuses a client without credentials and one with a wrong password', async () => {
    const refusedBefore = broker.failedAuthentications().length
    const anonymous = await tryListTopics({ brokers: [broker.brokers] })
    expect(anonymous, 'a client without SASL was served').not.toBeNull()
    const wrong = await tryListTopics({ brokers: [broker.brokers], sasl: { mechanism: 'scram-sha-512', username: broker.username, password: `${broker.password}x` } })
    expect(wrong?.name).toBe('KafkaJSSASLAuthenticationError')
    // The broker itself records both refusals, each with its reason.
    const refused = await waitFor('the broker to log both refusals', () => {
      const now = broker.failedAuthentications().slice(refusedBefore)
      return now.length >= 2 ? now : undefined
    }, 10_000)
    expect(refused.some((l) => l.includes('Unexpected Kafka request of type METADATA during SASL handshake'))).toBe(true)
    expect(refused.some((l) => l.includes('invalid credentials with SASL mechanism SCRAM-SHA-512'))).toBe(true)
    // The right credentials are served: the refusals above are about credentials, not a broken listener.
    expect(await tryListTopics({ brokers: [broker.brokers], sasl: { mechanism: 'scram-sha-512', username: broker.username, password: broker.password } })).toBeNull()
  })

  it('fails a service start at once on a wrong password, without waiting for the broker', async () => {
    const stack = inject('stack')
    const started = Date.now()
    const service = await startService('featurizer', {
      KAFKA_BROKERS: broker.brokers, KAFKA_SASL_MECHANISM: broker.env.KAFKA_SASL_MECHANISM!, KAFKA_SASL_USERNAME: broker.username,
      KAFKA_SASL_PASSWORD: `${broker.password}x`, TOPIC_PREFIX: `${prefix}refused-`, REDIS_URL: stack.REDIS_URL, REDIS_KEY_PREFIX: `${prefix}refused-`,
      ...(stack.SCHEMA_REGISTRY_URL ? { SCHEMA_REGISTRY_URL: stack.SCHEMA_REGISTRY_URL } : {}),
    }, logDir)
    expect(await service.exited).toBe(1)
    expect(Date.now() - started).toBeLessThan(60_000) // the services wait up to 120 s for a broker that is not there
    const log = readFileSync(service.logFile, 'utf8')
    expect(log).not.toContain('waiting for the broker')
    expect(log).toMatch(/SASL SCRAM SHA512 authentication failed|invalid credentials/i)
  })

  it('carries every line through raw-logs and features to scores', async () => {
    const { reader } = pipeline
    const rawDlq = dlqOf(topics.rawLogs)
    await waitFor('every line to reach raw-logs or its dead-letter topic', async () =>
      (await reader.count(topics.rawLogs)) + (await reader.count(rawDlq)) >= lines.length, 60_000)
    const raw = await reader.readAll(topics.rawLogs)
    expect(raw).toHaveLength(lines.length)
    const features = await reader.readAll(topics.features, lines.length, 60_000)
    expect(new Set(features.map((f) => f.value.eventId)).size).toBe(lines.length)
    // Scores come once the trainer has trained a first model on this history and the scorer loaded it.
    const scores = await reader.readAll(topics.scores, lines.length, 90_000)
    expect(new Set(scores.map((s) => s.value.eventId))).toEqual(new Set(features.map((f) => f.value.eventId)))
    expect(await reader.count(rawDlq)).toBe(0)
    expect(await reader.count(dlqOf(topics.features))).toBe(0)
  })

  it('the broker served every service only as the SCRAM user, on the SASL listener', () => {
    const ours = broker.requests().filter((r) => r.clientId.startsWith(prefix))
    for (const service of SERVICES) {
      expect(ours.filter((r) => r.clientId === `${prefix}${service}`).length, `requests from ${service}`).toBeGreaterThan(0)
    }
    // Requests the broker forwards to its controller (CreateTopics) keep the client's principal.
    const { sasl, controller } = broker.listeners
    const elsewhere = ours.filter((r) => (r.listener !== sasl && r.listener !== controller) || r.principal !== `User:${broker.username}`)
    expect(elsewhere, 'service requests not authenticated as the SCRAM user').toEqual([])
    expect(ours.filter((r) => r.listener === sasl).length).toBeGreaterThan(ours.length / 2)
  })

  it('never writes the password to a service log', () => {
    for (const service of SERVICES) {
      for (const instance of pipeline.services[service]) {
        const log = readFileSync(instance.logFile, 'utf8')
        expect(log).toContain('"KAFKA_SASL_MECHANISM":"scram-sha-512"') // the config was logged ...
        expect(log.includes(broker.password), `${service}'s log holds the password`).toBe(false) // ... without the secret
      }
    }
  })
})
