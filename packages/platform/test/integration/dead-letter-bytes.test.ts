import { randomUUID } from 'node:crypto'
import avro from 'avsc'
import type { IHeaders, KafkaMessage } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { avroSchemaText, dlqOf, topics, type DeadLetter } from '@vigil/schemas'
import { waitFor } from '@vigil/testkit'
import { DEAD_LETTER_MAX_KEY_BYTES, redriveDeadLetters, REDRIVEN_FROM_HEADER, withKafkaRetries, type KafkaRuntime, type RunningConsumer } from '../../src/index.ts'
import { kafkaRig } from './kafka-rig.ts'

const stack = inject('stack')

/** Bytes that do not decode as a score (they start like JSON and are not): the consumer dead-letters them. */
const undecodable = (n: number) => Buffer.from([0x7b, 0xff, 0x00, n])

describe('dead letters keep the key and header bytes, whatever they are, and a redrive sends them back', () => {
  const rig = kafkaRig(stack, 'dlqbytes', 'alerter')
  const { prefix, client, producer } = rig
  let kafka: KafkaRuntime
  let consumer: RunningConsumer | null = null
  const handled: string[] = []

  beforeAll(async () => {
    kafka = await rig.start()
  })
  afterAll(() => rig.stop())

  const consume = async () => (consumer = await kafka.consume(topics.scores, { groupId: 'alerter', handler: async (ms) => void handled.push(...ms.map((m) => m.value.eventId)) }))
  const stopConsuming = async () => {
    await consumer?.close()
    consumer = null
  }

  /** Every record of a topic now, undecoded, with the key it was written with. */
  async function records(topic: string): Promise<KafkaMessage[]> {
    const admin = client.admin()
    await admin.connect()
    const total = (await withKafkaRetries(() => admin.fetchTopicOffsets(topic))).reduce((n, p) => n + Number(p.high) - Number(p.low), 0)
    await admin.disconnect()
    // by place: a fresh group may be handed a record twice after a rebalance
    const out = new Map<string, KafkaMessage>()
    const reader = client.consumer({ groupId: `${prefix}read-${randomUUID()}` })
    await reader.connect()
    await reader.subscribe({ topic, fromBeginning: true })
    await reader.run({ eachMessage: async ({ partition, message }) => void out.set(`${partition}/${message.offset}`, message) })
    await waitFor(`reading ${total} records of ${topic}`, () => out.size >= total, 30_000)
    await reader.disconnect()
    return [...out.values()]
  }
  const deadLetters = async () => Promise.all((await records(kafka.kafkaName(dlqOf(topics.scores)))).map(async (m) => ({ record: m, letter: await kafka.codec.decode(dlqOf(topics.scores), m.value) as DeadLetter })))
  const dlqCount = async () => (await deadLetters()).length

  it('sends a binary key, a binary header and a repeated header back byte for byte', async () => {
    await consume()
    const key = Buffer.from([0x01, 0xff, 0xfe, 0x41])
    const headers: IHeaders = { trace: Buffer.from([0x00, 0xc3, 0x28, 0x9f]), multi: [Buffer.from('a'), Buffer.from('b')], shipper: 'kcat' }
    await producer.send({ topic: kafka.kafkaName(topics.scores), messages: [{ key, value: undecodable(1), headers }] })
    await waitFor('the dead letter', async () => (await dlqCount()) === 1 || undefined, 60_000)
    await stopConsuming()

    expect(await redriveDeadLetters(kafka, topics.scores)).toEqual({ redriven: 1, skippedByCode: {}, notRedrivable: {} })
    const [again] = (await records(kafka.kafkaName(topics.scores))).filter((m) => m.headers?.[REDRIVEN_FROM_HEADER])
    expect(again!.key).toEqual(key)
    expect(again!.value).toEqual(undecodable(1))
    const { [REDRIVEN_FROM_HEADER]: from, ...rest } = again!.headers!
    expect(from!.toString()).toMatch(new RegExp(`^${prefix}scores\\.dlq/\\d+/\\d+$`))
    expect(rest).toEqual({ trace: headers.trace, multi: [Buffer.from('a'), Buffer.from('b')], shipper: Buffer.from('kcat') })
  })

  // No timing assert: kafkajs's murmur2 took minutes over a 500 KB key with the event loop blocked, and
  // the dead letter (the key in its record key and twice in its envelope) was over the broker's 1 MB.
  it('dead-letters a message with a 500 KB key at once, keyed by the key\'s hash, and redrives a long key it kept whole', async () => {
    await consume()
    const huge = Buffer.alloc(500 * 1024, 0x6b)
    const long = Buffer.alloc(10 * 1024, 0x6c) // longer than a dead letter is keyed by, kept whole
    await producer.send({ topic: kafka.kafkaName(topics.scores), messages: [
      // a partition of its own: kafkajs's partitioner in this test's producer would hash the key for minutes
      { key: huge, value: undecodable(2), partition: 0 }, { key: long, value: undecodable(3), partition: 0 },
    ] })
    await producer.send({ topic: kafka.kafkaName(topics.scores), messages: [{ key: 'web1', value: JSON.stringify(score('after')), partition: 0 }] })
    // and the record the first test redrove, dead-lettered again
    await waitFor('their dead letters', async () => (await dlqCount()) === 4 || undefined, 30_000)
    await waitFor('the message after them', () => handled.includes('after') || undefined, 30_000)
    await stopConsuming()

    const letterOf = async (value: Buffer) => (await deadLetters()).find(({ letter }) => Buffer.from(letter.valueBase64, 'base64').equals(value))!
    const letters = [await letterOf(undecodable(2)), await letterOf(undecodable(3))]
    expect(letters.map(({ record }) => record.key!.toString())).toEqual([expect.stringMatching(/^sha256:[0-9a-f]{64}$/), expect.stringMatching(/^sha256:[0-9a-f]{64}$/)])
    const [ofHuge, ofLong] = letters.map(({ letter }) => letter)
    expect(ofHuge).toMatchObject({ keyLength: huge.length, key: null })
    expect(Buffer.from(ofHuge!.keyBase64!, 'base64')).toEqual(huge.subarray(0, DEAD_LETTER_MAX_KEY_BYTES))
    expect(ofLong).toMatchObject({ keyLength: long.length, key: long.toString() })

    // The key kept only in part cannot be sent back as it came; the one kept whole is.
    expect(await redriveDeadLetters(kafka, topics.scores)).toEqual({ redriven: 2, skippedByCode: {}, notRedrivable: { KEY_KEPT_IN_PART: 1 } })
    const again = (await records(kafka.kafkaName(topics.scores))).filter((m) => m.headers?.[REDRIVEN_FROM_HEADER] && m.value!.equals(undecodable(3)))
    expect(again).toHaveLength(1) // (the other one sent is the first test's record, dead-lettered again)
    expect(again[0]!.key).toEqual(long)
  })

  it('reads and redrives a dead letter written before the envelope kept bytes (its key and headers as text)', async () => {
    // The schema as it was: without the byte fields, registered as an older writer's.
    const schema = JSON.parse(avroSchemaText(dlqOf(topics.scores))) as avro.Schema & { fields: Array<{ name: string }> }
    schema.fields = schema.fields.filter((f) => !['keyBase64', 'keyLength', 'headerList', 'headerCount'].includes(f.name))
    const response = await fetch(`${stack.SCHEMA_REGISTRY_URL}/subjects/${prefix}old-dead-letter-value/versions`, {
      method: 'POST', headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' }, body: JSON.stringify({ schema: JSON.stringify(schema) }),
    })
    const { id } = (await response.json()) as { id: number }
    const header = Buffer.alloc(5)
    header.writeInt32BE(id, 1)
    const old = {
      sourceTopic: kafka.kafkaName(topics.scores), partition: 0, offset: '9', key: 'web1', headers: { shipper: 'kcat' }, valueBase64: undecodable(4).toString('base64'),
      valueLength: 4, valuePreview: '{', errorCode: 'OLD_CODE', errorMessage: 'written before', service: 'alerter', peer: null, failedAt: 5,
    }
    await producer.send({ topic: kafka.kafkaName(dlqOf(topics.scores)), messages: [{ key: 'web1', value: Buffer.concat([header, avro.Type.forSchema(schema).toBuffer(old)]) }] })

    expect(await redriveDeadLetters(kafka, topics.scores, { codes: ['OLD_CODE'] })).toMatchObject({ redriven: 1, notRedrivable: {} })
    const again = (await records(kafka.kafkaName(topics.scores))).filter((m) => m.headers?.[REDRIVEN_FROM_HEADER] && m.value!.equals(undecodable(4)))
    expect(again).toHaveLength(1)
    expect(again[0]!.key).toEqual(Buffer.from('web1'))
    expect(again[0]!.headers!.shipper).toEqual(Buffer.from('kcat'))
    await fetch(`${stack.SCHEMA_REGISTRY_URL}/subjects/${prefix}old-dead-letter-value`, { method: 'DELETE' })
  })
})

function score(eventId: string) {
  return {
    eventId, entity: { kind: 'host.name', id: 'web1' }, eventTime: 1, receivedAt: 1, scoredAt: 1, family: 'syslog', action: 'log',
    score: 0.5, rawScore: 0.5, modelVersion: 'v1', features: {}, evidence: { topic: 'raw-logs', partition: 0, offset: '0', line: 'l' },
  }
}
