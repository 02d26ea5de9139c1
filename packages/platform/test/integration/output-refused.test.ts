import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { dlqOf, topics, type Score } from '@vigil/schemas'
import { createTopicReader, waitFor } from '@vigil/testkit'
import type { KafkaRuntime } from '../../src/index.ts'
import { kafkaRig } from './kafka-rig.ts'

const stack = inject('stack')

function score(eventId: string, line: string): Score {
  return {
    eventId, entity: { kind: 'host.name', id: 'web1' }, eventTime: 1, receivedAt: 1, scoredAt: 1, family: 'syslog', action: 'log',
    score: 0.5, rawScore: 0.5, modelVersion: 'v1', model: 'default', threshold: 1, members: {}, explanations: [], features: {},
    evidence: { topic: 'raw-logs', partition: 0, offset: '0', line },
  }
}

describe('an output the broker refuses', () => {
  const rig = kafkaRig(stack, 'refused', 'featurizer')
  const { prefix, producer, metrics } = rig
  let kafka: KafkaRuntime

  beforeAll(async () => {
    kafka = await rig.start()
  })
  afterAll(() => rig.stop())

  it('dead-letters the message whose output is too large, with the broker\'s reason and the size; the others\' outputs are written and the partition goes on', async () => {
    // Each line's output carries it twice, as the features record did: a 600 KB line makes a 1.2 MB record, over the broker's 1 MB.
    const out = await kafka.producer()
    await kafka.consume(topics.rawLogs, {
      groupId: 'featurizer',
      decode: async (bytes) => ({ line: bytes?.toString() ?? '', receivedAt: 1, transport: 'kafka' }),
      handler: async (messages) => {
        await out.send(topics.scores, messages.map((m) => ({ key: 'web1', value: score(m.value.line.slice(0, 20), m.value.line.repeat(2)) })))
      },
    })
    const huge = `huge ${'A'.repeat(600_000)}`
    await producer.send({ topic: `${prefix}raw-logs`, messages: [
      { partition: 0, value: 'good-1' }, { partition: 0, value: huge }, { partition: 0, value: 'good-2' },
      { partition: 1, value: 'other-1' }, { partition: 1, value: 'other-2' },
    ] })
    await producer.send({ topic: `${prefix}raw-logs`, messages: [{ partition: 0, value: 'after-1' }, { partition: 1, value: 'other-3' }] })

    const reader = await createTopicReader(stack.KAFKA_BROKERS, prefix, stack.SCHEMA_REGISTRY_URL)
    try {
      // by the dead letter's place: the reader's fresh group may be handed a record twice after a rebalance
      const dead = [...new Map((await reader.readAll(dlqOf(topics.rawLogs), 1)).map((r) => [`${r.partition}/${r.offset}`, r])).values()]
      expect(dead.map((d) => [d.value.partition, d.value.offset, d.value.errorCode, d.value.errorMessage.slice(0, 160)])).toEqual([[0, '1', 'OUTPUT_TOO_LARGE', expect.any(String)]])
      expect(dead[0]!.value).toMatchObject({ errorCode: 'OUTPUT_TOO_LARGE', partition: 0, offset: '1', valueLength: huge.length, service: 'featurizer' })
      const [, bytes] = new RegExp(`^${prefix}scores refused the output record of (\\d+) bytes: MESSAGE_TOO_LARGE: `).exec(dead[0]!.value.errorMessage) ?? []
      expect(Number(bytes)).toBeGreaterThan(1_200_000)
      expect(Buffer.from(dead[0]!.value.valueBase64, 'base64').toString()).toBe(huge.slice(0, Buffer.from(dead[0]!.value.valueBase64, 'base64').length))

      // The partition went on past it: the message after it has its output.
      const scored = await waitFor('every other line to be scored', async () => {
        const ids = new Set((await reader.readAll(topics.scores)).map((r) => r.value.eventId))
        return ['good-1', 'good-2', 'after-1', 'other-1', 'other-2', 'other-3'].every((id) => ids.has(id)) && ids
      }, 60_000)
      expect([...scored].sort()).toEqual(['after-1', 'good-1', 'good-2', 'other-1', 'other-2', 'other-3'])
      await waitFor('the group to commit past every line', () => reader.caughtUp('featurizer', topics.rawLogs), 30_000)
      // Not held as a dependency outage is.
      const retries = (await metrics.batchRetries.get()).values.filter((v) => v.labels.code === 'PRODUCE_FAILED')
      expect(retries).toEqual([])
    } finally {
      await reader.close()
    }
  })
})
