import { describe, expect, it } from 'vitest'
import { parseCondition } from '../../src/condition.ts'
import { ruleMatches, sshdEvent } from './helpers.ts'

const names = ['selection_a', 'selection_b', 'filter_main', 'filter_other', 'keywords', '_hidden']

describe('condition grammar', () => {
  it('gives not precedence over and, and and over or', () => {
    expect(parseCondition('selection_a or selection_b and not filter_main', names)).toEqual({
      kind: 'or', args: [{ kind: 'search', name: 'selection_a' }, {
        kind: 'and', args: [{ kind: 'search', name: 'selection_b' }, { kind: 'not', arg: { kind: 'search', name: 'filter_main' } }],
      }],
    })
  })

  it('expands 1 of / all of patterns and them (without _ identifiers)', () => {
    expect(parseCondition('1 of selection_*', names)).toEqual({ kind: 'or', args: [{ kind: 'search', name: 'selection_a' }, { kind: 'search', name: 'selection_b' }] })
    expect(parseCondition('all of filter*', names)).toEqual({ kind: 'and', args: [{ kind: 'search', name: 'filter_main' }, { kind: 'search', name: 'filter_other' }] })
    expect(parseCondition('all of them', names)).toMatchObject({ kind: 'and', args: names.filter((n) => !n.startsWith('_')).map((name) => ({ kind: 'search', name })) })
    expect(parseCondition('any of keyw*', names)).toEqual({ kind: 'search', name: 'keywords' })
  })

  it('parses parentheses and nested not', () => {
    expect(parseCondition('not (selection_a or not selection_b)', names)).toEqual({
      kind: 'not', arg: { kind: 'or', args: [{ kind: 'search', name: 'selection_a' }, { kind: 'not', arg: { kind: 'search', name: 'selection_b' } }] },
    })
  })

  it('rejects unknown identifiers, unbalanced parentheses and aggregations with a reason', () => {
    expect(() => parseCondition('selection_c', names)).toThrow(/unknown search identifier/)
    expect(() => parseCondition('(selection_a', names)).toThrow(/missing \)/)
    expect(() => parseCondition('selection_a and', names)).toThrow(/ends too early/)
    expect(() => parseCondition('1 of nothing*', names)).toThrow(/names no search identifier/)
    expect(() => parseCondition('selection_a | count() > 5', names)).toThrow(/correlation rules/)
  })

  it('evaluates keywords against the whole line, with and/or/not', () => {
    const rule = `title: t\nid: k\nlogsource: {product: linux, service: sshd}\ndetection:\n  fail: ['Failed password']\n  root: ['root']\n  condition: fail and not root\n`
    expect(ruleMatches(rule, sshdEvent('sshd[1]: Failed password for alice from 1.2.3.4'))).toBe(true)
    expect(ruleMatches(rule, sshdEvent('sshd[1]: Failed password for root from 1.2.3.4'))).toBe(false)
    expect(ruleMatches(rule, sshdEvent('sshd[1]: Accepted password for alice'))).toBe(false)
  })

  it('a list of conditions matches when any does', () => {
    const rule = `title: t\nid: k\nlogsource: {product: linux}\ndetection:\n  a: ['alpha']\n  b: ['beta']\n  condition: [a, b]\n`
    expect(ruleMatches(rule, sshdEvent('x beta y'))).toBe(true)
  })
})
