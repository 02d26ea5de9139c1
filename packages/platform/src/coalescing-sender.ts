import type { Message, TopicMessages } from 'kafkajs'

/**
 * Where a request that starts at `items[start]` ends (exclusive), and its bytes: as many items as
 * fit in `maxBytes`, and always at least one, since a record larger than the limit still has to go.
 */
export function fillRequest<T>(items: readonly T[], start: number, bytesOf: (item: T) => number, maxBytes: number): { end: number; bytes: number } {
  let end = start
  let bytes = 0
  while (end < items.length && (end === start || bytes + bytesOf(items[end]!) <= maxBytes)) bytes += bytesOf(items[end++]!)
  return { end, bytes }
}

/** Sends one piece of a batch; resolves when the request that carried it is acknowledged. */
export type CoalescedSend = (topic: string, messages: Message[], bytes: number) => Promise<void>

/**
 * One produce request at a time, as the producer's `maxInFlightRequests: 1` has it, and what
 * handlers ask to send while a request is out goes together in the next one (up to
 * `maxRequestBytes`), in the order asked. A service that processes several partitions at once
 * (CONSUMER_CONCURRENCY) would otherwise queue one request per partition batch, each writing a few
 * records to every output partition: keyed by entity, a batch spreads over all of them, and the
 * broker's cost goes with the number of partition batches more than with the records.
 * Nothing waits for company: a send while no request is out goes at once.
 */
export function createCoalescingSender(sendBatch: (topicMessages: TopicMessages[]) => Promise<void>, maxRequestBytes: number): CoalescedSend {
  interface Waiting { topic: string; messages: Message[]; bytes: number; resolve: () => void; reject: (err: unknown) => void }
  const waiting: Waiting[] = []
  let sending = false

  async function drain(): Promise<void> {
    sending = true
    while (waiting.length > 0) {
      const taken = waiting.splice(0, fillRequest(waiting, 0, (w) => w.bytes, maxRequestBytes).end)
      const byTopic = new Map<string, Message[]>()
      for (const { topic, messages } of taken) {
        const list = byTopic.get(topic)
        if (!list) byTopic.set(topic, [...messages])
        else for (const m of messages) list.push(m)
      }
      try {
        await sendBatch([...byTopic].map(([topic, messages]) => ({ topic, messages })))
        for (const w of taken) w.resolve()
      } catch (err) {
        for (const w of taken) w.reject(err)
      }
    }
    sending = false
  }

  return (topic, messages, bytes) => new Promise<void>((resolve, reject) => {
    waiting.push({ topic, messages, bytes, resolve, reject })
    if (!sending) void drain()
  })
}
