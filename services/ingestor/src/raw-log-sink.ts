import { topics, type RawLog } from '@vigil/schemas'
import type { KafkaRuntime, Logger, OutgoingRecord, TypedProducer } from '@vigil/platform'
import { handleInput, type ReceivedInput } from './handle-input.ts'

export interface RejectedInput {
  code: string
  reason: string
  /** the first bytes of the input */
  preview: Buffer
  length: number
  transport: ReceivedInput['transport']
  peer: string
}

export interface RawLogSink {
  /** Takes one input. The promise settles when there is room for more: listeners await it to apply backpressure. */
  accept(input: ReceivedInput): Promise<void>
  /** Dead-letters input the framing already rejected (e.g. a line over the size limit). */
  reject(input: RejectedInput): Promise<void>
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
}

const MAX_BACKOFF_MS = 5_000

/**
 * Batches accepted lines into raw-logs and dead-letters the rest. A failed send is retried until it
 * succeeds (lines are never dropped); while it retries, `accept` stops resolving and TCP senders wait.
 */
export function createRawLogSink({ kafka, producer, log, batchMax, lingerMs }: RawLogSinkOptions): RawLogSink {
  let pending: OutgoingRecord<RawLog>[] = []
  let inFlight: Promise<void> = Promise.resolve()
  let queued = 0
  let timer: NodeJS.Timeout | null = null

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
    pending = []
    inFlight = inFlight.then(() => sendUntilDone(batch)).finally(() => {
      queued -= batch.length
    })
    return inFlight
  }

  async function deadLetter(peer: string, bytes: Buffer, length: number, code: string, reason: string) {
    await kafka.deadLetterInput(topics.rawLogs, { peer, length }, bytes, { code, message: reason })
  }

  return {
    async accept(input) {
      const verdict = handleInput(input)
      if (!verdict.ok) return deadLetter(input.peer, input.bytes, input.bytes.length, verdict.code, verdict.reason)
      pending.push({ key: verdict.key, value: verdict.record })
      queued += 1
      if (pending.length >= batchMax) {
        const flushed = flush()
        // Backpressure: hold the sender while several batches are already waiting.
        if (queued >= batchMax * 4) await flushed
      } else {
        timer ??= setTimeout(() => void flush(), lingerMs)
      }
    },
    reject: (input) => deadLetter(input.peer, input.preview, input.length, input.code, input.reason),
    flush,
    close: flush,
  }
}
