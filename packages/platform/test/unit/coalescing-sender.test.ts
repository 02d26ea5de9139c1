import type { TopicMessages } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { createCoalescingSender } from '../../src/coalescing-sender.ts'

/** A sendBatch whose requests stay open until the test settles them, so sends can pile up behind one. */
function heldRequests() {
  const requests: Array<{ topicMessages: TopicMessages[]; settle: (err?: Error) => void }> = []
  const sendBatch = (topicMessages: TopicMessages[]) => new Promise<void>((resolve, reject) => {
    requests.push({ topicMessages, settle: (err) => (err ? reject(err) : resolve()) })
  })
  return { requests, sendBatch }
}
const msgs = (...values: string[]) => values.map((v) => ({ key: v, value: Buffer.from(v) }))
const valuesOf = (t: TopicMessages) => t.messages.map((m) => String(m.value))
const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('createCoalescingSender', () => {
  it('sends at once when no request is out', async () => {
    const { requests, sendBatch } = heldRequests()
    const send = createCoalescingSender(sendBatch, 1000)
    const sent = send('a', msgs('1'), 1)
    expect(requests).toHaveLength(1)
    requests[0]!.settle()
    await sent
  })

  it('puts what is asked while a request is out into the next request, in order, one entry per topic', async () => {
    const { requests, sendBatch } = heldRequests()
    const send = createCoalescingSender(sendBatch, 1000)
    const first = send('a', msgs('1'), 1)
    const second = send('a', msgs('2', '3'), 2)
    const third = send('b', msgs('x'), 1)
    const fourth = send('a', msgs('4'), 1)
    expect(requests).toHaveLength(1)
    let secondDone = false
    void second.then(() => (secondDone = true))
    requests[0]!.settle()
    await first
    await tick()
    expect(secondDone).toBe(false) // acknowledged only with the request that carried it
    expect(requests).toHaveLength(2)
    expect(requests[1]!.topicMessages.map((t) => [t.topic, valuesOf(t)])).toEqual([['a', ['2', '3', '4']], ['b', ['x']]])
    requests[1]!.settle()
    await Promise.all([second, third, fourth])
  })

  it('keeps a request under the byte limit, but always sends at least one piece', async () => {
    const { requests, sendBatch } = heldRequests()
    const send = createCoalescingSender(sendBatch, 10)
    const all = [send('a', msgs('big'), 50), send('a', msgs('p'), 6), send('a', msgs('q'), 4), send('a', msgs('r'), 1)]
    for (let i = 0; i < 3; i++) {
      await tick()
      requests[i]!.settle()
    }
    await Promise.all(all)
    expect(requests.map((r) => valuesOf(r.topicMessages[0]!))).toEqual([['big'], ['p', 'q'], ['r']])
  })

  it('fails every send of a failed request, and goes on with the next', async () => {
    const { requests, sendBatch } = heldRequests()
    const send = createCoalescingSender(sendBatch, 1000)
    const first = send('a', msgs('1'), 1)
    const second = send('a', msgs('2'), 1)
    const third = send('a', msgs('3'), 1)
    requests[0]!.settle()
    await first
    await tick()
    requests[1]!.settle(new Error('broker down'))
    await expect(second).rejects.toThrow('broker down')
    await expect(third).rejects.toThrow('broker down')
    const later = send('a', msgs('4'), 1)
    expect(requests).toHaveLength(3)
    requests[2]!.settle()
    await later
  })
})
