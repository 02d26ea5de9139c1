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

  it('stops a service before it connects anywhere, with one line naming the variable', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'services', 'featurizer', 'src', 'main.ts')], {
      env: { PATH: process.env.PATH, KAFKA_BROKERS: '127.0.0.1:1', REDIS_URL: 'http://not-redis' }, encoding: 'utf8', timeout: 30_000,
    })
    expect(run.status).toBe(1)
    expect(run.stderr.trim()).toBe('featurizer: config error: REDIS_URL: must be a redis:// URL (got "http://…", the rest withheld)')
  }, 30_000) // a process start under tsx
})
