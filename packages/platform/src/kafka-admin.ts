import { setTimeout as sleep } from 'node:timers/promises'
import type { Admin } from 'kafkajs'

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
 * Each partition's low and high offsets of `topic`, as kafkajs's `fetchTopicOffsets` gives them.
 * kafkajs asks again only when it does not know the topic yet: a broker that answers that it is not
 * the partition's leader, as a broker does for a moment after the topic was created or while a leader
 * moves, failed the call (a dead-letter summary straight after the first dead letters did, in CI).
 * Answers kafkajs marks retriable are asked again here; any other error fails at once.
 */
export async function topicOffsets(admin: Pick<Admin, 'fetchTopicOffsets'>, topic: string, retry: RetryOptions = {}): ReturnType<Admin['fetchTopicOffsets']> {
  const { attempts, firstDelayMs, maxDelayMs } = { ...DEFAULT_RETRY, ...retry }
  for (let attempt = 1, delay = firstDelayMs; ; attempt++, delay = Math.min(delay * 2, maxDelayMs)) {
    try {
      return await admin.fetchTopicOffsets(topic)
    } catch (err) {
      if (attempt >= attempts || !(err as { retriable?: unknown })?.retriable) throw err
      await sleep(delay)
    }
  }
}
