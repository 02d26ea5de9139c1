import { readFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { REPO_ROOT, removeTopics, startService, uniquePrefix, waitFor, type ServiceProcess } from '@vigil/testkit'

const stack = inject('stack')

// A wrong REDIS_PASSWORD (a stale Secret) must end the start with one clear line, so the pod goes to
// CrashLoopBackOff, rather than leave a featurizer running and never ready.
describe('a featurizer whose Redis refuses its password', () => {
  const prefix = uniquePrefix('redis-refused')
  let service: ServiceProcess | undefined
  let redis: Server | undefined
  afterAll(async () => {
    await service?.stop()
    redis?.close()
    await removeTopics(new Kafka({ brokers: stack.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }), [prefix])
  })

  it('fails its start at once, naming Redis and its answer', async () => {
    // Answers every command as a Redis whose password differs.
    redis = createServer((socket) => socket
      .on('data', () => socket.write('-WRONGPASS invalid username-password pair or user is disabled.\r\n'))
      .on('error', () => {})) // the featurizer's exit resets its connections
    await new Promise<void>((resolve) => redis!.listen(0, '127.0.0.1', resolve))
    const port = (redis.address() as AddressInfo).port
    service = await startService('featurizer', {
      KAFKA_BROKERS: stack.KAFKA_BROKERS, REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_PASSWORD: 'wrong', TOPIC_PREFIX: prefix,
      ...(stack.SCHEMA_REGISTRY_URL ? { SCHEMA_REGISTRY_URL: stack.SCHEMA_REGISTRY_URL } : {}),
    }, join(REPO_ROOT, '.cache', 'test-logs', 'redis-at-start'))

    // Before waitForRedis it waited for Redis forever; the deadline leaves room for loading the code and the broker's topics.
    const code = await waitFor('the featurizer to exit', () => service!.child.exitCode ?? undefined, 90_000)
    expect(code).toBe(1)
    const log = readFileSync(service.logFile, 'utf8')
    expect(log).toContain(`redis at 127.0.0.1:${port} refused the connection: WRONGPASS invalid username-password pair or user is disabled.`)
    expect(log).not.toContain('"msg":"started"')
  })
})
