import { describe, expect, it } from 'vitest'
import { createMemoryCorrelationState, meets } from '../../src/correlation.ts'
import { compileRuleSet } from '../../src/load-rules.ts'
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
  it('checks every bound of a condition', () => {
    expect(meets(5, { gte: 5, lte: 6 })).toBe(true)
    expect(meets(7, { gte: 5, lte: 6 })).toBe(false)
    expect(meets(3, { gt: 3 })).toBe(false)
    expect(meets(3, { eq: 3 })).toBe(true)
  })
})
