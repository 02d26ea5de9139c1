import { topics, type RawLog } from '@vigil/schemas'
import type { KafkaRuntime, Logger, Metrics, OutgoingRecord, TypedProducer } from '@vigil/platform'
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
  /** Takes one input. The promise settles when there is room for more: listeners await it to apply backpressure. */
  accept(input: ReceivedInput): Promise<void>
  /**
   * Takes one input from a sender that cannot be held back (UDP: it neither waits nor sends again)
   * while the buffer has room for it; past `maxBufferedBytes` the input is refused, counted and logged.
   * Never waits for room; the promise settles once the input is queued, or dead-lettered.
   */
  offer(input: ReceivedInput): Promise<void>
  /** Dead-letters input the framing already rejected (e.g. a line over the size limit). */
  reject(input: RejectedInput): Promise<void>
  /** Calls `setReady` now and whenever the buffer crosses its high-water mark: not ready above it. */
  reportReadiness(setReady: (ready: boolean) => void): void
  /** Sends everything accepted so far. */
  flush(): Promise<void>
  close(): Promise<void>
}

export interface RawLogSinkOptions {
  kafka: KafkaRuntime
  producer: TypedProducer
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
 * Batches accepted lines into raw-logs and dead-letters the rest. A failed send is retried until it
 * succeeds; while it retries, `accept` stops resolving and TCP senders wait. UDP senders cannot wait:
 * what they send is buffered up to `maxBufferedBytes` and refused past it (counted in
 * app_input_refused_total, logged once per episode), so an outage of Kafka costs the datagrams
 * past the cap rather than, at the memory limit, every line held. Above half the cap the sink
 * reports not ready, so the Service sends new traffic to other instances until it drains.
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
  }

  /** The one event for a refused input: its count, and a log line at the first of an episode. */
  function recordRefused(input: ReceivedInput) {
    refused.inc({ transport: input.transport })
    if (refusedThisEpisode++ === 0) {
      log.warn({ transport: input.transport, bufferedBytes, maxBufferedBytes }, 'buffer towards raw-logs is full: refusing input that cannot wait until it drains')
    }
  }

  async function sendUntilDone(batch: OutgoingRecord<RawLog>[]) {
    for (let attempt = 1; ; attempt++) {
      try {
        await producer.send(topics.rawLogs, batch)
        return
      } catch (err) {
        const backoff = Math.min(100 * 2 ** attempt, MAX_BACKOFF_MS)
        log.error({ err, lines: batch.length, attempt, backoffMs: backoff }, 'could not send to raw-logs; retrying')
        await new Promise((r) => setTimeout(r, backoff))
      }
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
    inFlight = inFlight.then(() => sendUntilDone(batch)).finally(() => {
      queued -= batch.length
      release(batchBytes)
    })
    return inFlight
  }

  async function deadLetter(peer: string, bytes: Buffer, length: number, code: string, reason: string) {
    const cost = heldCost(bytes.length)
    hold(cost)
    try {
      await kafka.deadLetterInput(topics.rawLogs, { peer, length }, bytes, { code, message: reason })
    } finally {
      release(cost)
    }
  }

  async function enqueue(input: ReceivedInput, { wait }: { wait: boolean }) {
    const verdict = handleInput(input)
    if (!verdict.ok) return deadLetter(input.peer, input.bytes, input.bytes.length, verdict.code, verdict.reason)
    const cost = heldCost(input.bytes.length)
    pending.push({ key: verdict.key, value: verdict.record })
    pendingBytes += cost
    queued += 1
    hold(cost)
    if (pending.length >= batchMax) {
      const flushed = flush()
      // Backpressure: hold a sender that can wait while several batches are already waiting.
      if (wait && queued >= batchMax * 4) await flushed
    } else {
      timer ??= setTimeout(() => void flush(), lingerMs)
    }
  }

  return {
    accept: (input) => enqueue(input, { wait: true }),
    async offer(input) {
      if (bufferedBytes + heldCost(input.bytes.length) > maxBufferedBytes) return recordRefused(input)
      return enqueue(input, { wait: false })
    },
    reject: (input) => deadLetter(input.peer, input.preview, input.length, input.code, input.reason),
    reportReadiness(report) {
      setReady = report
      setReady(!aboveHighWater)
    },
    flush,
    close: flush,
  }
}
