import { Kafka, logLevel, Partitioners, type Batch, type Consumer, type ConsumerRunConfig, type KafkaConfig, type LogEntry, type ICustomPartitioner, type IHeaders, type KafkaMessage, type Message, type Producer, type TopicMessages } from 'kafkajs'
import { allTopics, createCodec, CodecError, dlqOf, RegistryUnavailableError, type Codec, type DeadLetter, type Topic } from '@vigil/schemas'
import type { BaseConfig } from './config.ts'
import { kafkaClientSecurity, schemaRegistryUrl } from './connection-security.ts'
import { createCoalescingSender, fillRequest } from './coalescing-sender.ts'
import { withKafkaRetries } from './kafka-admin.ts'
import { CONSUMER_LAG_REFRESH_MS, createConsumerLagReporter } from './consumer-lag.ts'
import { buildDeadLetter, deadLetterRecordKey, type DeadLetterSource } from './dlq.ts'
import { canRetry, errorCode, PoisonMessageError, TransientError, UNREACHABLE_NETWORK_CODES } from './errors.ts'
import type { Logger } from './logger.ts'
import { STARTUP_WAIT_MS, waitUntilReachable } from './startup-wait.ts'
import type { Metrics } from './metrics.ts'

/** A consumed message, decoded and typed by its topic's schema. */
export interface DeliveredMessage<T> {
  value: T
  key: string | null
  /** Kafka name of the topic (with the deployment prefix) */
  topic: string
  partition: number
  offset: string
  timestamp: number
  headers: Record<string, string>
}

export interface BatchContext {
  /** Dead-letters one message of the batch (a poison input the handler met); the rest of the batch goes on. */
  deadLetter(message: DeliveredMessage<unknown>, err: unknown): void
  heartbeat(): Promise<void>
}

/**
 * Processes one batch from one partition. It must produce its output before it returns: offsets
 * are committed right after, so a crash before then means the batch is delivered again.
 */
export type BatchHandler<T> = (messages: DeliveredMessage<T>[], ctx: BatchContext) => Promise<void>

export interface OutgoingRecord<T> {
  key: string | null
  value: T
  headers?: Record<string, string>
}

export interface TypedProducer {
  /** Encodes by the topic's schema and sends with acks from all in-sync replicas. */
  send<T>(topic: Topic<T>, records: OutgoingRecord<T>[]): Promise<void>
  close(): Promise<void>
}

export interface ConsumeOptions<T> {
  /** logical group name; the deployment prefix is added */
  groupId: string
  fromBeginning?: boolean
  /**
   * Reads the topic from its first record at every start of the process, whatever the group
   * committed before: for a compacted topic whose records rebuild a process's state (model-control).
   * `fromBeginning` alone applies only to a group that never committed, so a process restarted
   * under the same group id (a container restart keeps its hostname) would start after the records it needs.
   */
  fromStartEachRun?: boolean
  handler: BatchHandler<T>
  /** partitions processed at once by this instance */
  concurrency?: number
  /**
   * Decodes a message's bytes instead of the topic's codec, for topics other programs write to
   * too (e.g. raw-logs from rsyslog). Throw a CodecError to dead-letter the message.
   */
  decode?: (bytes: Buffer | null, headers: Record<string, string>) => Promise<T>
}

export interface RunningConsumer {
  close(): Promise<void>
}

export interface KafkaRuntime {
  readonly client: Kafka
  readonly codec: Codec
  kafkaName(topic: Topic<unknown>): string
  /**
   * Waits until a broker accepts a connection, trying every second for up to `startupWaitMs`: a new
   * deployment starts the brokers and the services together. A broker that answers with a refusal
   * (SASL, TLS) fails at once.
   */
  waitForBroker(): Promise<void>
  /** Creates every topic in the registry (and the dead-letter topics) that is missing; safe to call from every instance at once. */
  ensureTopics(): Promise<void>
  /** The service's one producer (acks from all in-sync replicas, one request in flight), created on first use. */
  producer(): Promise<TypedProducer>
  consume<T>(topic: Topic<T>, options: ConsumeOptions<T>): Promise<RunningConsumer>
  /** Dead-letters input rejected before it became a message (e.g. a malformed syslog line), to the dead-letter topic of the topic it was bound for. */
  deadLetterInput(boundFor: Topic<unknown>, source: Omit<DeadLetterSource, 'sourceTopic'>, value: Buffer, error: { code: string; message: string }): Promise<void>
  /** Stops every consumer (each finishes the batch in hand and commits its offsets), then the lag reporting. */
  stopConsumers(): Promise<void>
  /** Flushes and disconnects the producer. */
  closeProducer(): Promise<void>
}

/** Bytes of records in one produce request at most; the broker refuses a record batch over its max.message.bytes (1 MB by default). */
const MAX_REQUEST_BYTES = 512 * 1024

/** The longest wait between two tries of a batch held by a transient failure; short enough to stop within the shutdown budget. */
const RETRY_BACKOFF_MAX_MS = 2_000

/**
 * Makes the consumer's first fetch after its first group join start at each partition's first
 * record, as the broker gives the low offsets now (one compaction deletes meanwhile is out of range,
 * which the fromBeginning reset answers with the earliest). The seek is stored when the join is
 * announced, which kafkajs does before it fetches; a later join (a rebalance) resumes from what was
 * committed, as the records before it were already read in this run.
 */
async function seekToStartOnFirstJoin(client: Kafka, consumer: Consumer, kafkaTopic: string): Promise<void> {
  const admin = client.admin()
  await admin.connect()
  let low: Map<number, string>
  try {
    low = new Map((await withKafkaRetries(() => admin.fetchTopicOffsets(kafkaTopic))).map((p) => [p.partition, p.low]))
  } finally {
    await admin.disconnect()
  }
  let joined = false
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    if (joined) return
    joined = true
    for (const partition of payload.memberAssignment[kafkaTopic] ?? []) consumer.seek({ topic: kafkaTopic, partition, offset: low.get(partition) ?? '0' })
  })
}

/**
 * Connects a crashed consumer again, trying every `retryMs` while the broker is unreachable for up to
 * `timeoutMs`, and runs it with its config; kafkajs kept its subscription. Resolves whether it ran
 * (not when it was closed meanwhile); rejects with UnreachableError when the broker did not answer.
 */
export async function startAgainWhenBrokerAnswers(
  consumer: Pick<Consumer, 'connect' | 'disconnect' | 'run'>, runConfig: ConsumerRunConfig,
  { closed, log, timeoutMs, retryMs }: { closed: () => boolean; log: Logger; timeoutMs: number; retryMs?: number },
): Promise<boolean> {
  await waitUntilReachable('the broker', async () => {
    if (!closed()) await consumer.connect()
  }, isBrokerUnreachable, log, { timeoutMs, ...(retryMs !== undefined && { retryMs }) })
  if (closed()) {
    await consumer.disconnect()
    return false
  }
  await consumer.run(runConfig)
  return true
}

/**
 * Whether a consumer's crash says only that the broker was away: kafkajs's "Failed to find group
 * coordinator" (KafkaJSGroupCoordinatorNotFound, which it throws when no broker answers the
 * lookup), or an unreachable broker anywhere in the error's causes.
 */
export function lostTheBroker(err: unknown): boolean {
  for (let e = err as { name?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.name === 'KafkaJSGroupCoordinatorNotFound') return true
  }
  return isBrokerUnreachable(err)
}

/** Whether a failed connection means no broker is there (yet): refused, reset, unreachable, timed out. */
function isBrokerUnreachable(err: unknown): boolean {
  for (let e = err as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.name !== 'KafkaJSConnectionError') continue
    return (typeof e.code === 'string' && UNREACHABLE_NETWORK_CODES.has(e.code)) || e.message === 'Connection timeout'
  }
  return false
}

/** Partition counts: data topics from config; control topics need order, not parallelism. */
export function partitionsOf(topic: Topic<unknown>, config: BaseConfig): number {
  return topic.kind === 'control' ? 1 : config.TOPIC_PARTITIONS
}

/**
 * One kafkajs log entry into the service's log. kafkajs logs every error answer from a broker
 * ("Response <request>") at error level, then throws it to its caller, which retries it or fails; a
 * failure reaches our code and is logged there. So such an answer is a warning: services starting
 * together on a new deployment each logged "Topic creation errors" (another had just created the
 * topics) and "not the leader" (a new partition's leader not yet elected), both retried or expected.
 */
export function logKafkajsEntry(kafkaLog: Logger, level: logLevel, entry: LogEntry['log']): void {
  const { message, ...rest } = entry
  const brokerAnswer = message.startsWith('Response ')
  if (level <= logLevel.ERROR && !brokerAnswer) kafkaLog.error(rest, message)
  else kafkaLog.warn(rest, message)
}

/**
 * Client defaults live here: retries, timeouts and the logger bridge; SASL and TLS come from the
 * config (connection-security.ts). A service waits `startupWaitMs` for an absent schema registry
 * (here) and broker (waitForBroker); a command-line tool passes 0, as an operator wants an error, not a wait.
 * `consumerLagRefreshMs` is how often the consumers' lag is read from the broker (consumer-lag.ts); tests shorten it.
 */
export async function createKafkaRuntime(
  service: string, config: BaseConfig, log: Logger, metrics: Metrics, onFatal: (err: unknown) => void,
  { startupWaitMs = STARTUP_WAIT_MS, consumerLagRefreshMs = CONSUMER_LAG_REFRESH_MS }: { startupWaitMs?: number; consumerLagRefreshMs?: number } = {},
): Promise<KafkaRuntime> {
  const kafkaLog = log.child({ component: 'kafkajs' })
  const clientConfig: KafkaConfig = {
    clientId: `${config.TOPIC_PREFIX}${service}`,
    brokers: config.KAFKA_BROKERS,
    ...kafkaClientSecurity(config),
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 300, retries: 8 },
  }
  const client = new Kafka({ ...clientConfig, logLevel: logLevel.WARN, logCreator: () => ({ level, log: entry }) => logKafkajsEntry(kafkaLog, level, entry) })
  const kafkaName = (topic: Topic<unknown>) => `${config.TOPIC_PREFIX}${topic.name}`
  const codec = await waitUntilReachable('the schema registry', () => createCodec({ registryUrl: schemaRegistryUrl(config), registryTimeoutMs: config.SCHEMA_REGISTRY_TIMEOUT_MS, kafkaName, topics: allTopics() }),
    (err) => err instanceof RegistryUnavailableError, log, { timeoutMs: startupWaitMs })

  let producerPromise: Promise<TypedProducer> | null = null
  /** each consumer's close, which also keeps it from being started again */
  const closers: Array<() => Promise<void>> = []
  // Its admin client has a Kafka client of its own that logs nothing: the reporter logs each failure
  // once, where kafkajs would log every refresh's while the broker is away.
  const consumerLag = createConsumerLagReporter(() => new Kafka({ ...clientConfig, logLevel: logLevel.NOTHING }).admin(), metrics, log, consumerLagRefreshMs)

  async function createProducer(): Promise<TypedProducer> {
    // Not kafkajs's idempotent mode: after one failed request its sequence numbers stay out of
    // order for good. One request in flight keeps each partition in order; a retry may duplicate
    // a record, which every consumer absorbs (outputs are keyed by event or alert id).
    const producer: Producer = client.producer({ maxInFlightRequests: 1, createPartitioner: keyCachingPartitioner })
    await producer.connect()
    const sendCoalesced = createCoalescingSender((topicMessages) => sendRefusingAlone(producer, topicMessages), MAX_REQUEST_BYTES)
    return {
      async send<T>(topic: Topic<T>, records: OutgoingRecord<T>[]) {
        if (records.length === 0) return
        const messages = records.map((r) => ({ key: r.key, value: codec.encode(topic, r.value), ...(r.headers ? { headers: r.headers } : {}) }))
        // Requests stay under the broker's message size limit (1 MB by default) whatever the batch.
        const bytesOf = (m: { key: string | null; value: Buffer }) => m.value.length + (m.key?.length ?? 0)
        const pieces: Array<Promise<void>> = []
        for (let start = 0; start < messages.length;) {
          const { end, bytes } = fillRequest(messages, start, bytesOf, MAX_REQUEST_BYTES)
          pieces.push(sendCoalesced(kafkaName(topic), messages.slice(start, end), bytes))
          start = end
        }
        const failures = (await Promise.allSettled(pieces)).flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
        const other = failures.find((f) => !(f instanceof RecordsRefusedError))
        if (other) throw new TransientError('PRODUCE_FAILED', `could not write to ${kafkaName(topic)}: ${(other as Error).message}`, { cause: other })
        const refused = messages.flatMap((m) => failures.flatMap((f) => {
          const refusal = (f as RecordsRefusedError).refused.get(m)
          return refusal ? [{ refusal, bytes: bytesOf(m) }] : []
        }))
        // The records of this send that shared a request with a refused one were written on their own.
        if (refused.length > 0) throw refusedOutputError(kafkaName(topic), refused, failures[0])
        metrics.messagesOut.inc({ topic: topic.name }, records.length)
      },
      close: () => producer.disconnect(),
    }
  }
  const producer = () => (producerPromise ??= createProducer())

  async function deadLetter(topic: Topic<unknown>, source: DeadLetterSource, value: Buffer | null, error: { code: string; message: string }) {
    const envelope: DeadLetter = buildDeadLetter(service, source, value, error)
    await (await producer()).send(dlqOf(topic), [{ key: deadLetterRecordKey(source.key), value: envelope }])
    metrics.messagesFailed.inc({ topic: topic.name, code: error.code })
    log.warn({ topic: source.sourceTopic, partition: source.partition, offset: source.offset, peer: source.peer, code: error.code }, `dead-lettered: ${error.message}`)
  }

  return {
    client,
    codec,
    kafkaName,

    async waitForBroker() {
      // A client of its own that neither retries nor logs: one connection a try, and one line a try.
      const probe = new Kafka({ ...clientConfig, retry: { retries: 0 }, logLevel: logLevel.NOTHING })
      await waitUntilReachable('the broker', async () => {
        const admin = probe.admin()
        try {
          await admin.connect()
        } finally {
          await admin.disconnect().catch(() => {})
        }
      }, isBrokerUnreachable, log, { timeoutMs: startupWaitMs })
    },

    async ensureTopics() {
      const admin = client.admin()
      await admin.connect()
      try {
        const existing = new Set(await admin.listTopics())
        const missing = allTopics().filter((t) => !existing.has(kafkaName(t)))
        if (missing.length > 0) await createTopics(missing)
        // The metadata names a leader a moment before the broker acts as one, and meanwhile it answers
        // NOT_LEADER for the partition: a produce spanning partitions is then sent again whole, which
        // writes the records of the partitions that took it twice. Every partition answering for its
        // offsets is the broker leading them all: waited for by every instance, as the topics may have
        // been created a moment ago by another that started beside it.
        await Promise.all(allTopics().map((t) => withKafkaRetries(() => admin.fetchTopicOffsets(kafkaName(t)), { attempts: 30 })))
      } finally {
        await admin.disconnect()
      }

      async function createTopics(missing: Topic<unknown>[]) {
        try {
          await admin.createTopics({
            // kafkajs's own wait gives up on UNKNOWN_TOPIC_OR_PARTITION, which a fresh broker answers for a moment: we wait below.
            waitForLeaders: false,
            topics: missing.map((t) => ({
              topic: kafkaName(t),
              numPartitions: partitionsOf(t, config),
              replicationFactor: config.KAFKA_REPLICATION_FACTOR,
              configEntries: t.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
            })),
          })
        } catch (err) {
          // Another instance may have created them between our list and create: that is success.
          if (!String((err as Error).message).includes('already exists') && errorCode(err) !== 'TOPIC_ALREADY_EXISTS') {
            const still = new Set(await admin.listTopics())
            if (missing.some((t) => !still.has(kafkaName(t)))) throw err
          }
        }
        // A new topic's leaders reach the broker's metadata a moment after creation; a consumer that
        // subscribes before that fails with UNKNOWN_TOPIC_OR_PARTITION, so wait until every partition has one.
        const deadline = Date.now() + 30_000
        for (;;) {
          const described = await admin.fetchTopicMetadata({ topics: missing.map(kafkaName) }).then((m) => m.topics, () => [])
          const ready = described.length === missing.length && described.every((t) =>
            t.partitions.length === partitionsOf(missing.find((m) => kafkaName(m) === t.name)!, config) && t.partitions.every((p) => p.leader >= 0))
          if (ready) break
          if (Date.now() > deadline) throw new Error(`topics ${missing.map(kafkaName).join(', ')} have no leaders after 30 s`)
          await new Promise((r) => setTimeout(r, 200))
        }
        log.info({ topics: missing.map(kafkaName) }, 'created topics')
      }
    },

    producer,

    async consume<T>(topic: Topic<T>, options: ConsumeOptions<T>): Promise<RunningConsumer> {
      const groupId = `${config.TOPIC_PREFIX}${options.groupId}`
      const fromBeginning = options.fromBeginning ?? true
      const consumer = client.consumer({
        groupId,
        maxWaitTimeInMs: 500,
        retry: { initialRetryTime: 500, retries: 10 },
      })
      // The lag is reported for the partitions this instance holds: each rebalance (GROUP_JOIN) brings the new set.
      const assignLag = consumerLag.track({ group: options.groupId, groupId, topic: topic.name, kafkaTopic: kafkaName(topic), fromBeginning })
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => assignLag(payload.memberAssignment[kafkaName(topic)] ?? []))
      if (options.fromStartEachRun) await seekToStartOnFirstJoin(client, consumer, kafkaName(topic))
      consumer.on(consumer.events.STOP, () => assignLag([]))
      let closed = false
      const close = () => {
        closed = true
        return consumer.disconnect()
      }
      closers.push(close)
      // kafkajs restarts a consumer after retriable errors; one it gives up on ends the process, so k8s
      // restarts it. But not for a broker that was away: kafkajs gives up on finding the group's
      // coordinator when no broker answers (a broker restarting during a rebalance), with an error it
      // does not restart after. That consumer is started again once the broker answers, for as long
      // as a service start would wait for it.
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        assignLag([])
        if (payload.restart || closed) return
        if (!lostTheBroker(payload.error)) return onFatal(payload.error)
        log.warn({ group: groupId, err: (payload.error as Error).message }, 'the consumer lost the broker; it starts again once the broker answers')
        startAgainWhenBrokerAnswers(consumer, runConfig, { closed: () => closed, log, timeoutMs: startupWaitMs })
          .then((started) => started && log.info({ group: groupId }, 'the consumer started again'), onFatal)
      })
      /** The batch's messages decoded; the ones that cannot be go to `rejected`. A registry that does not answer holds the batch. */
      const decodeBatch = async (batch: Batch, rejected: Array<{ raw: KafkaMessage; err: unknown }>) => {
        const delivered: DeliveredMessage<T>[] = []
        for (const raw of batch.messages) {
          try {
            const headers = headersOf(raw.headers)
            delivered.push({
              value: options.decode ? await options.decode(raw.value, headers) : await codec.decode(topic, raw.value),
              key: raw.key ? raw.key.toString('utf8') : null,
              topic: batch.topic,
              partition: batch.partition,
              offset: raw.offset,
              timestamp: Number(raw.timestamp),
              headers,
            })
          } catch (err) {
            if (err instanceof RegistryUnavailableError) throw new TransientError(err.code, 'the schema registry is unavailable', { cause: err })
            if (!(err instanceof CodecError)) throw err
            rejected.push({ raw, err })
          }
        }
        return delivered
      }
      await consumer.connect()
      await consumer.subscribe({ topic: kafkaName(topic), fromBeginning })
      const runConfig: ConsumerRunConfig = {
        autoCommit: true,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.concurrency ?? config.CONSUMER_CONCURRENCY,
        eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
          if (batch.messages.length === 0) return
          const endTimer = metrics.batchDuration.startTimer({ topic: topic.name })
          metrics.messagesIn.inc({ topic: topic.name }, batch.messages.length)
          const rejected: Array<{ raw: KafkaMessage; err: unknown }> = []
          const rawByOffset = new Map(batch.messages.map((m) => [m.offset, m]))
          const ctx: BatchContext = {
            deadLetter: (message, err) => rejected.push({ raw: rawByOffset.get(message.offset)!, err }),
            heartbeat,
          }
          // A dependency that is down (Redis, Postgres, the schema registry) holds this partition where
          // it is: the batch is decoded and handled again with backoff, heartbeats keep the group
          // membership, and nothing is committed until it succeeds. Shutdown or a rebalance gives the
          // batch back uncommitted.
          for (let attempt = 1; ; attempt++) {
            rejected.length = 0
            try {
              const delivered = await decodeBatch(batch, rejected)
              const rejectedBeforeHandler = rejected.length
              try {
                await options.handler(delivered, ctx)
              } catch (err) {
                if (canRetry(err)) throw err
                // Not retryable and not pinned to one message: find the messages that fail alone.
                rejected.length = rejectedBeforeHandler
                await handleOneByOne(delivered, options.handler, ctx, rejected, rawByOffset)
              }
              break
            } catch (err) {
              if (!canRetry(err)) throw err
              metrics.batchRetries.inc({ topic: topic.name, code: errorCode(err) })
              if (attempt === 1 || attempt % 10 === 0) {
                log.warn({ err, topic: batch.topic, partition: batch.partition, offset: batch.firstOffset(), attempt }, 'batch held until a dependency returns')
              }
              if (!isRunning() || isStale()) throw err
              await new Promise((r) => setTimeout(r, Math.min(RETRY_BACKOFF_MAX_MS, 100 * 2 ** attempt)))
              if (!isRunning() || isStale()) throw err
              await heartbeat()
            }
          }
          for (const { raw, err } of rejected) {
            // The key and headers as they came, bytes and repeats, for a redrive to send back.
            await deadLetter(topic, {
              sourceTopic: batch.topic, partition: batch.partition, offset: raw.offset, key: raw.key, headers: raw.headers,
            }, raw.value, { code: errorCode(err), message: (err as Error).message ?? String(err) })
          }
          resolveOffset(batch.lastOffset())
          await commitOffsetsIfNecessary()
          endTimer()
        },
      }
      await consumer.run(runConfig)
      return { close }
    },

    deadLetterInput: (boundFor, source, value, error) => deadLetter(boundFor, { ...source, sourceTopic: kafkaName(boundFor) }, value, error),

    async stopConsumers() {
      await Promise.all(closers.map((close) => close()))
      await consumerLag.close()
    },

    async closeProducer() {
      if (producerPromise) await (await producerPromise).close()
    },
  }
}

async function handleOneByOne<T>(
  delivered: DeliveredMessage<T>[], handler: BatchHandler<T>, ctx: BatchContext,
  rejected: Array<{ raw: KafkaMessage; err: unknown }>, rawByOffset: Map<string, KafkaMessage>,
) {
  for (const message of delivered) {
    try {
      await handler([message], ctx)
    } catch (err) {
      if (canRetry(err)) throw err
      rejected.push({ raw: rawByOffset.get(message.offset)!, err })
    }
  }
}

/**
 * Broker answers to a produce that refuse the record itself: sending it again gets the same answer,
 * so it is the input's fault, not a dependency's. CORRUPT_MESSAGE is among them, though kafkajs
 * calls it retriable: over TCP it is what a broker says of a record it will not take (e.g. one
 * without a key for a compacted topic), not of bytes damaged on the way. Everything else (no
 * leader, not enough replicas, timeouts, a broker away, a refused login) holds the batch.
 */
const REFUSED_RECORD_TYPES: ReadonlySet<string> = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE'])

interface Refusal { type: string; message: string }

/** The broker's refusal of a record in `err` (kafkajs may wrap it), or null for any other failure. */
function refusalOf(err: unknown): Refusal | null {
  let e = err as { type?: unknown; message?: unknown; cause?: unknown; originalError?: unknown } | undefined
  for (let depth = 0; e && depth < 5; depth++, e = (e.cause ?? e.originalError) as typeof e) {
    if (typeof e.type === 'string' && REFUSED_RECORD_TYPES.has(e.type)) return { type: e.type, message: String(e.message) }
  }
  return null
}

/** Some records of a request were refused by the broker (see `refused`); the request's other records were written. */
class RecordsRefusedError extends Error {
  constructor(readonly refused: ReadonlyMap<Message, Refusal>, options: { cause: unknown }) {
    super(`the broker refused ${refused.size} record(s): ${[...refused.values()][0]?.message}`, options)
  }
}

/**
 * Sends one request. A broker answers a refused record for the whole request, and a request may
 * carry the records of several handlers (the coalescing sender): so the refused request is sent
 * again in halves, and halves of the halves, until each refused record is found, the rest written
 * (again: the partitions the refused request did not fail were written, as with any retry). Each
 * send() then learns whether its own records were among the refused ones.
 */
async function sendRefusingAlone(producer: Producer, topicMessages: TopicMessages[]): Promise<void> {
  const refused = new Map<Message, Refusal>()
  let first: unknown = null
  const send = async (part: TopicMessages[]): Promise<void> => {
    try {
      await producer.sendBatch({ topicMessages: part, acks: -1 })
    } catch (err) {
      const refusal = refusalOf(err)
      if (!refusal) throw err
      first ??= err
      const records = part.flatMap(({ topic, messages }) => messages.map((message) => ({ topic, message })))
      if (records.length === 1) return void refused.set(records[0]!.message, refusal)
      // The first half before the second: each partition's records stay in order.
      const half = Math.ceil(records.length / 2)
      await send(byTopic(records.slice(0, half)))
      await send(byTopic(records.slice(half)))
    }
  }
  await send(topicMessages)
  // A request refused as a whole only (too large together) was written in parts: nothing refused.
  if (refused.size > 0) throw new RecordsRefusedError(refused, { cause: first })
}

function byTopic(records: Array<{ topic: string; message: Message }>): TopicMessages[] {
  const out = new Map<string, Message[]>()
  for (const { topic, message } of records) out.set(topic, [...(out.get(topic) ?? []), message])
  return [...out].map(([topic, messages]) => ({ topic, messages }))
}

/** A message whose output the broker refused: dead-lettered (not retried), with the broker's reason and the record's size. */
function refusedOutputError(topic: string, refused: Array<{ refusal: Refusal; bytes: number }>, cause: unknown): PoisonMessageError {
  const { refusal } = refused[0]!
  const largest = Math.max(...refused.map((r) => r.bytes))
  const tooLarge = refusal.type === 'MESSAGE_TOO_LARGE' || refusal.type === 'RECORD_LIST_TOO_LARGE'
  return new PoisonMessageError(tooLarge ? 'OUTPUT_TOO_LARGE' : 'OUTPUT_REFUSED_BY_BROKER',
    `${topic} refused ${refused.length === 1 ? 'the output record' : `${refused.length} output records`} of ${largest} bytes${refused.length === 1 ? '' : ' (largest)'}: ${refusal.type}: ${refusal.message}`,
    { cause })
}

/**
 * The Java client's murmur2, as kafkajs's default partitioner computes it, in 32-bit arithmetic:
 * kafkajs's keeps its hash in an ever-growing Long, which took 35 s for a 330 KB key with the
 * event loop blocked. Same result (the unit test compares them), linear in the key's length.
 */
export function murmur2(key: Buffer | string): number {
  const data = Buffer.isBuffer(key) ? key : Buffer.from(String(key))
  const M = 0x5bd1e995
  const length = data.length
  let h = 0x9747b28c ^ length
  const end = length & ~3
  for (let i = 0; i < end; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }
  switch (length & 3) {
    case 3: h ^= data[end + 2]! << 16 // falls through
    case 2: h ^= data[end + 1]! << 8 // falls through
    case 1: h = Math.imul(h ^ data[end]!, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h
}

/**
 * kafkajs's default partitioner (murmur2 of the key, as the Java client), remembering each key's
 * partition: keys are entity ids, the same few thousand over and over, and the default hashes every
 * message's key and filters the partition list for it, which showed in the featurizer's profile.
 * The hash is ours (above); a key longer than KEY_CACHED_MAX_CHARS is hashed each time, not kept.
 */
export const keyCachingPartitioner: ICustomPartitioner = () => {
  const partitionOf = Partitioners.DefaultPartitioner()
  const byTopic = new Map<string, { partitions: number; byKey: Map<string, number> }>()
  const KEYS_MAX = 100_000
  const KEY_CACHED_MAX_CHARS = 256
  const hashed = (key: Buffer | string, partitions: number) => (murmur2(key) & 0x7fffffff) % partitions
  return (args) => {
    const { topic, partitionMetadata, message } = args
    if (message.key === null || message.key === undefined || (message.partition !== null && message.partition !== undefined)) return partitionOf(args)
    if (typeof message.key !== 'string' || message.key.length > KEY_CACHED_MAX_CHARS) return hashed(message.key, partitionMetadata.length)
    let cache = byTopic.get(topic)
    // a topic given more partitions maps its keys anew, as the default would
    if (!cache || cache.partitions !== partitionMetadata.length || cache.byKey.size >= KEYS_MAX) {
      cache = { partitions: partitionMetadata.length, byKey: new Map() }
      byTopic.set(topic, cache)
    }
    let partition = cache.byKey.get(message.key)
    if (partition === undefined) {
      partition = hashed(message.key, partitionMetadata.length)
      cache.byKey.set(message.key, partition)
    }
    return partition
  }
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue
    // A null value (another producer may write one; kafkajs's types leave it out) reads as empty.
    out[k] = Array.isArray(v) ? v.map((one) => String(one ?? '')).join(',') : String(v ?? '')
  }
  return out
}
