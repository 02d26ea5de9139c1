import { randomUUID } from 'node:crypto'
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  baseConfig, createKafkaRuntime, createLogger, createMetrics, DEAD_LETTER_MAX_VALUE_BYTES, parseConfig, redriveDeadLetters, REDRIVEN_FROM_HEADER,
  summarizeDeadLetters, type KafkaRuntime,
} from '@vigil/platform'
import { topics } from '@vigil/schemas'
import { removeTopics, sendTcpBytes, uniquePrefix, waitFor } from '@vigil/testkit'
import type { Listener } from '../../src/framed-tcp-server.ts'
import { createRawLogSink, type RawLogSink } from '../../src/raw-log-sink.ts'
import { startSyslogTcp } from '../../src/syslog-listeners.ts'

const stack = inject('stack')
const MAX_LINE_BYTES = 64 * 1024
/** An sshd line of `bytes` bytes, as a misbehaving client makes one (a long user name). */
const sshdLine = (bytes: number) => {
  const head = '<38>Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user '
  const tail = ' from 173.234.31.186'
  return head + 'u'.repeat(bytes - head.length - tail.length) + tail
}

/** The ingestor's syslog TCP listener and sink against the real broker, under the test's own topics. */
async function startIngestor(prefix: string, maxLineBytes: number): Promise<{ kafka: KafkaRuntime; tcp: Listener; sink: RawLogSink }> {
  const env = { KAFKA_BROKERS: stack.KAFKA_BROKERS, SCHEMA_REGISTRY_URL: stack.SCHEMA_REGISTRY_URL, TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: '1' }
  const log = createLogger('ingestor', 'warn', 'test')
  const metrics = createMetrics('ingestor')
  const kafka = await createKafkaRuntime('ingestor', parseConfig(baseConfig, env), log, metrics, (err) => {
    throw err
  })
  await kafka.ensureTopics()
  const sink = createRawLogSink({
    kafka, producer: await kafka.producer(), log, batchMax: 100, lingerMs: 5, maxBufferedBytes: 64 * 1024 * 1024, refused: metrics.inputRefused,
  })
  return { kafka, sink, tcp: await startSyslogTcp('127.0.0.1', 0, maxLineBytes, sink, log) }
}

async function stopIngestor(prefix: string, running: { kafka?: KafkaRuntime; tcp?: Listener; sink?: RawLogSink }): Promise<void> {
  await running.tcp?.close()
  await running.sink?.close()
  await running.kafka?.closeProducer()
  await removeTopics(new Kafka({ brokers: stack.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }), [prefix])
}

// The README's redrive (`npm run dlq -- redrive raw-logs --code FRAME_TOO_LONG`) with dead letters as
// the ingestor writes them, not as a test would build them.
describe('a syslog TCP line over MAX_LINE_BYTES', () => {
  const prefix = uniquePrefix('long-line')
  let kafka: KafkaRuntime
  let tcp: Listener
  let sink: RawLogSink
  beforeAll(async () => ({ kafka, tcp, sink } = await startIngestor(prefix, MAX_LINE_BYTES)))
  afterAll(async () => stopIngestor(prefix, { kafka, tcp, sink }))

  /** Every record on raw-logs, undecoded: redriven records are the original bytes. */
  async function rawLogsRecords(count: number): Promise<KafkaMessage[]> {
    const client = new Kafka({ clientId: `long-line-test-${randomUUID()}`, brokers: stack.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING })
    const records: KafkaMessage[] = []
    const consumer = client.consumer({ groupId: `long-line-test-${randomUUID()}` })
    await consumer.connect()
    await consumer.subscribe({ topic: kafka.kafkaName(topics.rawLogs), fromBeginning: true })
    await consumer.run({ eachMessage: async ({ message }) => void records.push(message) })
    await waitFor(`${count} records on raw-logs`, () => records.length >= count, 30_000)
    await consumer.disconnect()
    return records
  }

  it('is dead-lettered whole up to the dead-letter limit, and a redrive sends it to raw-logs', async () => {
    const redrivable = sshdLine(100 * 1024)
    const tooLong = sshdLine(DEAD_LETTER_MAX_VALUE_BYTES + 1024)
    const good = sshdLine(200)
    await sendTcpBytes('127.0.0.1', tcp.port, Buffer.from(`${redrivable}\n${tooLong}\r\n${good}\n`))
    await sink.flush()

    const deadLetters = await waitFor('two dead letters', async () => {
      const groups = await summarizeDeadLetters(kafka)
      return groups.find((g) => g.code === 'FRAME_TOO_LONG' && g.count === 2)
    }, 30_000)
    expect(deadLetters).toMatchObject({ topic: 'raw-logs', service: 'ingestor' })

    // The one longer than a dead letter holds is reported and never sent; the other is sent, byte for byte.
    const expected = { redriven: 1, skippedByCode: {}, notRedrivable: { KEPT_IN_PART: 1 } }
    expect(await redriveDeadLetters(kafka, topics.rawLogs, { codes: ['FRAME_TOO_LONG'], dryRun: true })).toEqual(expected)
    expect(await redriveDeadLetters(kafka, topics.rawLogs, { codes: ['FRAME_TOO_LONG'] })).toEqual(expected)
    const records = await rawLogsRecords(2)
    expect(records).toHaveLength(2)
    const redriven = records.filter((r) => r.headers?.[REDRIVEN_FROM_HEADER])
    expect(redriven.map((r) => r.value!.toString())).toEqual([redrivable])
  })
})

// MAX_LINE_BYTES allows 1 MiB, and a syslog record carries its line about twice: the broker (1 MB by
// default) refuses the record of a line over ~520 KB for good.
describe('a syslog line whose raw-logs record the broker refuses as too large', () => {
  const prefix = uniquePrefix('too-large')
  let kafka: KafkaRuntime
  let tcp: Listener
  let sink: RawLogSink
  beforeAll(async () => ({ kafka, tcp, sink } = await startIngestor(prefix, 1024 * 1024)))
  afterAll(async () => stopIngestor(prefix, { kafka, tcp, sink }))

  it('is dead-lettered as OUTPUT_TOO_LARGE, and the lines around it are written once', async () => {
    const big = sshdLine(600_000)
    await sendTcpBytes('127.0.0.1', tcp.port, Buffer.from(`${sshdLine(200)}\n${big}\n${sshdLine(300)}\n`))
    const deadLetter = await waitFor('the dead letter', async () => {
      await sink.flush()
      return (await summarizeDeadLetters(kafka)).find((g) => g.code === 'OUTPUT_TOO_LARGE')
    }, 60_000)
    expect(deadLetter).toMatchObject({ topic: 'raw-logs', service: 'ingestor', count: 1, lastMessage: expect.stringContaining('MESSAGE_TOO_LARGE') })
    expect(deadLetter.lastPreview).toBe(big.slice(0, 200))
    await sink.flush()

    const admin = new Kafka({ brokers: stack.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
    try {
      const offsets = await admin.fetchTopicOffsets(kafka.kafkaName(topics.rawLogs))
      expect(offsets.map((o) => Number(o.high))).toEqual([2])
    } finally {
      await admin.disconnect()
    }
  })
})
