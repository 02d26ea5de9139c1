import { createSocket } from 'node:dgram'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { Partitioners } from 'kafkajs'
import { dlqOf, topics, type DeadLetter } from '@vigil/schemas'
import { runDeadLettersCli } from '../../packages/platform/src/cli/dead-letters-cli.ts'
import { REPO_ROOT, sendTcpBytes, startPipeline, uniquePrefix, waitFor, type Pipeline, type ReadRecord } from '@vigil/testkit'

const GOOD = '<38>Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186'

describe('malformed input', () => {
  let pipeline: Pipeline
  beforeAll(async () => {
    pipeline = await startPipeline({
      stack: inject('stack'), prefix: uniquePrefix('malformed'), logDir: join(REPO_ROOT, '.cache', 'test-logs', 'malformed'),
      instances: { trainer: 0, scorer: 0, alerter: 0 },
    })
  })
  afterAll(async () => {
    const stopped = await pipeline?.stop()
    for (const s of stopped ?? []) expect(s.code, `${s.name} exit code`).toBe(0)
  })

  const deadLetters = async (atLeast: number): Promise<ReadRecord<DeadLetter>[]> =>
    pipeline.reader.readAll(dlqOf(topics.rawLogs), atLeast, 30_000)

  it('dead-letters each bad input at the edge with its reason, and keeps serving', async () => {
    const frames = Buffer.concat([
      Buffer.from([0x00, 0x01, 0x02, 0x03, 0x1b, 0x5b, 0x0a]), // garbage bytes (valid UTF-8, but binary)
      Buffer.from([0x3c, 0x33, 0x38, 0x3e, 0x61, 0xff, 0xfe, 0x62, 0x0a]), // <38>a\xff\xfeb: invalid UTF-8
      Buffer.concat([Buffer.from('<38>'), Buffer.alloc(1024 * 1024, 0x61), Buffer.from('\n')]), // a 1 MiB line
      Buffer.from('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Appl\n'), // broken SD
      Buffer.from(`${GOOD}\n`),
    ])
    await sendTcpBytes('127.0.0.1', pipeline.syslogTcpPort, frames)
    const udp = createSocket('udp4')
    await new Promise<void>((resolve) => udp.send(Buffer.from([0xff, 0x00, 0x13]), pipeline.syslogUdpPort, '127.0.0.1', () => resolve()))
    udp.close()

    const dl = await deadLetters(5)
    expect(dl).toHaveLength(5)
    const codeOf = (startsWith: number[]) => dl.find((d) => Buffer.from(d.value.valueBase64, 'base64').subarray(0, startsWith.length).equals(Buffer.from(startsWith)))?.value.errorCode
    expect(codeOf([0x00, 0x01, 0x02])).toBe('CONTROL_CHARACTERS')
    expect(codeOf([0x3c, 0x33, 0x38, 0x3e, 0x61, 0xff])).toBe('INVALID_UTF8')
    expect(codeOf([0x3c, 0x33, 0x38, 0x3e, 0x61, 0x61])).toBe('FRAME_TOO_LONG')
    expect(codeOf([...Buffer.from('<165>1 2003')])).toBe('BAD_STRUCTURED_DATA')
    expect(['INVALID_UTF8', 'CONTROL_CHARACTERS']).toContain(codeOf([0xff, 0x00, 0x13]))
    for (const d of dl) {
      expect(d.value.service).toBe('ingestor')
      expect(d.value.errorMessage.length).toBeGreaterThan(5)
      expect(d.value.peer).toMatch(/^127\.0\.0\.1:\d+$/)
    }
    const long = dl.find((d) => d.value.errorCode === 'FRAME_TOO_LONG')!.value
    expect(long.valueLength).toBeGreaterThanOrEqual(1024 * 1024)

    // The good line after the bad ones went through, all the way to features.
    const raw = await pipeline.reader.readAll(topics.rawLogs, 1)
    expect(raw.map((r) => r.value.line)).toEqual([GOOD])
    const features = await pipeline.reader.readAll(topics.features, 1, 30_000)
    expect(features[0]!.value.event.event.action).toBe('ssh_invalid_user')
    expect(await pipeline.services.ingestor[0]!.isReady()).toBe(true)
  })

  it('dead-letters a message on raw-logs that does not fit the schema, with its coordinates, and goes on', async () => {
    const producer = pipeline.reader.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    const topic = pipeline.reader.kafkaName(topics.rawLogs)
    await producer.send({ topic, messages: [
      { key: 'x', value: Buffer.from('{"line": 42}') },
      { key: 'x', value: Buffer.from([0x01, 0x02]) },
      { key: 'x', value: Buffer.from(JSON.stringify({ line: GOOD.slice(4), receivedAt: Date.now(), transport: 'kafka' })) },
    ] })
    await producer.disconnect()
    const dl = await waitFor('the featurizer to dead-letter two messages', async () => {
      const all = await deadLetters(0)
      const mine = all.filter((d) => d.value.service === 'featurizer')
      return mine.length >= 2 ? mine : undefined
    }, 30_000)
    expect(dl.map((d) => d.value.errorCode).sort()).toEqual(['SCHEMA_MISMATCH', 'UNKNOWN_WIRE_FORMAT'])
    for (const d of dl) {
      expect(d.value.sourceTopic).toBe(topic)
      expect(d.value.partition).not.toBeNull()
      expect(d.value.offset).not.toBeNull()
    }
    // ...and the valid record written after them was featurized.
    await pipeline.reader.readAll(topics.features, 2, 30_000)
    expect(await pipeline.services.featurizer[0]!.isReady()).toBe(true)
  })

  it('sends a dead letter again, once asked, and it becomes an event', async () => {
    // The ingestor refused the broken structured data above; the featurizer keeps such a line as a
    // generic event. An operator who decides it should flow sends it again with `npm run dlq`.
    const broken = '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Appl'
    const env = { KAFKA_BROKERS: pipeline.env.KAFKA_BROKERS!, SCHEMA_REGISTRY_URL: pipeline.env.SCHEMA_REGISTRY_URL, TOPIC_PREFIX: pipeline.env.TOPIC_PREFIX! }
    const printed: string[] = []
    expect(await runDeadLettersCli(['redrive', 'raw-logs', '--code', 'BAD_STRUCTURED_DATA'], env, (l) => printed.push(l))).toBe(0)
    expect(printed[0]).toBe(`sent 1 dead letters to ${pipeline.reader.kafkaName(topics.rawLogs)} again`)
    const features = await waitFor('the redriven line featurized', async () =>
      (await pipeline.reader.readAll(topics.features, 0)).find((f) => f.value.event.event.original === broken), 30_000)
    expect(features.value.family).toBe('syslog')
    // Sent once: a second pass finds nothing new.
    printed.length = 0
    expect(await runDeadLettersCli(['redrive', 'raw-logs', '--code', 'BAD_STRUCTURED_DATA'], env, (l) => printed.push(l))).toBe(0)
    expect(printed[0]).toMatch(/^sent 0 dead letters/)
  })
})
