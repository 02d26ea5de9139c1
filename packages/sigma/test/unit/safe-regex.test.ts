import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileSafeRegex } from '../../src/safe-regex.ts'

// Patterns where JavaScript's RegExp (with the u flag) and Python's re agree on inputs without newlines
// ($ differs before a final newline: tested below), so RegExp is an oracle.
const ORACLE_PATTERNS = [
  'a+b', '(ab|a)*c', '^x.{2,4}y$', '[^/]{5,}', 'a?b?c', '(?:foo|bar)+baz', '[a-c]+[x-z]*q', 'ab|cd|ef', '(a|b)(c|d)e', '^$', 'x{3}',
  '[.][*]', '\\.\\*\\?', 'a[^b]c', '(a(b(c)?)?)?d', '[\\-a]+', 'colou?r',
]

describe('safe regex', () => {
  it('agrees with RegExp on patterns both dialects read alike (property test, seeded)', () => {
    for (const pattern of ORACLE_PATTERNS) {
      const ours = compileSafeRegex(pattern)
      const native = new RegExp(pattern, 'u')
      fc.assert(fc.property(fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'x', 'y', 'z', 'q', '.', '*', '/', '-', 'f', 'o', 'r', 'u', ' '), maxLength: 12 }), (s) => {
        expect(ours.test(s)).toBe(native.test(s))
      }), { seed: 42, numRuns: 300 })
    }
  })

  it('follows Python where JavaScript differs: Unicode \\w and \\d, $ before a final newline, inline flags', () => {
    expect(compileSafeRegex('^\\w+$').test('héllo')).toBe(true)
    expect(compileSafeRegex('^\\d$').test('٣')).toBe(true)
    expect(compileSafeRegex('abc$').test('abc\n')).toBe(true)
    expect(compileSafeRegex('(?i)ABC').test('xabcx')).toBe(true)
    expect(compileSafeRegex('(?s)a.b').test('a\nb')).toBe(true)
    expect(compileSafeRegex('a.b').test('a\nb')).toBe(false)
  })

  it('reads flags and octal escapes as Python 3.11 re does (expectations from re.search)', () => {
    // [pattern, input, Python's answer]
    const cases: [string, string, boolean][] = [
      ['(?i)a|b', 'B', true], ['(?i)ADMIN|LOGIN', 'login', true], ['(?m)^b|^c', 'a\nc', true], ['(?s)x|a.b', 'a\nb', true],
      ['(?i)(?-i:a)b|c', 'C', true], ['(?i)(?-i:a)b', 'AB', false], ['(?u)(?i)abc', 'ABC', true],
      ['\\07', '\u0007', true], ['\\07', '\u00007', false], ['\\012', '\n', true], ['\\101', 'A', true], ['\\0', '\0', true],
      ['[\\1]', '\u0001', true], ['[\\12]', '\n', true], ['\\1010', 'A0', true], ['[\\0777]', '7', true],
    ]
    for (const [pattern, input, python] of cases) expect([pattern, input, compileSafeRegex(pattern).test(input)]).toEqual([pattern, input, python])
  })

  it('refuses, with the reason, what it would otherwise read differently from Python', () => {
    // Verbose mode and comments: pySigma's RE2 validation refuses them as well.
    expect(() => compileSafeRegex('(?x) /etc/ passwd  # the passwd file')).toThrow(/\(\?x\) verbose mode is not supported/)
    expect(() => compileSafeRegex('(?i-x:a b)')).toThrow(/verbose/)
    expect(() => compileSafeRegex('(?#note)a')).toThrow(/comment/)
    // ASCII-only classes and case folding, and a flag Python allows for bytes only.
    expect(() => compileSafeRegex('(?a)\\w+')).toThrow(/\(\?a\)/)
    expect(() => compileSafeRegex('(?a:\\w)')).toThrow(/\(\?a\)/)
    expect(() => compileSafeRegex('(?L)a')).toThrow(/\(\?L\)/)
    // Python 3.11+ refuses global flags after the start (3.10 applied them to the whole pattern).
    expect(() => compileSafeRegex('a(?i)b')).toThrow(/global flags not at the start/)
    expect(() => compileSafeRegex('x|(?i)a')).toThrow(/global flags not at the start/)
    expect(() => compileSafeRegex('((?i)a)')).toThrow(/global flags not at the start/)
    expect(() => compileSafeRegex('(?-i)a')).toThrow(/missing :/)
    expect(() => compileSafeRegex('(?i-i:a)')).toThrow(/turned on and off/)
    // Octal escapes past 0o377 and \8, \9 are errors in Python; \18 is a group reference.
    expect(() => compileSafeRegex('\\400')).toThrow(/octal/)
    expect(() => compileSafeRegex('[\\8]')).toThrow(/bad escape/)
    expect(() => compileSafeRegex('\\18')).toThrow(/backreference/)
  })

  it('runs catastrophic patterns in linear time', () => {
    const attack = 'a'.repeat(30_000) + '!'
    for (const pattern of ['(a+)+$', '(a|aa)+$', '(a*)*b', '.+\\..+@.+\\.[a-z]+', '(\\w+\\s?)+$']) {
      const re = compileSafeRegex(pattern)
      const start = performance.now()
      expect(re.test(attack)).toBe(false)
      // Backtracking takes longer than the age of the universe here; linear time takes milliseconds.
      expect(performance.now() - start).toBeLessThan(2_000)
    }
  })

  it('refuses what needs backtracking, with the reason', () => {
    expect(() => compileSafeRegex('(?=x)y')).toThrow(/lookaround/)
    expect(() => compileSafeRegex('(?<!x)y')).toThrow(/lookaround/)
    expect(() => compileSafeRegex('(a)\\1')).toThrow(/backreference/)
    expect(() => compileSafeRegex('a++')).toThrow(/possessive/)
    expect(() => compileSafeRegex('(?>a)')).toThrow(/atomic/)
    expect(() => compileSafeRegex('a{2,1}')).toThrow(/m < n/)
    expect(() => compileSafeRegex('(a{1000}){1000}')).toThrow(/REGEX_UNSAFE|states/)
  })
})

describe('safe regex prefilter', () => {
  it('derives the literals every match contains, through groups and alternations', () => {
    expect(compileSafeRegex('\\?d=[0-9]{1,3}').anchors).toEqual(['?d='])
    expect(compileSafeRegex('-[a-z]{3}\\.workers\\.dev|\\.up\\.railway\\.app').anchors).toEqual(['.workers.dev', '.up.railway.app'])
    expect(compileSafeRegex('(?i)(ipfs\\.io/|ipfs\\.io\\s).+@').anchors).toEqual(['ipfs.io/', 'ipfs.io'])
    expect(compileSafeRegex('.{150}').anchors).toBeNull()
    expect(compileSafeRegex('(?i)ABC').test('xxabcxx')).toBe(true)
    expect(compileSafeRegex('(?i)ABC').test('xxabxx')).toBe(false)
  })
})
