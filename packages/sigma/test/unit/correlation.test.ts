import { describe, expect, it } from 'vitest'
import { createMemoryCorrelationState, meets } from '../../src/correlation.ts'
import { createSigmaEngine } from '../../src/engine.ts'
import { compileRuleSet } from '../../src/load-rules.ts'
import { sshdEvent } from './helpers.ts'
import { correlationStateConformance } from '../correlation-conformance.ts'

describe('correlation semantics (in-memory state)', () => {
  correlationStateConformance(async () => createMemoryCorrelationState())
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
