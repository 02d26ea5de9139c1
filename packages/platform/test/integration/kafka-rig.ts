import { Kafka, logLevel } from 'kafkajs'
import { removeTopics, uniquePrefix } from '@vigil/testkit'
import { baseConfig, createKafkaRuntime, createLogger, createMetrics, parseConfig, type KafkaRuntime } from '../../src/index.ts'

/**
 * A service's Kafka runtime on a test's own topics (2 partitions each), beside a plain client and an
 * idempotent producer for the test's input: a retry of a request to new topics (a leader not elected
 * yet) must not write the input twice.
 */
export function kafkaRig(stack: { KAFKA_BROKERS: string; SCHEMA_REGISTRY_URL?: string | undefined }, label: string, service: string) {
  const prefix = uniquePrefix(label)
  const config = parseConfig(baseConfig, { KAFKA_BROKERS: stack.KAFKA_BROKERS, SCHEMA_REGISTRY_URL: stack.SCHEMA_REGISTRY_URL, TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: '2' })
  const client = new Kafka({ clientId: `${prefix}test`, brokers: config.KAFKA_BROKERS, logLevel: logLevel.NOTHING })
  const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 })
  const metrics = createMetrics(service)
  let kafka: KafkaRuntime | undefined
  return {
    prefix, client, producer, metrics,
    /** the runtime, its topics created, and the input producer connected */
    async start(): Promise<KafkaRuntime> {
      kafka = await createKafkaRuntime(service, config, createLogger(service, 'error', 'test'), metrics, (err) => {
        throw err
      })
      await kafka.ensureTopics()
      await producer.connect()
      return kafka
    },
    async stop() {
      await kafka?.stopConsumers()
      await kafka?.closeProducer()
      await producer.disconnect()
      await removeTopics(client, [prefix])
    },
  }
}
