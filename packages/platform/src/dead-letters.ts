import { randomUUID } from 'node:crypto'
import type { Admin, Batch, IHeaders } from 'kafkajs'
import { CodecError, dlqOf, topicsWithDeadLetters, type DeadLetter, type Topic } from '@vigil/schemas'
import { originalHeadersOf, originalKeyOf } from './dlq.ts'
import { keyCachingPartitioner, type KafkaRuntime } from './kafka.ts'
import { withKafkaRetries } from './kafka-admin.ts'

/**
 * The header a redriven record carries: the dead letter it was sent again from (`<dlq topic>/<partition>/<offset>`).
 * The featurizer carries it on to the features of a redriven raw-logs record, and the trainer keeps such features out of training.
 */
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
  /** not yet redriven, left alone for their code (not among those asked for) */
  skippedByCode: Record<string, number>
  /** value, key or headers kept only in part (longer than the envelope's limits), bound for another topic, or unreadable: never sent */
  notRedrivable: Record<string, number>
}

/**
 * Sends a topic's dead letters again to the topic, once the cause is mended (a parser fixed, a
 * schema registered, a limit raised): the exact original bytes, key and headers (a repeated header
 * repeated; dead letters written before the envelope kept bytes have their key and headers as text), plus
 * REDRIVEN_FROM_HEADER. Each dead letter is sent at most once per deployment: each error code has
 * its consumer group (`<topic>.dlq.redrive.<code>`), which commits what its pass has read, up to
 * the topic's end when the pass started, after the records it sent are acknowledged. A group per
 * code, because one group would read past the codes not asked for: redriving FRAME_TOO_LONG today
 * would hide the INVALID_UTF8 dead letters from tomorrow's redrive. A record that fails again is
 * dead-lettered again, as a new dead letter.
 */
export async function redriveDeadLetters(kafka: KafkaRuntime, topic: Topic<unknown>, options: RedriveOptions = {}): Promise<RedriveResult> {
  const dlq = dlqOf(topic)
  const target = kafka.kafkaName(topic)
  const groupOf = (code: string) => `${kafka.kafkaName(dlq)}.redrive.${code}`
  const result: RedriveResult = { redriven: 0, skippedByCode: {}, notRedrivable: {} }
  const tally = (counts: Record<string, number>, key: string, n = 1) => (counts[key] = (counts[key] ?? 0) + n)

  // First a look at every dead letter, to find the codes there are and which each code's group has yet to read.
  const seen = new Map<string, Array<{ partition: number; offset: number }>>()
  await readToEnd(kafka, dlq, `${kafka.kafkaName(dlq)}.redrive-look-${randomUUID().slice(0, 8)}`, async (batch) => {
    for (const message of batch.messages) {
      const letter = await readDeadLetter(kafka, dlq, message.value)
      if (!letter) tally(result.notRedrivable, 'UNREADABLE_DEAD_LETTER')
      else seen.set(letter.errorCode, seen.get(letter.errorCode) ?? []).get(letter.errorCode)!.push({ partition: batch.partition, offset: Number(message.offset) })
    }
  }, { deleteGroupAfter: true })
  const asked = new Set(options.codes?.length ? options.codes : seen.keys())
  const admin = kafka.client.admin()
  await admin.connect()
  try {
    for (const [code, letters] of seen) {
      if (asked.has(code)) continue
      const from = await committedOffsets(admin, groupOf(code), kafka.kafkaName(dlq))
      const pending = letters.filter((l) => l.offset >= (from.get(l.partition) ?? 0)).length
      if (pending > 0) tally(result.skippedByCode, code, pending)
    }
  } finally {
    await admin.disconnect()
  }

  // The exact bytes go out, so not through the typed producer, which encodes; keyed as the services key.
  const producer = options.dryRun ? null : kafka.client.producer({ maxInFlightRequests: 1, createPartitioner: keyCachingPartitioner })
  await producer?.connect()
  try {
    for (const code of asked) {
      if (!seen.has(code)) continue
      await readToEnd(kafka, dlq, groupOf(code), async (batch) => {
        const again: Array<{ key: Buffer | null; value: Buffer; headers: IHeaders }> = []
        for (const message of batch.messages) {
          const letter = await readDeadLetter(kafka, dlq, message.value)
          if (letter?.errorCode !== code) continue
          const value = Buffer.from(letter.valueBase64, 'base64')
          const { key, whole: wholeKey } = originalKeyOf(letter)
          const { headers, whole: wholeHeaders } = originalHeadersOf(letter)
          if (value.length < letter.valueLength) tally(result.notRedrivable, 'KEPT_IN_PART')
          else if (!wholeKey) tally(result.notRedrivable, 'KEY_KEPT_IN_PART')
          else if (!wholeHeaders) tally(result.notRedrivable, 'HEADERS_KEPT_IN_PART')
          else if (letter.sourceTopic !== target) tally(result.notRedrivable, 'OTHER_TOPIC')
          else again.push({ key, value, headers: { ...headers, [REDRIVEN_FROM_HEADER]: `${batch.topic}/${batch.partition}/${message.offset}` } })
        }
        result.redriven += again.length
        if (producer && again.length > 0) await producer.send({ topic: target, acks: -1, messages: again })
      }, { commit: !options.dryRun })
    }
  } finally {
    await producer?.disconnect()
  }
  return result
}

/** Per partition of `topic`, the offset `groupId` has committed (none for a partition it has not). */
async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
  const [committed] = await withKafkaRetries(() => admin.fetchOffsets({ groupId, topics: [topic] }))
  return new Map(committed?.partitions.filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, Number(p.offset)]))
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
    const [ends, from] = await Promise.all([withKafkaRetries(() => admin.fetchTopicOffsets(name)), committedOffsets(admin, groupId, name)])
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
      // A consumer kafkajs gives up on would otherwise leave the pass waiting for batches forever.
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        failed ??= payload.error
        finish()
      })
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
