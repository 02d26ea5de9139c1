import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { baseConfig, ConfigError, parseConfig } from '../../src/index.ts'

const root = join(import.meta.dirname, '..', '..', '..', '..')

describe('parseConfig', () => {
  it('applies defaults and parses lists', () => {
    const config = parseConfig(baseConfig, { KAFKA_BROKERS: 'a:1, b:2' })
    expect(config.KAFKA_BROKERS).toEqual(['a:1', 'b:2'])
    expect(config.TOPIC_PARTITIONS).toBe(12)
    expect(config.SHUTDOWN_TIMEOUT_MS).toBe(10_000)
    expect(config.SCHEMA_REGISTRY_TIMEOUT_MS).toBe(10_000)
  })

  it('names every wrong or missing variable, one problem each', () => {
    const err = (() => {
      try {
        parseConfig(baseConfig, { TOPIC_PARTITIONS: 'many', LOG_LEVEL: 'loud', VIGIL_TYPO: '1' })
      } catch (e) {
        return e
      }
    })() as ConfigError
    expect(err).toBeInstanceOf(ConfigError)
    expect(err.problems.some((p) => p.startsWith('KAFKA_BROKERS: required'))).toBe(true)
    expect(err.problems.some((p) => p.startsWith('TOPIC_PARTITIONS:'))).toBe(true)
    expect(err.problems.some((p) => p.startsWith('LOG_LEVEL:'))).toBe(true)
    expect(err.problems).toContain('VIGIL_TYPO: unknown setting')
  })

  it('refuses values that would only fail later, far from the variable', () => {
    const problemsOf = (env: Record<string, string>) => {
      try {
        parseConfig(baseConfig, { KAFKA_BROKERS: 'kafka:9092', ...env })
        return []
      } catch (e) {
        return (e as ConfigError).problems
      }
    }
    expect(problemsOf({ KAFKA_BROKERS: ',' })).toEqual([expect.stringMatching(/^KAFKA_BROKERS: must be host:port/)])
    expect(problemsOf({ KAFKA_BROKERS: 'kafka' })).toEqual([expect.stringMatching(/^KAFKA_BROKERS: must be host:port/)])
    expect(problemsOf({ KAFKA_REPLICATION_FACTOR: '0' })).toEqual([expect.stringMatching(/^KAFKA_REPLICATION_FACTOR: must be -1/)])
    // no scheme: the registry client failed on each request, which read as a registry that was down
    expect(problemsOf({ SCHEMA_REGISTRY_URL: 'localhost:18081' })).toEqual([expect.stringMatching(/^SCHEMA_REGISTRY_URL: must be an http/)])
    expect(problemsOf({ SCHEMA_REGISTRY_URL: 'ftp://registry:8081' })).toHaveLength(1)
    expect(problemsOf({ SHUTDOWN_TIMEOUT_MS: String(2 ** 31) })).toEqual([expect.stringMatching(/^SHUTDOWN_TIMEOUT_MS:/)])
    expect(problemsOf({ SCHEMA_REGISTRY_TIMEOUT_MS: '0' })).toEqual([expect.stringMatching(/^SCHEMA_REGISTRY_TIMEOUT_MS:/)])
    expect(problemsOf({ KAFKA_BROKERS: 'kafka-0.kafka:9092, 10.0.0.7:9093,[::1]:9094', SCHEMA_REGISTRY_URL: 'https://registry:8081/apis/ccompat/v7', KAFKA_REPLICATION_FACTOR: '3' })).toEqual([])
  })

  it('stops a service before it connects anywhere, with one line naming the variable', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'services', 'featurizer', 'src', 'main.ts')], {
      env: { PATH: process.env.PATH, KAFKA_BROKERS: '127.0.0.1:1', REDIS_URL: 'http://not-redis' }, encoding: 'utf8', timeout: 30_000,
    })
    expect(run.status).toBe(1)
    expect(run.stderr.trim()).toBe('featurizer: config error: REDIS_URL: must be a redis:// URL (got "http://…", the rest withheld)')
  }, 30_000) // a process start under tsx
})
