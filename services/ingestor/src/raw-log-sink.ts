import { topics, type RawLog } from '@vigil/schemas'
import { DEAD_LETTER_MAX_VALUE_BYTES, PoisonMessageError, type KafkaRuntime, type Logger, type Metrics, type OutgoingRecord, type TypedProducer } from '@vigil/platform'
import { handleInput, type ReceivedInput } from './handle-input.ts'

export interface RejectedInput {
  code: string
  reason: string
  /** the input's bytes as the framing kept them: all of them, or the first ones of a long input */
  preview: Buffer
  length: number
  transport: ReceivedInput['transport']
  peer: string
}

export interface RawLogSink {
  /**
   * Takes one input once there is room for it: listeners await it to apply backpressure. While the
   * held bytes are above the high-water mark (half of `maxBufferedBytes`) or several batches of lines
   * are queued, it waits until a send or dead letter brings them under.
   */
  accept(input: ReceivedInput): Promise<void>
  /**
   * Takes one input, or one the framing rejected, from a sender that cannot be held back (UDP: it
   * neither waits nor sends again) while the buffer has room for it; past `maxBufferedBytes` the
   * input is refused, counted and logged. Never waits for room; the promise settles once the input
   * is queued, or dead-lettered.
   */
  offer(input: ReceivedInput | RejectedInput): Promise<void>
  /** Dead-letters input the framing already rejected (e.g. a line over the size limit); settles once it is sent. */
  reject(input: RejectedInput): Promise<void>
  /** Calls `setReady` now and whenever the buffer crosses its high-water mark: not ready above it. */
  reportReadiness(setReady: (ready: boolean) => void): void
  /** Sends everything accepted so far. */
  flush(): Promise<void>
  close(): Promise<void>
}

export interface RawLogSinkOptions {
  kafka: Pick<KafkaRuntime, 'deadLetterInput'>
  producer: Pick<TypedProducer, 'send'>
  log: Logger
  batchMax: number
  lingerMs: number
  /** bytes held for Kafka at most, as `heldCost` counts them; input that cannot wait is refused past it */
  maxBufferedBytes: number
  /** counts the inputs refused past `maxBufferedBytes`, by transport */
  refused: Metrics['inputRefused']
}

const MAX_BACKOFF_MS = 5_000

/**
 * What holding one input costs, in bytes: its own and those of the record made of it, measured at
 * about 460 bytes of heap beyond the line's for lines of 100 B to 4 KiB.
 */
const heldCost = (bytes: number) => bytes + 512

/**
 * Longer lines go to raw-logs in a send of their own. When the broker refuses a record for good (too
 * large), the producer says that a record of the send was refused and that the others were written,
 * not which one: alone, the refused record is known, and is dead-lettered. A record carries its line
 * about twice (the line and the syslog message), so records of shorter lines stay under
 * DEAD_LETTER_MAX_VALUE_BYTES, which any broker that takes our dead letters takes too.
 */
const LONE_LINE_BYTES = DEAD_LETTER_MAX_VALUE_BYTES / 2

/**
 * Batches accepted lines into raw-logs and dead-letters the rest. A failed send or dead letter is
 * retried until it succeeds; while the buffer is above its high-water mark, `accept` stops resolving
 * and TCP senders wait. UDP senders cannot wait: what they send is buffered up to `maxBufferedBytes`
 * and refused past it (counted in app_input_refused_total, logged once per episode), so an outage of
 * Kafka costs the datagrams past the cap rather than, at the memory limit, every line held. Above
 * half the cap the sink reports not ready, so the Service sends new traffic to other instances until
 * it drains. A record the broker refuses for good (e.g. too large) is dead-lettered with its reason.
 */
export function createRawLogSink({ kafka, producer, log, batchMax, lingerMs, maxBufferedBytes, refused }: RawLogSinkOptions): RawLogSink {
  let pending: OutgoingRecord<RawLog>[] = []
  let pendingBytes = 0
  let inFlight: Promise<void> = Promise.resolve()
  let queued = 0
  let timer: NodeJS.Timeout | null = null

  // What is held for Kafka: lines pending or being sent, and dead letters being sent.
  const highWaterBytes = maxBufferedBytes / 2
  let bufferedBytes = 0
  let aboveHighWater = false
  let refusedThisEpisode = 0
  let setReady: (ready: boolean) => void = () => {}
  // Senders held until there is room again; woken by `release`. UDP keeps the room between the mark and the cap.
  let waiting: Array<() => void> = []
  const isFull = () => bufferedBytes > highWaterBytes || queued >= batchMax * 4

  function hold(bytes: number) {
    bufferedBytes += bytes
    if (!aboveHighWater && bufferedBytes > highWaterBytes) {
      aboveHighWater = true
      log.warn({ bufferedBytes, highWaterBytes, maxBufferedBytes }, 'buffer towards raw-logs is above its high-water mark: not ready until it drains')
      setReady(false)
    }
  }

  function release(bytes: number) {
    bufferedBytes -= bytes
    if (aboveHighWater && bufferedBytes <= highWaterBytes) {
      aboveHighWater = false
      log.info({ bufferedBytes, refused: refusedThisEpisode }, 'buffer towards raw-logs has drained below its high-water mark: ready')
      refusedThisEpisode = 0
      setReady(true)
    }
    if (waiting.length > 0 && !isFull()) {
      const woken = waiting
      waiting = []
      for (const wake of woken) wake()
    }
  }

  /** The one event for a refused input: its count, and a log line at the first of an episode. */
  function recordRefused(input: { transport: ReceivedInput['transport'] }) {
    refused.inc({ transport: input.transport })
    if (refusedThisEpisode++ === 0) {
      log.warn({ transport: input.transport, bufferedBytes, maxBufferedBytes }, 'buffer towards raw-logs is full: refusing input that cannot wait until it drains')
    }
  }

  /**
   * Runs `send` until it succeeds, retrying with backoff, or until the broker refuses its record for
   * good: that PoisonMessageError is thrown, since sending it again gets the same answer.
   */
  async function untilSent(target: string, send: () => Promise<void>, context: Record<string, unknown>) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send()
      } catch (err) {
        if (err instanceof PoisonMessageError) throw err
        const backoffMs = Math.min(100 * 2 ** attempt, MAX_BACKOFF_MS)
        log.error({ err, ...context, attempt, backoffMs }, `could not send to ${target}; retrying`)
        await new Promise((r) => setTimeout(r, backoffMs))
      }
    }
  }

  async function sendBatch(batch: OutgoingRecord<RawLog>[]): Promise<void> {
    try {
      await untilSent('raw-logs', () => producer.send(topics.rawLogs, batch), { lines: batch.length })
    } catch (err) {
      const refusal = err as PoisonMessageError
      // The producer wrote the batch's other records; only alone is the refused one known (see LONE_LINE_BYTES).
      if (batch.length > 1) {
        log.warn({ err, lines: batch.length }, 'raw-logs refused a record of a batch without saying which: sending each line again alone, so the others are written twice')
        for (const record of batch) await sendBatch([record])
        return
      }
      const { line, peer } = batch[0]!.value
      const bytes = Buffer.from(line, 'utf8')
      await deadLetter(peer ?? null, bytes, bytes.length, refusal.code, refusal.message)
    }
  }

  function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer)
      timer = null
    }
    if (pending.length === 0) return inFlight
    const batch = pending
    const batchBytes = pendingBytes
    pending = []
    pendingBytes = 0
    inFlight = inFlight.then(() => sendBatch(batch)).finally(() => {
      queued -= batch.length
      release(batchBytes)
    })
    return inFlight
  }

  async function deadLetter(peer: string | null, bytes: Buffer, length: number, code: string, reason: string) {
    const cost = heldCost(bytes.length)
    hold(cost)
    try {
      await untilSent('raw-logs.dlq', () => kafka.deadLetterInput(topics.rawLogs, { peer, length }, bytes, { code, message: reason }), { peer, code })
    } catch (err) {
      // Only a broker refusing the envelope itself, which DEAD_LETTER_MAX_VALUE_BYTES is there to prevent.
      log.error({ err, peer, code, length }, 'the dead-letter topic refused a dead letter: its input is lost')
    } finally {
      release(cost)
    }
  }

  async function enqueue(input: ReceivedInput) {
    const verdict = handleInput(input)
    if (!verdict.ok) return deadLetter(input.peer, input.bytes, input.bytes.length, verdict.code, verdict.reason)
    const lone = input.bytes.length > LONE_LINE_BYTES
    if (lone) void flush() // ends the batch before it: lines stay in order
    const cost = heldCost(input.bytes.length)
    pending.push({ key: verdict.key, value: verdict.record })
    pendingBytes += cost
    queued += 1
    hold(cost)
    if (lone || pending.length >= batchMax) void flush()
    else timer ??= setTimeout(() => void flush(), lingerMs)
  }

  const reject = (input: RejectedInput) => deadLetter(input.peer, input.preview, input.length, input.code, input.reason)

  return {
    async accept(input) {
      // Held while the buffer is full: what it holds is being sent, so a release comes. The input is
      // taken in the same turn as the look that finds room, so senders woken together take turns and
      // the buffer passes the mark by one input at most, not by one per connection.
      while (isFull()) {
        void flush() // no use lingering for a fuller batch while senders wait
        await new Promise<void>((resolve) => waiting.push(resolve))
      }
      await enqueue(input)
    },
    async offer(input) {
      const rejected = 'code' in input
      if (bufferedBytes + heldCost(rejected ? input.preview.length : input.bytes.length) > maxBufferedBytes) return recordRefused(input)
      return rejected ? reject(input) : enqueue(input)
    },
    reject,
    reportReadiness(report) {
      setReady = report
      setReady(!aboveHighWater)
    },
    flush,
    close: flush,
  }
}
