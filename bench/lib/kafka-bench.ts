import { fork, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { waitFor } from '@vigil/testkit'

/** A kafkajs client for benchmark harnesses. */
export function benchKafka(brokers: string): Kafka {
  return new Kafka({ clientId: `bench-${randomUUID().slice(0, 8)}`, brokers: brokers.split(','), logLevel: logLevel.WARN })
}

/**
 * Creates the topics and waits until the broker leads every partition. kafkajs's own wait
 * (waitForLeaders) gives up on the UNKNOWN_TOPIC_OR_PARTITION a broker started a moment ago answers,
 * which stopped every benchmark on a fresh stack; the services wait the same way (platform's kafka.ts).
 */
export async function createTopics(kafka: Kafka, names: string[], partitions: number): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    await admin.createTopics({ waitForLeaders: false, topics: names.map((topic) => ({ topic, numPartitions: partitions })) })
    for (const topic of names) {
      // Until the broker leads them all, the offsets fail (the last failure is in the timeout's message).
      await waitFor(`every partition of ${topic} led`, async () => {
        const offsets = await admin.fetchTopicOffsets(topic)
        if (offsets.length !== partitions) throw new Error(`${topic} exists with ${offsets.length} partitions, not ${partitions}`)
        return true
      }, 30_000, 200)
    }
  } finally {
    await admin.disconnect()
  }
}

/** Writes `records` in requests of 500. */
export async function produceAll(kafka: Kafka, topic: string, records: Array<{ key: string; value: Buffer }>): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  for (let i = 0; i < records.length; i += 500) await producer.send({ topic, acks: -1, messages: records.slice(i, i + 500) })
  await producer.disconnect()
}

/** Reads a topic from its start, already in its group when `startWriteReader` resolves. */
export interface WriteReader {
  /**
   * Waits for `count` records; the rate they were written at (records per second between the first
   * and the last record's timestamp, set by their producer), and those two timestamps (ms).
   */
  writeRate(count: number, timeoutMs?: number): Promise<{ rate: number; first: number; last: number }>
}

/**
 * Starts reading `topic` (which must exist) and resolves once the reader has joined its group, so
 * that a pipe started after it is read as it writes: what runs beside the writing (the CPU
 * figures) is measured from the pipe's start, not from the reader's join seconds later.
 */
export async function startWriteReader(kafka: Kafka, topic: string): Promise<WriteReader> {
  const stamps: number[] = []
  const consumer = kafka.consumer({ groupId: `bench-reader-${randomUUID()}` })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()))
  await consumer.run({ eachBatch: async ({ batch }) => { for (const m of batch.messages) stamps.push(Number(m.timestamp)) } })
  await joined
  return {
    async writeRate(count, timeoutMs = 600_000) {
      await waitFor(`${count} records on ${topic}`, () => stamps.length >= count, timeoutMs, 200)
      await consumer.disconnect()
      const first = Math.min(...stamps)
      const last = Math.max(...stamps)
      return { rate: (stamps.length - 1) / Math.max(0.001, (last - first) / 1000), first, last }
    },
  }
}

/**
 * Starts one instance of the bare consume→produce pipe (bare-relay.ts) as its own process and
 * resolves once it consumes; rejects if it exits first. Its output carries its own timestamps
 * unless `forwardTimestamps`.
 */
export async function startBareRelay(brokers: string, from: string, to: string, group: string, forwardTimestamps = false): Promise<ChildProcess> {
  const child = fork(join(import.meta.dirname, 'bare-relay.ts'), [brokers, from, to, group, ...(forwardTimestamps ? ['forward-timestamps'] : [])], { execArgv: ['--import', 'tsx'] })
  await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`bare relay exited with ${code} before it was ready`)))
  })
  return child
}
