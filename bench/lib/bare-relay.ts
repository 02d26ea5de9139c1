// One hop of the bare kafkajs pipe: consume a topic and produce the same bytes and keys (and
// timestamps, unless told `stamp-now`) to the next, with no decoding and no processing. The baseline
// every pipeline figure is compared to. A hop measured by its output's timestamps must stamp its own
// (`stamp-now`): forwarded ones time the producer that filled the input, not the hop.
// Usage: node --import tsx bench/lib/bare-relay.ts <brokers> <from-topic> <to-topic> <group> [stamp-now]
import { Kafka, logLevel, Partitioners } from 'kafkajs'

const [brokers, from, to, group, stamp] = process.argv.slice(2) as [string, string, string, string, string | undefined]
const forwardTimestamps = stamp !== 'stamp-now'
const kafka = new Kafka({ clientId: `relay-${group}`, brokers: brokers.split(','), logLevel: logLevel.WARN })
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })
const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 500 })
await producer.connect()
await consumer.connect()
await consumer.subscribe({ topic: from, fromBeginning: true })
await consumer.run({
  eachBatchAutoResolve: false,
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
const stop = async () => {
  await consumer.disconnect()
  await producer.disconnect()
  process.exit(0)
}
process.on('SIGTERM', () => void stop())
