import { describe, expect, it } from 'vitest'
import { createCorrelator, createMemoryCorrelationState, meets, type CorrelationState, type Observation } from '../../src/correlation.ts'
import { sourceOf } from '../../src/field-mapping.ts'
import { createSigmaEngine } from '../../src/engine.ts'
import { compileRuleSet } from '../../src/load-rules.ts'
import { sshdEvent } from './helpers.ts'
import { correlationStateConformance } from '../correlation-conformance.ts'

describe('correlation semantics (in-memory state)', () => {
  correlationStateConformance(async () => createMemoryCorrelationState())
})

describe('a batch of observations handed over without awaiting each', () => {
  const RULES = 'title: f\nid: f\nname: f\nlogsource: {product: linux, service: sshd}\ndetection:\n  k: [\'Failed password\']\n  condition: k\n---\n'
    + 'title: c\nid: c\ncorrelation: {type: event_count, rules: [f], group-by: [source.ip], timespan: 5m, condition: {gte: 3}}\n'
  const set = compileRuleSet([{ file: 'r.yml', text: RULES }])
  const engine = createSigmaEngine(set)
  const failure = (i: number, ip: string) => ({ ...sshdEvent(`sshd[1]: Failed password for root from ${ip}`, 1_000 + i, ip), eventId: `e${i}-${ip}` })
  /** A state whose answers settle in another order than the calls (a Redis command run again after a reconnect, behind later ones), and may fail. */
  function unruly(failing: Set<string> = new Set()): CorrelationState & { applied: string[] } {
    const inner = createMemoryCorrelationState()
    const applied: string[] = []
    let n = 0
    return {
      applied,
      observe: (o: Observation) => new Promise((resolve, reject) => setTimeout(() => {
        if (failing.delete(o.eventId)) return reject(new Error('redis: connection lost'))
        applied.push(o.eventId)
        resolve(inner.observe(o))
      }, (n++ % 3) * 3)),
      close: async () => {},
    }
  }
  const feed = (correlator: ReturnType<typeof createCorrelator>, events: ReturnType<typeof failure>[]) =>
    Promise.allSettled(events.map((e) => correlator.observe(e, sourceOf(e), engine.match(e))))

  it('gives a group\'s observations to the state in the order of the calls, whatever order it settles them in', async () => {
    const state = unruly()
    const events = Array.from({ length: 6 }, (_, i) => failure(i, '10.0.0.1'))
    const results = await feed(createCorrelator(set.correlations, state), events)
    expect(state.applied).toEqual(events.map((e) => e.eventId))
    const fired = results.map((r) => (r.status === 'fulfilled' ? r.value.map((m) => [...m.members].sort().join(' ')) : 'failed'))
    expect(fired).toEqual([[], [], ['e0-10.0.0.1 e1-10.0.0.1 e2-10.0.0.1'], [], [], ['e3-10.0.0.1 e4-10.0.0.1 e5-10.0.0.1']])
  })

  it('gives a group nothing after an observation that failed, other groups all theirs, and the retried batch each once, in order', async () => {
    const state = unruly(new Set(['e1-10.0.0.1']))
    const correlator = createCorrelator(set.correlations, state)
    const events = Array.from({ length: 4 }, (_, i) => [failure(i, '10.0.0.1'), failure(i, '10.0.0.2')]).flat()
    const first = await feed(correlator, events)
    expect(first.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'])
    expect(state.applied).toEqual(['e0-10.0.0.1', 'e0-10.0.0.2', 'e1-10.0.0.2', 'e2-10.0.0.2', 'e3-10.0.0.2'])
    state.applied.length = 0
    const retried = await feed(correlator, events)
    expect(retried.every((r) => r.status === 'fulfilled')).toBe(true)
    expect(state.applied.filter((id) => id.endsWith('10.0.0.1'))).toEqual(['e0-10.0.0.1', 'e1-10.0.0.1', 'e2-10.0.0.1', 'e3-10.0.0.1'])
  })
})

describe('correlation rules at load', () => {
  const base = `title: f\nid: f\nlogsource: {product: linux, service: sshd}\ndetection:\n  k: ['x']\n  condition: k\n---\n`
  it('skips a correlation naming a rule that is not loaded, or one that needs the window to close', () => {
    const set = compileRuleSet([{ file: 'c.yml', text: base + `title: c\nid: c\ncorrelation: {type: event_count, rules: [nope], group-by: [source.ip], timespan: 5m, condition: {gte: 2}}\n---\ntitle: d\nid: d\ncorrelation: {type: event_count, rules: [f], timespan: 5m, condition: {lt: 2}}\n` }])
    expect(set.correlations).toHaveLength(0)
    expect(set.skipped.map((s) => s.code)).toEqual(['CORRELATION_UNRESOLVED', 'CORRELATION_UNSUPPORTED'])
  })
  it('keeps the rules a skipped correlation names silent unless it generates them, and says so in the skip', () => {
    const feeders = `title: f\nid: f\nlogsource: {product: linux, service: sshd}\ndetection:\n  k: ['Failed password']\n  condition: k\n---\n` +
      `title: g\nname: g-name\nlogsource: {product: linux, service: sshd}\ndetection:\n  k: ['Failed password']\n  condition: k\n---\n` +
      `title: alone\nid: alone\nlogsource: {product: linux, service: sshd}\ndetection:\n  k: ['Failed password']\n  condition: k\n`
    const alerts = (correlation: string) => {
      const set = compileRuleSet([{ file: 'f.yml', text: feeders }, { file: 'c.yml', text: correlation }])
      expect(set.correlations).toHaveLength(0)
      const matches = createSigmaEngine(set).match(sshdEvent('sshd[1]: Failed password for root from 10.0.0.1'))
      return { alerts: Object.fromEntries(matches.map((m) => [m.rule.title, m.alert])), skipped: set.skipped }
    }
    // Refused when compiled (a condition with only an upper bound), naming one rule by id and one by name.
    const upperBound = alerts(`title: c\nid: c\ncorrelation: {type: event_count, rules: [f, g-name], group-by: [source.ip], timespan: 5m, condition: {lt: 2}}\n`)
    expect(upperBound.alerts).toEqual({ f: false, g: false, alone: true })
    expect(upperBound.skipped).toMatchObject([{ id: 'c', code: 'CORRELATION_UNSUPPORTED', correlates: { rules: ['f', 'f.yml#g'], generate: false } }])
    expect(upperBound.skipped[0]!.reason).toMatch(/stay silent.*f, f\.yml#g/)
    // Refused when parsed (a type this engine does not run).
    const unknownType = alerts(`title: c\nid: c\ncorrelation: {type: value_sum, rules: [f], group-by: [source.ip], timespan: 5m, condition: {gte: 2}}\n`)
    expect(unknownType.alerts).toEqual({ f: false, g: true, alone: true })
    expect(unknownType.skipped).toMatchObject([{ code: 'CORRELATION_UNSUPPORTED', correlates: { rules: ['f'], generate: false } }])
    // generate: true asks for the rules' own alerts, loaded or not.
    const generated = alerts(`title: c\nid: c\ncorrelation: {type: value_sum, rules: [f], generate: true, timespan: 5m, condition: {gte: 2}}\n`)
    expect(generated.alerts).toEqual({ f: true, g: true, alone: true })
  })

  it('checks every bound of a condition', () => {
    expect(meets(5, { gte: 5, lte: 6 })).toBe(true)
    expect(meets(7, { gte: 5, lte: 6 })).toBe(false)
    expect(meets(3, { gt: 3 })).toBe(false)
    expect(meets(3, { eq: 3 })).toBe(true)
  })
})
