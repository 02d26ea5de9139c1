import { randomUUID } from 'node:crypto'
import { Kafka, logLevel } from 'kafkajs'
import { withKafkaRetries } from '@vigil/platform'
import { createCodec, type Codec, type Topic, allTopics } from '@vigil/schemas'
import { waitFor } from './wait-for.ts'

export interface ReadRecord<T> {
  value: T
  key: string | null
  partition: number
  offset: string
}

/** Reads topics of one deployment (a topic prefix) from the beginning, decoded by their schemas. */
export async function createTopicReader(brokers: string, prefix: string, registryUrl?: string) {
  const kafka = new Kafka({ clientId: `test-reader-${randomUUID()}`, brokers: brokers.split(','), logLevel: logLevel.NOTHING })
  const kafkaName = (t: Topic<unknown>) => `${prefix}${t.name}`
  const codec: Codec = await createCodec({ registryUrl, kafkaName, topics: allTopics() })
  const admin = kafka.admin()
  await admin.connect()

  /** Messages in the topic now: the sum over partitions of high watermark minus low. */
  async function count(topic: Topic<unknown>): Promise<number> {
    const offsets = await withKafkaRetries(() => admin.fetchTopicOffsets(kafkaName(topic)))
    return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0)
  }

  /**
   * Whether the deployment's consumer group `groupId` (as a service names it, without the prefix) has
   * committed the end of every partition of the topic: it has handled every message there is now.
   */
  async function caughtUp(groupId: string, topic: Topic<unknown>): Promise<boolean> {
    const [ends, [committed]] = await Promise.all([
      withKafkaRetries(() => admin.fetchTopicOffsets(kafkaName(topic))),
      withKafkaRetries(() => admin.fetchOffsets({ groupId: `${prefix}${groupId}`, topics: [kafkaName(topic)] })),
    ])
    const at = new Map(committed?.partitions.map((p) => [p.partition, Number(p.offset)]))
    return ends.every((p) => Number(p.high) === Number(p.low) || (at.get(p.partition) ?? -1) >= Number(p.high))
  }

  /** Reads every message until the topic holds at least `atLeast` and all of them were read. */
  async function readAll<T>(topic: Topic<T>, atLeast = 0, timeoutMs = 60_000): Promise<ReadRecord<T>[]> {
    await waitFor(`${kafkaName(topic)} to hold ${atLeast} messages`, async () => (await count(topic)) >= atLeast, timeoutMs)
    const total = await count(topic)
    const out: ReadRecord<T>[] = []
    if (total === 0) return out
    const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}` })
    await consumer.connect()
    await consumer.subscribe({ topic: kafkaName(topic), fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        out.push({ value: await codec.decode(topic, message.value), key: message.key?.toString() ?? null, partition, offset: message.offset })
      },
    })
    try {
      await waitFor(`reading ${total} messages of ${kafkaName(topic)}`, () => out.length >= total, timeoutMs)
    } finally {
      await consumer.disconnect()
    }
    return out
  }

  return { kafka, codec, kafkaName, count, caughtUp, readAll, close: () => admin.disconnect() }
}

export type TopicReader = Awaited<ReturnType<typeof createTopicReader>>
