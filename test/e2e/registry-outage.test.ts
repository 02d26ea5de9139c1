import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { dlqOf, topics } from '@vigil/schemas'
import {
  endpointOf, freePort, newerRawLogWriter, OPENSSH_SAMPLE, readLinesAsRecent, replayOverTcp, REPO_ROOT, startPipeline, tcpProxy, throughProxy, uniquePrefix, waitFor,
  type Pipeline, type TcpProxy,
} from '@vigil/testkit'

const stack = inject('stack')
const registryUrl = stack.SCHEMA_REGISTRY_URL

// A record whose writer schema a consumer has not seen (a newer producer during a rolling upgrade,
// or another team's writer) can only be read through the registry. If the registry is away when it
// comes, the record is held until the registry returns: it is valid, so dead-lettering it would lose it.
describe.skipIf(!registryUrl)('featurizer while the schema registry is away', () => {
  const pipelines: Pipeline[] = []
  const proxies: TcpProxy[] = []
  afterAll(async () => {
    const stopped = (await Promise.all(pipelines.map((p) => p.stop()))).flat()
    await Promise.all(proxies.map((p) => p.close()))
    for (const s of stopped) expect(s.code, `${s.name} exit code`).toBe(0)
  })
  const logDir = join(REPO_ROOT, '.cache', 'test-logs', 'registry-outage')
  const registryProxy = async () => {
    const proxy = tcpProxy(await freePort(), endpointOf(registryUrl!))
    proxies.push(proxy)
    return proxy
  }

  it('starts before the registry is there and waits for it', async () => {
    const proxy = await registryProxy()
    const prefix = uniquePrefix('registry-late')
    const runLogDir = join(logDir, prefix) // this run's logs alone
    const starting = startPipeline({
      stack, prefix, logDir: runLogDir,
      instances: { trainer: 0, scorer: 0, alerter: 0 }, env: { SCHEMA_REGISTRY_URL: throughProxy(registryUrl!, proxy) },
    })
    // The registry comes once the ingestor has found it away, however long the machine took to start it.
    await waitFor('the ingestor waiting for the registry', () => existsSync(runLogDir) && readdirSync(runLogDir).some((f) =>
      f.startsWith('ingestor-') && readFileSync(join(runLogDir, f), 'utf8').includes('waiting for the schema registry')), 60_000, 100)
    await proxy.open()
    const p = await starting
    pipelines.push(p)
    const lines = readLinesAsRecent(OPENSSH_SAMPLE).slice(0, 20)
    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines)
    await p.reader.readAll(topics.features, lines.length, 60_000)
    expect(p.exited()).toEqual([])
    expect(readFileSync(p.services.ingestor[0]!.logFile, 'utf8')).toContain('waiting for the schema registry')
  })

  it('holds a record it needs the registry to read, then reads it when the registry returns, dead-lettering nothing', async () => {
    const proxy = await registryProxy()
    await proxy.open()
    const prefix = uniquePrefix('registry-outage')
    // The services reach the registry through the proxy; the test's reader reaches it directly.
    const p = await startPipeline({
      stack, prefix, logDir, instances: { trainer: 0, scorer: 0, alerter: 0 }, env: { SCHEMA_REGISTRY_URL: throughProxy(registryUrl!, proxy) },
    })
    pipelines.push(p)
    const lines = readLinesAsRecent(OPENSSH_SAMPLE).slice(0, 200)
    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines)
    await p.reader.readAll(topics.features, lines.length, 60_000)
    const ingested = await p.reader.readAll(topics.rawLogs, lines.length)

    // The same 100 records again from a writer whose raw-logs schema has one more field.
    const newerWriter = await newerRawLogWriter(registryUrl!, `${p.reader.kafkaName(topics.rawLogs)}-value`)
    const newer = ingested.slice(0, 100)

    await proxy.close()
    const kafka = new Kafka({ clientId: `${prefix}newer-writer`, brokers: stack.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING })
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    await producer.send({ topic: p.reader.kafkaName(topics.rawLogs), acks: -1, messages: newer.map((r) => ({ key: r.key, value: newerWriter.encode(r.value) })) })
    await producer.disconnect()
    await new Promise((r) => setTimeout(r, 8_000)) // longer than the registry client's own retries (5 s)
    expect(await p.reader.count(topics.features)).toBe(lines.length) // nothing read, nothing skipped
    expect(await p.reader.count(dlqOf(topics.rawLogs))).toBe(0)
    const featurizer = p.services.featurizer[0]!
    expect(featurizer.child.exitCode).toBeNull()
    expect(await featurizer.metrics()).toMatch(/app_batch_retries_total\{[^}]*code="SCHEMA_REGISTRY_UNAVAILABLE"[^}]*\} [1-9]/)

    await proxy.open()
    const features = await p.reader.readAll(topics.features, lines.length + newer.length, 60_000)
    const first = new Set(ingested.map((r) => `${p.reader.kafkaName(topics.rawLogs)}/${r.partition}/${r.offset}`))
    const later = features.filter((f) => !first.has(f.value.eventId))
    expect(later.map((f) => f.value.event.event.original).sort()).toEqual(newer.map((r) => r.value.line).sort())
    expect(await p.reader.count(dlqOf(topics.rawLogs))).toBe(0)
  })
})
