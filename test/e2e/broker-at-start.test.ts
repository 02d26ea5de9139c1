import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { topics } from '@vigil/schemas'
import { freePort, REPO_ROOT, startService, tcpProxy, uniquePrefix, waitFor, type ServiceProcess, type TcpProxy } from '@vigil/testkit'

const stack = inject('stack')

// A new deployment starts the brokers and the services together; a service that gave up on an absent
// broker after kafkajs's own retries (about a minute) would restart in a loop until it came.
describe('a service started before the broker', () => {
  let service: ServiceProcess | undefined
  let proxy: TcpProxy | undefined
  afterAll(async () => {
    await service?.stop()
    await proxy?.close()
  })

  it('waits for the broker, then starts', async () => {
    const [host, port] = stack.KAFKA_BROKERS.split(',')[0]!.split(':') as [string, string]
    // The service bootstraps through the proxy; the broker's metadata then sends it to the broker itself.
    proxy = tcpProxy(await freePort(), { host, port: Number(port) })
    const prefix = uniquePrefix('broker-late')
    service = await startService('featurizer', {
      KAFKA_BROKERS: `127.0.0.1:${proxy.port}`, REDIS_URL: stack.REDIS_URL, REDIS_KEY_PREFIX: prefix, TOPIC_PREFIX: prefix,
      ...(stack.SCHEMA_REGISTRY_URL ? { SCHEMA_REGISTRY_URL: stack.SCHEMA_REGISTRY_URL } : {}),
    }, join(REPO_ROOT, '.cache', 'test-logs', 'broker-at-start', prefix)) // this run's log alone
    const started = service
    // The broker comes once the service has found it away, however long the machine took to start it.
    await waitFor('the service waiting for the broker', () => readFileSync(started.logFile, 'utf8').includes('waiting for the broker'), 60_000, 100)
    expect(service.child.exitCode).toBeNull()
    expect(await service.isReady()).toBe(false)
    await proxy.open()
    await service.waitReady()
    const log = readFileSync(service.logFile, 'utf8')
    expect(log).toContain('waiting for the broker')
    expect(log).toContain(`${prefix}${topics.features.name}`) // its topics were created once the broker came
    expect((await service.stop()).code).toBe(0)
  })
})
