import { randomUUID } from 'node:crypto'
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { topics } from '@vigil/schemas'
import { uniquePrefix, waitFor } from '@vigil/testkit'
import { runDeadLettersCli } from '../../src/cli/dead-letters-cli.ts'
import {
  baseConfig, createKafkaRuntime, createLogger, createMetrics, DEAD_LETTER_MAX_VALUE_BYTES, parseConfig, redriveDeadLetters, REDRIVEN_FROM_HEADER,
  summarizeDeadLetters, withKafkaRetries, type KafkaRuntime,
} from '../../src/index.ts'

const stack = inject('stack')
const line = (n: number) => `<38>Dec 10 06:55:${String(n).padStart(2, '0')} LabSZ sshd[24200]: Invalid user u${n} from 173.234.31.186`

describe('dead letters: summary and redrive against the broker', () => {
  const prefix = uniquePrefix('dlq')
  const env = { KAFKA_BROKERS: stack.KAFKA_BROKERS, SCHEMA_REGISTRY_URL: stack.SCHEMA_REGISTRY_URL, TOPIC_PREFIX: prefix, TOPIC_PARTITIONS: '3' }
  let kafka: KafkaRuntime
  beforeAll(async () => {
    kafka = await createKafkaRuntime('ingestor', parseConfig(baseConfig, env), createLogger('ingestor', 'warn', 'test'), createMetrics('ingestor'), (err) => {
      throw err
    })
    await kafka.ensureTopics()
  })
  afterAll(async () => kafka?.closeProducer())

  const deadLetter = (value: Buffer, code: string) =>
    kafka.deadLetterInput(topics.rawLogs, { key: 'LabSZ', peer: '127.0.0.1:9', headers: { shipper: 'test' } }, value, { code, message: `rejected: ${code}` })

  /** Every record on raw-logs, undecoded: redriven records are the original bytes. */
  async function rawLogsRecords(atLeast: number): Promise<KafkaMessage[]> {
    const client = new Kafka({ clientId: `dlq-test-${randomUUID()}`, brokers: stack.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING })
    const admin = client.admin()
    await admin.connect()
    const name = kafka.kafkaName(topics.rawLogs)
    const count = async () => (await withKafkaRetries(() => admin.fetchTopicOffsets(name))).reduce((n, p) => n + Number(p.high), 0)
    await waitFor(`${atLeast} records on ${name}`, async () => (await count()) >= atLeast, 30_000)
    const total = await count()
    await admin.disconnect()
    const records: KafkaMessage[] = []
    const consumer = client.consumer({ groupId: `dlq-test-${randomUUID()}` })
    await consumer.connect()
    await consumer.subscribe({ topic: name, fromBeginning: true })
    await consumer.run({ eachMessage: async ({ message }) => void records.push(message) })
    await waitFor(`reading ${total} records`, () => records.length >= total, 30_000)
    await consumer.disconnect()
    return records
  }

  it('counts the dead letters, then sends the ones asked for again, exact bytes, each once', async () => {
    await deadLetter(Buffer.from(line(1)), 'FRAME_TOO_LONG')
    await deadLetter(Buffer.from(line(2)), 'FRAME_TOO_LONG')
    await deadLetter(Buffer.from([0x3c, 0x33, 0x38, 0x3e, 0xff]), 'INVALID_UTF8')
    await deadLetter(Buffer.alloc(DEAD_LETTER_MAX_VALUE_BYTES + 10, 0x61), 'FRAME_TOO_LONG') // kept in part: never sent

    const summary = await summarizeDeadLetters(kafka)
    expect(summary.map((g) => [g.topic, g.service, g.code, g.count])).toEqual([['raw-logs', 'ingestor', 'FRAME_TOO_LONG', 3], ['raw-logs', 'ingestor', 'INVALID_UTF8', 1]])
    expect(summary[1]!.lastMessage).toBe('rejected: INVALID_UTF8')

    // A dry run counts and commits nothing.
    const expected = { redriven: 2, skippedByCode: { INVALID_UTF8: 1 }, notRedrivable: { KEPT_IN_PART: 1 } }
    expect(await redriveDeadLetters(kafka, topics.rawLogs, { codes: ['FRAME_TOO_LONG'], dryRun: true })).toEqual(expected)
    expect(await redriveDeadLetters(kafka, topics.rawLogs, { codes: ['FRAME_TOO_LONG'] })).toEqual(expected)
    const sent = await rawLogsRecords(2)
    expect(sent.map((m) => m.value!.toString()).sort()).toEqual([line(1), line(2)])
    for (const m of sent) {
      expect(m.key!.toString()).toBe('LabSZ')
      expect(m.headers!.shipper!.toString()).toBe('test')
      expect(m.headers![REDRIVEN_FROM_HEADER]!.toString()).toMatch(new RegExp(`^${prefix}raw-logs\\.dlq/\\d+/\\d+$`))
    }

    // Each dead letter is sent once: a second pass for the code sends nothing, and still reports the other code's.
    expect(await redriveDeadLetters(kafka, topics.rawLogs, { codes: ['FRAME_TOO_LONG'] })).toEqual({ redriven: 0, skippedByCode: { INVALID_UTF8: 1 }, notRedrivable: {} })
    // The dead letter left alone for its code was not read past: a pass for every code sends it, and only it.
    expect(await redriveDeadLetters(kafka, topics.rawLogs)).toEqual({ redriven: 1, skippedByCode: {}, notRedrivable: {} })
    expect((await redriveDeadLetters(kafka, topics.rawLogs)).redriven).toBe(0)
    await deadLetter(Buffer.from(line(3)), 'FRAME_TOO_LONG')
    expect(await redriveDeadLetters(kafka, topics.rawLogs)).toEqual({ redriven: 1, skippedByCode: {}, notRedrivable: {} })
    const all = (await rawLogsRecords(4)).map((m) => m.value!)
    expect(all.map((v) => v.toString()).filter((v) => v.startsWith('<38>Dec')).sort()).toEqual([line(1), line(2), line(3)])
    expect(all.filter((v) => v.equals(Buffer.from([0x3c, 0x33, 0x38, 0x3e, 0xff])))).toHaveLength(1)
  })

  it('runs as a command', async () => {
    const out: string[] = []
    expect(await runDeadLettersCli(['summary'], env, (l) => out.push(l))).toBe(0)
    expect(out.join('\n')).toMatch(/^raw-logs {2}ingestor {2}FRAME_TOO_LONG {2}4 /m)
    expect(await runDeadLettersCli(['redrive', 'raw-logs', '--dry-run'], env, (l) => out.push(l))).toBe(0)
    expect(out).toContain(`would send 0 dead letters to ${prefix}raw-logs again`)
    expect(await runDeadLettersCli(['redrive', 'no-such-topic'], env, () => {})).toBe(2)
  })
})
