import { setTimeout as sleep } from 'node:timers/promises'

export interface RetryOptions {
  /** calls in all, the first included */
  attempts?: number
  /** the wait before the second call; it doubles up to `maxDelayMs` */
  firstDelayMs?: number
  maxDelayMs?: number
}

/** By default about 8 s of asking: a new topic's leader is known in well under a second on one broker. */
const DEFAULT_RETRY: Required<RetryOptions> = { attempts: 12, firstDelayMs: 100, maxDelayMs: 1000 }

/**
 * Calls `call` (a kafkajs admin request) until it answers, while it fails with an error kafkajs marks
 * retriable; any other error fails at once. kafkajs's admin asks again by itself only in some
 * cases: `fetchTopicOffsets` only when it does not know the topic yet, `fetchOffsets` never. A broker
 * answers that it is not a partition's leader for a moment after the topic was created (a
 * dead-letter summary straight after the first dead letters failed so, in CI), and a coordinator
 * that its offsets are still loading after a restart. It does not follow a leader that moved to
 * another broker: kafkajs asks the one its metadata names until it refreshes that (metadataMaxAge).
 */
export async function withKafkaRetries<T>(call: () => Promise<T>, retry: RetryOptions = {}): Promise<T> {
  const { attempts, firstDelayMs, maxDelayMs } = { ...DEFAULT_RETRY, ...retry }
  for (let attempt = 1, delay = firstDelayMs; ; attempt++, delay = Math.min(delay * 2, maxDelayMs)) {
    try {
      return await call()
    } catch (err) {
      if (attempt >= attempts || !(err as { retriable?: unknown })?.retriable) throw err
      await sleep(delay)
    }
  }
}
