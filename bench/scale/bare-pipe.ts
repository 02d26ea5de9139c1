// The bare kafkajs pipe, one instance of a consumer group: consume a topic and produce the same keys
// and bytes to another, with no decoding and no work, with the clients set up as the services' Kafka
// layer sets them up (packages/platform/src/kafka.ts): 4 partitions at once, 500 ms fetch wait, one
// request in flight, acks from all replicas, commit after the output is acknowledged. Unlike
// bench/lib/bare-relay.ts it does not forward timestamps, so its records are stamped when written,
// as the services' are, and the same throughput and latency arithmetic applies to both.
// Usage: node --import tsx bench/scale/bare-pipe.ts <brokers> <from-topic> <to-topic> <group>
import { Kafka, logLevel, Partitioners } from 'kafkajs'

const [brokers, from, to, group] = process.argv.slice(2) as [string, string, string, string]
const kafka = new Kafka({ clientId: group, brokers: brokers.split(','), logLevel: logLevel.NOTHING }) // rebalances log at ERROR; a pipe that fails shows as missing output
const producer = kafka.producer({ maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })
const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 500 })
await producer.connect()
await consumer.connect()
await consumer.subscribe({ topic: from, fromBeginning: true })
await consumer.run({
  autoCommit: true,
  eachBatchAutoResolve: false,
  partitionsConsumedConcurrently: 4,
  eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary }) => {
    if (batch.messages.length === 0) return
    await producer.send({ topic: to, acks: -1, messages: batch.messages.map((m) => ({ key: m.key, value: m.value })) })
    resolveOffset(batch.lastOffset())
    await commitOffsetsIfNecessary()
  },
})
process.send?.('ready')
process.on('SIGTERM', () => {
  void (async () => {
    await consumer.disconnect()
    await producer.disconnect()
    process.exit(0)
  })()
})
