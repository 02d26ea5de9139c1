import { Kafka, logLevel } from 'kafkajs'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { topics } from '@vigil/schemas'
import { removeTopics, uniquePrefix, waitFor } from '@vigil/testkit'
import { baseConfig, createKafkaRuntime, createLogger, createMetrics, parseConfig, type KafkaRuntime } from '../../src/index.ts'

// A process that rebuilds its state from a topic (the scorer from model-control) and is restarted
// under the same group id, as a container restart keeps its hostname and pid 1: against the real
// broker, each run reads every record, though the earlier run committed past them.
const stack = inject('stack')

describe('fromStartEachRun: every start of a consumer reads its topic from the first record', () => {
  const prefix = uniquePrefix('fromstart')
  const config = parseConfig(baseConfig, { KAFKA_BROKERS: stack.KAFKA_BROKERS, TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: '2' })
  const runtimes: KafkaRuntime[] = []
  const client = new Kafka({ clientId: `${prefix}test`, brokers: config.KAFKA_BROKERS, logLevel: logLevel.NOTHING })

  /** One run of the process: starts its consumer, waits for `expected` records, stops it. */
  async function run(fromStartEachRun: boolean, expected: number, settleMs = 0): Promise<string[]> {
    const kafka = await createKafkaRuntime('scorer', { ...config, INSTANCE_ID: 'pod-1' }, createLogger('scorer', 'error', 'pod-1'), createMetrics('scorer'), (err) => {
      throw err
    })
    runtimes.push(kafka)
    await kafka.ensureTopics()
    const read: string[] = []
    await kafka.consume(topics.rawLogs, {
      groupId: 'control-pod-1', fromBeginning: true, fromStartEachRun,
      decode: async (bytes) => ({ line: bytes?.toString() ?? '', receivedAt: 0, transport: 'kafka' }),
      handler: async (messages) => void read.push(...messages.map((m) => m.value.line)),
    })
    await waitFor(`${expected} records`, () => read.length >= expected, 30_000)
    await new Promise((r) => setTimeout(r, settleMs)) // long enough for a fetch to bring anything more
    await kafka.stopConsumers()
    await kafka.closeProducer()
    return read.sort()
  }

  afterAll(async () => {
    for (const kafka of runtimes) await kafka.stopConsumers().catch(() => {})
    await removeTopics(client, [prefix])
  })

  it('reads the records an earlier run of the same group committed, and those written since', async () => {
    const producer = client.producer()
    await producer.connect()
    const write = (lines: string[]) => producer.send({ topic: `${prefix}raw-logs`, messages: lines.map((line, i) => ({ partition: i % 2, value: line })) })
    await createKafkaRuntime('scorer', config, createLogger('scorer', 'error', 'setup'), createMetrics('scorer'), (err) => {
      throw err
    }).then(async (k) => {
      await k.ensureTopics()
      await k.closeProducer()
    })
    await write(['v1', 'v2'])
    expect(await run(true, 2)).toEqual(['v1', 'v2'])
    await write(['v3'])
    expect(await run(true, 3, 1_500)).toEqual(['v1', 'v2', 'v3'])
    // Without it, the same group resumes where the last run committed: what this option is for.
    await write(['v4'])
    expect(await run(false, 1, 1_500)).toEqual(['v4'])
    await producer.disconnect()
  })
})
