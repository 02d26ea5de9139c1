import { KafkaJSConnectionError, KafkaJSGroupCoordinatorNotFound, KafkaJSNonRetriableError, KafkaJSProtocolError, type SeekEntry } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { withKafkaRetries } from '../../src/kafka-admin.ts'
import { lostTheBroker, startAgainWhenBrokerAnswers } from '../../src/kafka.ts'
import { createLogger } from '../../src/logger.ts'

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

describe('a consumer crash that only says the broker was away', () => {
  it('is kafkajs\'s failed coordinator lookup or an unreachable broker, wrapped as kafkajs wraps them, and nothing else', () => {
    // kafkajs's retrier gives up as `new KafkaJSNonRetriableError(e, { cause: e.cause || e })` (src/retry/index.js)
    const gaveUp = (e: Error) => new (KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error)(e, { cause: e })
    const lookup = new (KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error)('Failed to find group coordinator')
    expect(lostTheBroker(gaveUp(lookup))).toBe(true)
    const refused = Object.assign(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { code: 'ECONNREFUSED' })
    expect(lostTheBroker(gaveUp(refused))).toBe(true)
    expect(lostTheBroker(gaveUp(new Error('SASL authentication failed')))).toBe(false)
    expect(lostTheBroker(gaveUp(new KafkaJSConnectionError('Connection error: self-signed certificate')))).toBe(false)
    expect(lostTheBroker(new Error('handler blew up'))).toBe(false)
  })
})

describe('a consumer started again after it lost the broker', () => {
  const log = createLogger('test', 'silent', 'test')
  const refused = () => Object.assign(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { code: 'ECONNREFUSED' })
  function fakeConsumer(failures: number, onConnect: () => void = () => {}) {
    const calls: string[] = []
    return {
      calls,
      consumer: {
        async connect() {
          calls.push('connect')
          onConnect()
          if (failures-- > 0) throw refused()
        },
        async disconnect() { calls.push('disconnect') },
        async run(config?: object) { calls.push(`run ${config === runConfig}`) },
      },
    }
  }
  const runConfig = { eachBatch: async () => {} }

  it('connects once the broker answers and runs with the config it had', async () => {
    const { consumer, calls } = fakeConsumer(2)
    expect(await startAgainWhenBrokerAnswers(consumer, runConfig, { closed: () => false, log, timeoutMs: 5_000, retryMs: 10 })).toBe(true)
    expect(calls).toEqual(['connect', 'connect', 'connect', 'run true'])
  })

  it('does not run a consumer closed meanwhile (the service is stopping), and gives up when the broker stays away', async () => {
    let closed = false
    const stopping = fakeConsumer(1, () => (closed = true))
    expect(await startAgainWhenBrokerAnswers(stopping.consumer, runConfig, { closed: () => closed, log, timeoutMs: 5_000, retryMs: 10 })).toBe(false)
    expect(stopping.calls).toEqual(['connect', 'disconnect'])
    const away = fakeConsumer(Number.POSITIVE_INFINITY)
    await expect(startAgainWhenBrokerAnswers(away.consumer, runConfig, { closed: () => false, log, timeoutMs: 50, retryMs: 10 })).rejects.toThrow(/the broker/)
    expect(away.calls.every((c) => c === 'connect')).toBe(true)
  })
})
