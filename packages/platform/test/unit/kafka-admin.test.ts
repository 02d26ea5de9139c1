import { KafkaJSProtocolError, type SeekEntry } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { withKafkaRetries } from '../../src/kafka-admin.ts'

/** What kafkajs throws for a broker's error code (its typings declare only the message argument). */
const protocolError = (type: string, code: number, retriable: boolean, message: string) =>
  new KafkaJSProtocolError({ type, code, retriable, message } as unknown as Error)
const notLeader = () => protocolError('NOT_LEADER_FOR_PARTITION', 6, true, 'This server is not the leader for that topic-partition')
const offsets = [{ partition: 0, offset: '3', high: '3', low: '0' }]

/** An admin whose fetchTopicOffsets fails with `failures` in turn, then answers. */
function adminFailing(...failures: Error[]) {
  const calls: string[] = []
  return {
    calls,
    fetchTopicOffsets: async (topic: string): Promise<Array<SeekEntry & { high: string; low: string }>> => {
      calls.push(topic)
      const failure = failures.shift()
      if (failure) throw failure
      return offsets
    },
  }
}

describe('withKafkaRetries', () => {
  it('asks again while the broker answers what kafkajs calls retriable, as for a topic created a moment ago', async () => {
    const admin = adminFailing(notLeader(), notLeader(), notLeader())
    expect(await withKafkaRetries(() => admin.fetchTopicOffsets('raw-logs.dlq'))).toEqual(offsets)
    expect(admin.calls).toEqual(Array(4).fill('raw-logs.dlq'))
  })

  it('fails at once on any other error, and after its attempts at retriable ones', async () => {
    const refused = protocolError('TOPIC_AUTHORIZATION_FAILED', 29, false, 'Not authorized to access topics: [Topic authorization failed]')
    const once = adminFailing(refused)
    await expect(withKafkaRetries(() => once.fetchTopicOffsets('t'))).rejects.toBe(refused)
    expect(once.calls).toHaveLength(1)
    const always = adminFailing(...Array.from({ length: 50 }, notLeader))
    await expect(withKafkaRetries(() => always.fetchTopicOffsets('t'), { attempts: 5, firstDelayMs: 1 })).rejects.toMatchObject({ type: 'NOT_LEADER_FOR_PARTITION' })
    expect(always.calls).toHaveLength(5)
  })
})
