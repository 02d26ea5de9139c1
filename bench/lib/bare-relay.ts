// The bare kafkajs pipe, one instance of a consumer group: consume a topic and produce the same keys
// and bytes to another, with no decoding and no work. The baseline every pipeline figure is compared
// to, so its clients are set up as the services' Kafka layer sets them up
// (packages/platform/src/kafka.ts): 4 partitions at once, 500 ms fetch wait, one request in flight,
// not kafkajs's idempotent mode, acks from all replicas, commit after the output is acknowledged.
// Its records are stamped when written, as the services' are, so a hop's rate and latency read from
// its output's timestamps time the hop itself. With `forward-timestamps` it keeps its input's
// timestamps instead: a chain of hops measured end to end, from the producer that filled the first.
// Usage: node --import tsx bench/lib/bare-relay.ts <brokers> <from-topic> <to-topic> <group> [forward-timestamps]
import { Kafka, logLevel, Partitioners } from 'kafkajs'

const [brokers, from, to, group, timestamps] = process.argv.slice(2) as [string, string, string, string, string | undefined]
const forwardTimestamps = timestamps === 'forward-timestamps'
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
    await producer.send({
      topic: to, acks: -1,
      messages: batch.messages.map((m) => ({ key: m.key, value: m.value, ...(forwardTimestamps ? { timestamp: m.timestamp } : {}) })),
    })
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
