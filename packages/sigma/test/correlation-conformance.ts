// One suite, run against every CorrelationState: the in-memory one (unit) and Redis (integration).
import { expect, it } from 'vitest'
import type { Score } from '@vigil/schemas'
import { createCorrelator, MAX_FIRING_MEMBERS, type CorrelationMatch, type CorrelationState } from '../src/correlation.ts'
import { createSigmaEngine } from '../src/engine.ts'
import { sourceOf } from '../src/field-mapping.ts'
import { compileRuleSet, loadRuleSet } from '../src/load-rules.ts'
import { sigmaEventOfScore, type SigmaEvent } from '../src/sigma-event.ts'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const RULES = `
title: SSH failure
id: fail
name: ssh_fail
logsource: {product: linux, service: sshd}
detection:
  keywords: ['Failed password']
  condition: keywords
---
title: SSH success
id: ok
name: ssh_ok
logsource: {product: linux, service: sshd}
detection:
  keywords: ['Accepted password']
  condition: keywords
---
title: Many failures
id: count
correlation: {type: event_count, rules: [ssh_fail], group-by: [source.ip], timespan: 1m, condition: {gte: 3}}
---
title: Many users
id: users
correlation: {type: value_count, rules: [fail], group-by: [source.ip], timespan: 1m, condition: {gte: 3, field: user}}
---
title: Failure and success
id: both
correlation: {type: temporal, rules: [ssh_fail, ssh_ok], group-by: [source.ip], timespan: 1m}
---
title: Failure then success
id: ordered
correlation: {type: temporal_ordered, rules: [ssh_ok, ssh_fail], group-by: [source.ip], timespan: 1m}
`

let seq = 0
function sshd(line: string, t: number, ip: string, user = 'alice', eventId = `ev${seq++}`): SigmaEvent {
  return {
    eventId, family: 'sshd', eventTime: t,
    event: {
      timestamp: t, message: line, process: { name: 'sshd' }, source: { ip }, user: { name: user },
      event: { kind: 'event', category: ['authentication'], type: ['info'], action: 'ssh', outcome: 'unknown', module: 'sshd', original: line },
    },
  }
}
const fail = (t: number, ip: string, user?: string, id?: string) => sshd(`Failed password for ${user ?? 'alice'} from ${ip}`, t, ip, user, id)
const ok = (t: number, ip: string) => sshd(`Accepted password for alice from ${ip}`, t, ip)

/** Registers the conformance tests; `makeState` gives each test a fresh, isolated state. */
export function correlationStateConformance(makeState: () => Promise<CorrelationState>): void {
  const setup = async (yaml = RULES) => {
    const set = compileRuleSet([{ file: 'rules.yml', text: yaml }])
    expect(set.skipped).toEqual([])
    const engine = createSigmaEngine(set)
    const state = await makeState()
    const correlator = createCorrelator(set.correlations, state)
    const feed = async (events: SigmaEvent[], only?: string): Promise<CorrelationMatch[]> => {
      const out: CorrelationMatch[] = []
      for (const e of events) out.push(...await correlator.observe(e, sourceOf(e), engine.match(e), () => `quote of ${e.eventId}`))
      return only ? out.filter((m) => m.rule.id === only) : out
    }
    return { feed, state, set, engine }
  }

  it('event_count fires on the event that brings the window to the threshold, per group, then starts over', async () => {
    const { feed, state } = await setup()
    const fired = await feed([fail(0, '1.1.1.1'), fail(1_000, '2.2.2.2'), fail(10_000, '1.1.1.1'), fail(20_000, '1.1.1.1')], 'count')
    expect(fired).toHaveLength(1)
    expect(fired[0]).toMatchObject({ groupBy: { 'source.ip': '1.1.1.1' }, count: 3, correlated: [{ id: 'fail' }] })
    expect(fired[0]!.members).toHaveLength(3)
    expect(await feed([fail(21_000, '1.1.1.1'), fail(22_000, '1.1.1.1')], 'count')).toHaveLength(0)
    expect(await feed([fail(23_000, '1.1.1.1')], 'count')).toHaveLength(1)
    await state.close()
  })

  it('takes a batch handed over without awaiting each event in the order of the calls (the alerter\'s correlation feed), through the correlator', async () => {
    const { state, set, engine } = await setup()
    const correlator = createCorrelator(set.correlations, state)
    // Eleven events with one time: only the order of the calls tells which three fire together.
    const events = Array.from({ length: 11 }, (_, i) => fail(50_000, '4.4.4.4', `user${i % 4}`, `batch${i}`))
    const results = await Promise.all(events.map((e) => correlator.observe(e, sourceOf(e), engine.match(e))))
    const firedAt = (rule: string) => results.flatMap((r, i) => (r.some((m) => m.rule.id === rule) ? [i] : []))
    expect(firedAt('count')).toEqual([2, 5, 8])
    expect(results[2]!.find((m) => m.rule.id === 'count')!.members.sort()).toEqual(['batch0', 'batch1', 'batch2'])
    expect(results[5]!.find((m) => m.rule.id === 'count')!.members.sort()).toEqual(['batch3', 'batch4', 'batch5'])
    // value_count (three users): user0, user1, user2 by the third call; then user3, user0, user1.
    expect(firedAt('users')).toEqual([2, 5, 8])
    await state.close()
  })

  it('event_count forgets events older than the timespan, and counts a redelivered event once', async () => {
    const { feed, state } = await setup()
    expect(await feed([fail(0, '3.3.3.3'), fail(30_000, '3.3.3.3'), fail(91_000, '3.3.3.3')], 'count')).toHaveLength(0)
    expect(await feed([fail(92_000, '3.3.3.3', 'alice', 'same'), fail(92_000, '3.3.3.3', 'alice', 'same')], 'count')).toHaveLength(0)
    expect(await feed([fail(93_000, '3.3.3.3')], 'count')).toHaveLength(1)
    await state.close()
  })

  it('gives an event observed again what it got the first time: the same firing if it completed one, else nothing, and counts it once', async () => {
    const { feed, state } = await setup()
    const events = [fail(0, '3.3.4.4', 'a', 'r1'), fail(1_000, '3.3.4.4', 'a', 'r2'), fail(2_000, '3.3.4.4', 'a', 'r3')]
    const first = await feed(events, 'count')
    expect(first.map((m) => m.eventId)).toEqual(['r3'])
    // a redelivery of the whole batch: the firing again (its alert is raised once), nothing new; not its quotes
    expect(await feed(events, 'count')).toEqual(first.map((f) => ({ ...f, quotes: f.quotes.map(() => null) })))
    // the window was cleared by the firing, and the redelivered events did not refill it
    expect(await feed([fail(3_000, '3.3.4.4'), fail(4_000, '3.3.4.4')], 'count')).toEqual([])
    expect(await feed([fail(5_000, '3.3.4.4')], 'count')).toHaveLength(1)
    await state.close()
  })

  it('returns each member with the quote its event gave, from earlier calls too; a firing given again comes without them', async () => {
    const { feed, state } = await setup()
    const events = [fail(0, '3.5.5.5', 'a', 'q1'), fail(1_000, '3.5.5.5', 'a', 'q2'), fail(2_000, '3.5.5.5', 'a', 'q3')]
    expect(await feed(events.slice(0, 2), 'count')).toEqual([])
    const [fired] = await feed(events.slice(2), 'count')
    expect(fired!.members).toEqual(['q1', 'q2', 'q3'])
    expect(fired!.quotes).toEqual(['quote of q1', 'quote of q2', 'quote of q3'])
    const [again] = await feed(events.slice(2), 'count')
    expect(again).toMatchObject({ members: ['q1', 'q2', 'q3'], quotes: [null, null, null] })
    // The firing cleared the quotes with the window: the next firing quotes only its own events.
    const [next] = await feed([fail(3_000, '3.5.5.5', 'a', 'q4'), fail(4_000, '3.5.5.5', 'a', 'q5'), fail(5_000, '3.5.5.5', 'a', 'q6')], 'count')
    expect(next!.quotes).toEqual(['quote of q4', 'quote of q5', 'quote of q6'])
    await state.close()
  })

  it('quotes a value by its latest event, a temporal step by the event that came to it last, and each event of an ordered chain', async () => {
    const { feed, state } = await setup()
    const [users] = await feed([fail(0, '3.6.6.6', 'a', 'v1'), fail(1_000, '3.6.6.6', 'b', 'v2'), fail(2_000, '3.6.6.6', 'a', 'v3'), fail(3_000, '3.6.6.6', 'c', 'v4')], 'users')
    expect(users!.members).toEqual(['b', 'a', 'c'])
    expect(users!.quotes).toEqual(['quote of v2', 'quote of v3', 'quote of v4'])
    const [both] = await feed([fail(0, '3.7.7.7', 'a', 't1'), fail(1_000, '3.7.7.7', 'a', 't2'), ok(2_000, '3.7.7.7')], 'both')
    expect(both!.members[0]).toBe('t2')
    expect(both!.quotes[0]).toBe('quote of t2')
    expect(both!.quotes[1]).toBe(`quote of ${both!.members[1]}`)
    const [ordered] = await feed([fail(5_000, '3.8.8.8', 'a', 'o2'), ok(1_000, '3.8.8.8')], 'ordered')
    expect(ordered!.members[1]).toBe('o2')
    expect(ordered!.quotes).toEqual(ordered!.members.map((id) => `quote of ${id}`))
    await state.close()
  })

  it('keeps quotes for as many members as a firing returns, the first to come', async () => {
    const state = await makeState()
    const n = MAX_FIRING_MEMBERS + 50
    // arriving newest first: the firing names the oldest members, the last 100 to come
    const observe = (i: number) => state.observe({
      correlationId: 'big', type: 'event_count', groupKey: 'g', steps: [0], stepCount: 1, eventId: `b${i}`,
      time: 1_000 + n - i, timespanMs: 60_000, condition: { gte: n }, value: null, quote: `quote of b${i}`,
    })
    for (let i = 0; i < n - 1; i++) expect(await observe(i)).toBeNull()
    const fired = await observe(n - 1)
    expect(fired!.count).toBe(n)
    expect(fired!.members).toEqual(Array.from({ length: MAX_FIRING_MEMBERS }, (_, k) => `b${n - 1 - k}`))
    // of those, only the ones among the first 100 to come have their quotes
    expect(fired!.quotes).toEqual(fired!.members.map((id) => (Number(id.slice(1)) < MAX_FIRING_MEMBERS ? `quote of ${id}` : null)))
    await state.close()
  })

  it('forgets a member\'s quote when the member leaves the window', async () => {
    const { feed, state } = await setup()
    expect(await feed([fail(0, '3.9.9.9', 'a', 'old'), fail(30_000, '3.9.9.9', 'a', 'w1')], 'count')).toEqual([])
    // 'old' falls out of the window; a later event with the same id is a new member with its own quote
    const [fired] = await feed([fail(70_000, '3.9.9.9', 'a', 'w2'), fail(80_000, '3.9.9.9', 'a', 'w3')], 'count')
    expect(fired).toMatchObject({ members: ['w1', 'w2', 'w3'], quotes: ['quote of w1', 'quote of w2', 'quote of w3'] })
    await state.close()
  })

  it('value_count fires again for a later wave of new events with the same values', async () => {
    const { feed, state } = await setup()
    const wave = (t: number) => ['a', 'b', 'c'].map((user, i) => fail(t + i, '4.4.5.5', user))
    expect(await feed(wave(0), 'users')).toHaveLength(1)
    expect(await feed(wave(80_000), 'users')).toHaveLength(1)
    await state.close()
  })

  it('value_count counts distinct values of the field', async () => {
    const { feed, state } = await setup()
    expect(await feed([fail(0, '4.4.4.4', 'a'), fail(1, '4.4.4.4', 'a'), fail(2, '4.4.4.4', 'b')], 'users')).toHaveLength(0)
    const fired = await feed([fail(3, '4.4.4.4', 'c')], 'users')
    expect(fired).toHaveLength(1)
    expect(fired[0]!.members.sort()).toEqual(['a', 'b', 'c'])
    await state.close()
  })

  it('temporal fires when every rule matched in the window, in any order', async () => {
    const { feed, state } = await setup()
    expect(await feed([ok(0, '5.5.5.5'), fail(1_000, '6.6.6.6')], 'both')).toHaveLength(0)
    expect(await feed([fail(2_000, '5.5.5.5')], 'both')).toHaveLength(1)
    expect(await feed([ok(0, '7.7.7.7'), fail(90_000, '7.7.7.7')], 'both')).toHaveLength(0)
    await state.close()
  })

  it('temporal_ordered needs the listed order within one timespan', async () => {
    const { feed, state } = await setup()
    expect(await feed([fail(0, '8.8.8.8'), ok(1_000, '8.8.8.8')], 'ordered')).toHaveLength(0)
    const fired = await feed([fail(2_000, '8.8.8.8')], 'ordered')
    expect(fired).toHaveLength(1)
    expect(fired[0]!.correlated.map((a) => a.id)).toEqual(['ok', 'fail'])
    expect(await feed([ok(100_000, '9.9.9.9'), fail(170_000, '9.9.9.9')], 'ordered')).toHaveLength(0)
    await state.close()
  })

  it('temporal_ordered goes by event time, not arrival: a later step that arrived first completes the chain when the earlier one comes', async () => {
    const { feed, state } = await setup()
    expect(await feed([fail(5_000, '8.8.9.9')], 'ordered')).toHaveLength(0)
    const fired = await feed([ok(1_000, '8.8.9.9')], 'ordered')
    expect(fired).toHaveLength(1)
    expect(fired[0]!.members).toHaveLength(2)
    // arriving in order but a timespan apart, or out of order in event time, they are not a chain
    expect(await feed([fail(70_000, '8.8.9.8'), ok(5_000, '8.8.9.8')], 'ordered')).toHaveLength(0)
    expect(await feed([ok(10_000, '8.8.9.7'), fail(5_000, '8.8.9.7')], 'ordered')).toHaveLength(0)
    await state.close()
  })

  it('orders an ML anomaly before a login of the same source (the shipped rule)', async () => {
    const set = loadRuleSet([join(dirname(fileURLToPath(import.meta.url)), '..', 'rules', 'vigil')])
    expect(set.skipped).toEqual([])
    const engine = createSigmaEngine(set)
    const state = await makeState()
    const correlator = createCorrelator(set.correlations, state)
    const score = (t: number, value: number): SigmaEvent => sigmaEventOfScore({
      eventId: `s${seq++}`, entity: { kind: 'source.ip', id: '10.9.8.7' }, eventTime: t, receivedAt: t, scoredAt: t, family: 'sshd',
      action: 'ssh_login_failed', score: value, rawScore: 0.7, modelVersion: 'v1', features: { auth_failures: 12 },
      evidence: { topic: 'raw-logs', partition: 0, offset: '1', line: 'Failed password for root from 10.9.8.7' },
    } satisfies Score)
    const run = async (events: SigmaEvent[]) => {
      const out: CorrelationMatch[] = []
      for (const e of events) {
        const matches = engine.match(e)
        // The rules feeding the correlation raise no alert of their own (generate: false).
        expect(matches.every((m) => !m.alert)).toBe(true)
        out.push(...await correlator.observe(e, sourceOf(e), matches))
      }
      return out
    }
    expect(await run([score(0, 0.5), ok(1_000, '10.9.8.7')])).toHaveLength(0)
    const fired = await run([score(2_000, 0.99), ok(3_000, '10.9.8.7')])
    expect(fired).toHaveLength(1)
    expect(fired[0]).toMatchObject({ type: 'temporal_ordered', groupBy: { 'source.ip': '10.9.8.7' }, rule: { author: 'Vigil', level: 'high' } })
    await state.close()
  })
}
