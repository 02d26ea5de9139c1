import { randomUUID } from 'node:crypto'
import type { Batch, IHeaders } from 'kafkajs'
import { CodecError, dlqOf, topicsWithDeadLetters, type DeadLetter, type Topic } from '@vigil/schemas'
import { keyCachingPartitioner, type KafkaRuntime } from './kafka.ts'

/** The header a redriven record carries: the dead letter it was sent again from (`<dlq topic>/<partition>/<offset>`). */
export const REDRIVEN_FROM_HEADER = 'vigil-redriven-from'

/** Dead letters of one kind: a topic's, from one service, with one error code. */
export interface DeadLetterGroup {
  topic: string
  service: string
  code: string
  count: number
  firstFailedAt: number
  lastFailedAt: number
  /** the newest one's reason and the start of its bytes, for a person to read */
  lastMessage: string
  lastPreview: string
}

/** Counts every dead letter of the deployment's dead-letter topics, by topic, service and code. */
export async function summarizeDeadLetters(kafka: KafkaRuntime): Promise<DeadLetterGroup[]> {
  const groups = new Map<string, DeadLetterGroup>()
  for (const topic of topicsWithDeadLetters()) {
    const dlq = dlqOf(topic)
    // A group of its own that is deleted after: reading commits nothing another reader would see.
    const groupId = `${kafka.kafkaName(dlq)}.summary-${randomUUID().slice(0, 8)}`
    await readToEnd(kafka, dlq, groupId, async (batch) => {
      for (const message of batch.messages) {
        const letter = await readDeadLetter(kafka, dlq, message.value)
        const key = letter ? `${topic.name}\u0000${letter.service}\u0000${letter.errorCode}` : `${topic.name}\u0000?\u0000UNREADABLE_DEAD_LETTER`
        const group = groups.get(key) ?? {
          topic: topic.name, service: letter?.service ?? '?', code: letter?.errorCode ?? 'UNREADABLE_DEAD_LETTER', count: 0,
          firstFailedAt: Infinity, lastFailedAt: -Infinity, lastMessage: '', lastPreview: '',
        }
        group.count++
        const at = letter?.failedAt ?? Number(message.timestamp)
        group.firstFailedAt = Math.min(group.firstFailedAt, at)
        if (at >= group.lastFailedAt) {
          group.lastFailedAt = at
          group.lastMessage = letter?.errorMessage ?? 'the dead letter itself does not decode'
          group.lastPreview = letter?.valuePreview ?? ''
        }
        groups.set(key, group)
      }
    }, { deleteGroupAfter: true })
  }
  return [...groups.values()].sort((a, b) => a.topic.localeCompare(b.topic) || b.count - a.count)
}

export interface RedriveOptions {
  /** only dead letters with one of these codes; all when empty */
  codes?: readonly string[]
  /** count what would be sent, send and commit nothing */
  dryRun?: boolean
}

export interface RedriveResult {
  /** sent again to the topic (or, in a dry run, that would be) */
  redriven: number
  /** left alone for their code */
  skippedByCode: Record<string, number>
  /** kept only in part (longer than the envelope's limit), bound for another topic, or unreadable: never sent */
  notRedrivable: Record<string, number>
}

/**
 * Sends a topic's dead letters again to the topic, once the cause is mended (a parser fixed, a
 * schema registered, a limit raised): the exact original bytes, key and headers, plus
 * REDRIVEN_FROM_HEADER. Each dead letter is considered once per deployment: the pass's consumer
 * group (`<topic>.dlq.redrive`) commits what it has read, up to the topic's end when the pass
 * started, after the records it sent are acknowledged. Dead letters left alone for their code are
 * read past too; they stay in the dead-letter topic. A record that fails again is dead-lettered
 * again, as a new dead letter.
 */
export async function redriveDeadLetters(kafka: KafkaRuntime, topic: Topic<unknown>, options: RedriveOptions = {}): Promise<RedriveResult> {
  const dlq = dlqOf(topic)
  const target = kafka.kafkaName(topic)
  const codes = new Set(options.codes ?? [])
  const result: RedriveResult = { redriven: 0, skippedByCode: {}, notRedrivable: {} }
  const tally = (counts: Record<string, number>, key: string) => (counts[key] = (counts[key] ?? 0) + 1)
  // The exact bytes go out, so not through the typed producer, which encodes; keyed as the services key.
  const producer = options.dryRun ? null : kafka.client.producer({ maxInFlightRequests: 1, createPartitioner: keyCachingPartitioner })
  await producer?.connect()
  try {
    await readToEnd(kafka, dlq, `${kafka.kafkaName(dlq)}.redrive`, async (batch) => {
      const again: Array<{ key: string | null; value: Buffer; headers: IHeaders }> = []
      for (const message of batch.messages) {
        const letter = await readDeadLetter(kafka, dlq, message.value)
        if (!letter) {
          tally(result.notRedrivable, 'UNREADABLE_DEAD_LETTER')
          continue
        }
        if (codes.size > 0 && !codes.has(letter.errorCode)) {
          tally(result.skippedByCode, letter.errorCode)
          continue
        }
        const value = Buffer.from(letter.valueBase64, 'base64')
        if (value.length < letter.valueLength) {
          tally(result.notRedrivable, 'KEPT_IN_PART')
          continue
        }
        if (letter.sourceTopic !== target) {
          tally(result.notRedrivable, 'OTHER_TOPIC')
          continue
        }
        again.push({ key: letter.key ?? null, value, headers: { ...letter.headers, [REDRIVEN_FROM_HEADER]: `${batch.topic}/${batch.partition}/${message.offset}` } })
      }
      result.redriven += again.length
      if (producer && again.length > 0) await producer.send({ topic: target, acks: -1, messages: again })
    }, { commit: !options.dryRun })
  } finally {
    await producer?.disconnect()
  }
  return result
}

/** A dead letter decoded; null for one that does not decode itself (a registry that is away still throws). */
function readDeadLetter(kafka: KafkaRuntime, dlq: Topic<DeadLetter>, value: Buffer | null): Promise<DeadLetter | null> {
  return kafka.codec.decode(dlq, value).catch((err: unknown) => {
    if (err instanceof CodecError) return null
    throw err
  })
}

/**
 * Reads `topic` from `groupId`'s committed position (the beginning for a new group) up to the end
 * each partition had when the call began, a batch at a time; with `commit`, the position is
 * committed after each batch's `each` has resolved.
 */
async function readToEnd(
  kafka: KafkaRuntime, topic: Topic<unknown>, groupId: string, each: (batch: Pick<Batch, 'topic' | 'partition' | 'messages'>) => Promise<void>,
  { commit = false, deleteGroupAfter = false }: { commit?: boolean; deleteGroupAfter?: boolean } = {},
): Promise<void> {
  const name = kafka.kafkaName(topic)
  const admin = kafka.client.admin()
  await admin.connect()
  try {
    // A deployment whose services never started has no dead-letter topics: nothing to read.
    if (!(await admin.listTopics()).includes(name)) return
    const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(name), admin.fetchOffsets({ groupId, topics: [name] })])
    const from = new Map(committed?.partitions.map((p) => [p.partition, Number(p.offset)]))
    // Per partition, the offset to read up to (exclusive); a partition already there is done.
    const remaining = new Map(ends
      .filter((p) => Math.max(Number(p.low), from.get(p.partition) ?? -1) < Number(p.high))
      .map((p) => [p.partition, Number(p.high)]))
    if (remaining.size === 0) return
    const consumer = kafka.client.consumer({ groupId, maxWaitTimeInMs: 500 })
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: name, fromBeginning: true })
      let failed: unknown = null
      let finish: () => void = () => {}
      const finished = new Promise<void>((resolve) => (finish = resolve))
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const end = remaining.get(batch.partition)
          if (end === undefined || failed || batch.messages.length === 0) return
          const messages = batch.messages.filter((m) => Number(m.offset) < end)
          try {
            if (messages.length > 0) await each({ topic: batch.topic, partition: batch.partition, messages })
            const next = messages.length > 0 ? Number(messages[messages.length - 1]!.offset) + 1 : end
            if (commit && messages.length > 0) await consumer.commitOffsets([{ topic: name, partition: batch.partition, offset: String(next) }])
            if (next >= end) remaining.delete(batch.partition)
          } catch (err) {
            failed = err
          }
          if (failed || remaining.size === 0) finish()
        },
      })
      await finished
      if (failed) throw failed
    } finally {
      await consumer.disconnect()
    }
    if (deleteGroupAfter) await admin.deleteGroups([groupId]).catch(() => {})
  } finally {
    await admin.disconnect()
  }
}
