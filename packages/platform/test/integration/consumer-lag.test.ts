import { Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { topics } from '@vigil/schemas'
import { removeTopics, uniquePrefix, waitFor } from '@vigil/testkit'
import { baseConfig, createKafkaRuntime, createLogger, createMetrics, parseConfig, TransientError, type KafkaRuntime, type Metrics } from '../../src/index.ts'

const stack = inject('stack')
/** Short, so the test waits a few refreshes rather than a few production ones (10 s). */
const REFRESH_MS = 300

describe('app_consumer_lag_messages: the group\'s lag from the broker, for the partitions this instance holds', () => {
  const prefix = uniquePrefix('lag')
  const config = parseConfig(baseConfig, { KAFKA_BROKERS: stack.KAFKA_BROKERS, TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: '2' })
  const client = new Kafka({ clientId: `${prefix}test`, brokers: config.KAFKA_BROKERS, logLevel: logLevel.NOTHING })
  const producer = client.producer()
  const runtimes: KafkaRuntime[] = []
  /** While true, every batch fails as a dependency outage does: held, retried, never committed. */
  let dependencyDown = true

  async function member(instance: string): Promise<Metrics> {
    const metrics = createMetrics('featurizer')
    const kafka = await createKafkaRuntime('featurizer', { ...config, INSTANCE_ID: instance }, createLogger('featurizer', 'error', instance), metrics, (err) => {
      throw err
    }, { consumerLagRefreshMs: REFRESH_MS })
    runtimes.push(kafka)
    await kafka.ensureTopics()
    await kafka.consume(topics.rawLogs, {
      groupId: 'featurizer',
      // plain lines, as a shipper writes them: the handler never looks
      decode: async (bytes) => ({ line: bytes?.toString() ?? '', receivedAt: Date.now(), transport: 'kafka' }),
      handler: async () => {
        if (dependencyDown) throw new TransientError('FEATURE_STORE_UNAVAILABLE', 'the test holds every batch')
      },
    })
    return metrics
  }

  /** The lag this instance exports, per partition. */
  async function exported(metrics: Metrics): Promise<Map<number, number>> {
    const { values } = await metrics.consumerLag.get()
    return new Map(values.filter((v) => v.labels.group === 'featurizer' && v.labels.topic === 'raw-logs').map((v) => [Number(v.labels.partition), v.value]))
  }
  const total = (lag: Map<number, number>) => [...lag.values()].reduce((a, b) => a + b, 0)

  async function produce(perPartition: number) {
    for (const partition of [0, 1]) {
      await producer.send({ topic: `${prefix}raw-logs`, messages: Array.from({ length: perPartition }, (_, i) => ({ partition, value: `line ${i}` })) })
    }
  }

  beforeAll(async () => {
    await producer.connect()
  })
  afterAll(async () => {
    dependencyDown = false
    for (const kafka of runtimes) {
      await kafka.stopConsumers()
      await kafka.closeProducer()
    }
    await producer.disconnect()
    await removeTopics(client, [prefix])
  })

  it('counts what is waiting while batches are held, splits it between members without counting twice, and drops to 0 once caught up', async () => {
    const a = await member('a')
    await waitFor('member a to report both partitions', async () => (await exported(a)).size === 2 || undefined, 60_000)

    // Nothing is committed while the dependency is down, so every message produced is lag, and it grows as more arrive.
    await produce(150)
    await waitFor('a lag of 300 while the batches are held', async () => total(await exported(a)) === 300 || undefined, 30_000)
    await produce(50)
    await waitFor('a lag of 400 while the batches are held', async () => total(await exported(a)) === 400 || undefined, 30_000)
    expect(Object.fromEntries(await exported(a))).toEqual({ 0: 200, 1: 200 })

    // A second member takes one partition: a stops reporting it, so the two sum to the group's lag.
    const b = await member('b')
    await waitFor('a and b to hold one partition each', async () => {
      const [lagA, lagB] = [await exported(a), await exported(b)]
      return lagA.size === 1 && lagB.size === 1 && !lagB.has([...lagA.keys()][0]!) && total(lagA) + total(lagB) === 400
    }, 120_000)

    dependencyDown = false
    await waitFor('the lag to reach 0 once the group caught up', async () => {
      const [lagA, lagB] = [await exported(a), await exported(b)]
      return lagA.size + lagB.size === 2 && total(lagA) + total(lagB) === 0
    }, 60_000)

    // A stopped consumer holds no partition: its series go.
    await runtimes[1]!.stopConsumers()
    expect((await exported(b)).size).toBe(0)
  })
})
