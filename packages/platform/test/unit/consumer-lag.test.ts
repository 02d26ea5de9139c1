import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { waitFor } from '@vigil/testkit'
import { createConsumerLagReporter, lagOf, type ConsumedTopic, type LagAdmin } from '../../src/consumer-lag.ts'
import { createMetrics } from '../../src/metrics.ts'

const featurizer: ConsumedTopic = { group: 'featurizer', groupId: 'p-featurizer', topic: 'raw-logs', kafkaTopic: 'p-raw-logs', fromBeginning: true }

/** An admin client over fixed offsets; `failWith` makes every request fail. */
function fakeAdmin(ends: Record<number, [low: number, high: number]>, committed: Record<number, number>) {
  const state = { failWith: null as Error | null, connects: 0, disconnects: 0, requests: 0 }
  const guard = () => {
    state.requests++
    if (state.failWith) throw state.failWith
  }
  const admin: LagAdmin = {
    connect: async () => void state.connects++,
    disconnect: async () => void state.disconnects++,
    fetchTopicOffsets: async () => {
      guard()
      return Object.entries(ends).map(([p, [low, high]]) => ({ partition: Number(p), offset: String(high), high: String(high), low: String(low) }))
    },
    fetchOffsets: async ({ topics }) => {
      guard()
      return topics!.map((topic) => ({ topic, partitions: Object.keys(ends).map((p) => ({ partition: Number(p), offset: String(committed[Number(p)] ?? -1), metadata: null })) }))
    },
  }
  return { admin, state }
}

function capture() {
  const lines: Array<{ level: number; msg: string }> = []
  return { log: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }), lines }
}

const exported = async (metrics: ReturnType<typeof createMetrics>) =>
  Object.fromEntries((await metrics.consumerLag.get()).values.map((v) => [`${v.labels.group}/${v.labels.topic}/${v.labels.partition}`, v.value]))

describe('consumer lag', () => {
  it('counts as kafka-consumer-groups does: end minus committed; without a commit, from where the group starts', () => {
    expect(lagOf({ low: '10', high: '500' }, '420', true)).toBe(80)
    expect(lagOf({ low: '10', high: '500' }, '-1', true)).toBe(490)
    expect(lagOf({ low: '10', high: '500' }, '-1', false)).toBe(0)
    expect(lagOf({ low: '0', high: '500' }, '500', true)).toBe(0)
  })

  it('reports the partitions assigned to this instance and drops the ones a rebalance takes away', async () => {
    const metrics = createMetrics('featurizer')
    const { admin } = fakeAdmin({ 0: [0, 100], 1: [0, 200], 2: [50, 300] }, { 0: 40, 1: 200 })
    const lag = createConsumerLagReporter(() => admin, metrics, capture().log, 10)
    const assign = lag.track(featurizer)
    assign([0, 1, 2])
    await waitFor('three partitions', async () => Object.keys(await exported(metrics)).length === 3)
    expect(await exported(metrics)).toEqual({ 'featurizer/raw-logs/0': 60, 'featurizer/raw-logs/1': 0, 'featurizer/raw-logs/2': 250 })
    assign([1])
    expect(await exported(metrics)).toEqual({ 'featurizer/raw-logs/1': 0 })
    assign([])
    expect(await exported(metrics)).toEqual({})
    await lag.close()
  })

  it('logs a failure to read once per distinct error, keeps going, and says when it reads again', async () => {
    const metrics = createMetrics('featurizer')
    const { admin, state } = fakeAdmin({ 0: [0, 100] }, { 0: 10 })
    const { log, lines } = capture()
    const lag = createConsumerLagReporter(() => admin, metrics, log, 5)
    state.failWith = Object.assign(new Error('Connection error: connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    lag.track(featurizer)([0])
    await waitFor('ten failed refreshes', () => state.requests >= 10)
    state.failWith = new Error('The coordinator is not available')
    const before = state.requests
    await waitFor('ten more', () => state.requests >= before + 10)
    state.failWith = null
    await waitFor('a lag of 90', async () => (await exported(metrics))['featurizer/raw-logs/0'] === 90)
    expect(lines.map((l) => l.msg)).toEqual([
      expect.stringMatching(/^could not read consumer lag/),
      expect.stringMatching(/^could not read consumer lag/),
      'reading consumer lag from the broker again',
    ])
    await lag.close()
  })

  it('stops reading and disconnects its admin client on close', async () => {
    const { admin, state } = fakeAdmin({ 0: [0, 100] }, {})
    const lag = createConsumerLagReporter(() => admin, createMetrics('featurizer'), capture().log, 5)
    lag.track(featurizer)([0])
    await waitFor('a refresh', () => state.requests > 0)
    await lag.close()
    await lag.close()
    expect(state.disconnects).toBe(1)
    const after = state.requests
    await new Promise((r) => setTimeout(r, 50)) // ten periods: none may run
    expect(state.requests).toBe(after)
  })

  it('connects nothing until a consumer holds a partition', async () => {
    let created = 0
    const lag = createConsumerLagReporter(() => (created++, fakeAdmin({}, {}).admin), createMetrics('dlq'), capture().log, 5)
    lag.track(featurizer)([])
    await new Promise((r) => setTimeout(r, 30))
    expect(created).toBe(0)
    await lag.close()
  })
})
