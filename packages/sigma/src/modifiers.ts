import { isIP } from 'node:net'
import { SigmaRuleError } from './parse-rule.ts'
import type { SigmaValue } from './rule-model.ts'
import { compileSafeRegex } from './safe-regex.ts'

/**
 * Sigma's value modifiers, compiled once into tests on one field value. A value goes through the
 * transforming modifiers left to right (wide/utf16*, base64, base64offset, windash, contains,
 * startswith, endswith), which may turn it into several alternatives; then it becomes a test:
 * a case-insensitive wildcard match (`cased`: case-sensitive), a regular expression (`re` with
 * `i`, `m`, `s`), a network (`cidr`), a comparison (`gt`, `gte`, `lt`, `lte`), an existence check
 * (`exists`), or a comparison with another field (`fieldref`). `all` makes a list of values
 * conjunctive instead of disjunctive; `neq` negates the whole item, as pySigma does (`not (f = a or f = b)`;
 * an event without the field matches).
 */
export interface ValueTest {
  /** true when one of the field's values passes (values: the field's strings, lowercased and as is) */
  test(values: FieldStrings, other: (field: string) => FieldStrings): boolean
  /**
   * Literals one of which appears (lowercased) in any value this test accepts, or null when no
   * such set exists (regex, cidr, comparisons, negations). The rule index keys on them.
   */
  anchors: string[] | null
}

/** A field's values for matching: absent, or its strings as written and lowercased. */
export interface FieldStrings {
  present: boolean
  raw: readonly string[]
  lower: readonly string[]
  /** the values as numbers where they are numbers or numeric strings (NaN otherwise) */
  numbers: readonly number[]
  /** the values as the event holds them, for typed equality (numbers, booleans) */
  typed: readonly (string | number | boolean)[]
}

export interface CompiledValues {
  tests: ValueTest[]
  /** true: every test must pass (`all`); false: any */
  all: boolean
  /** fields named by `fieldref` */
  refs: string[]
}

const TRANSFORMS = new Set(['contains', 'startswith', 'endswith', 'base64', 'base64offset', 'wide', 'utf16le', 'utf16be', 'utf16', 'windash'])
const KNOWN = new Set([...TRANSFORMS, 'all', 're', 'i', 'm', 's', 'cidr', 'exists', 'gt', 'gte', 'lt', 'lte', 'cased', 'fieldref', 'neq'])

/** Compiles one detection item's values with its modifiers. `keyword`: the item has no field (it searches the event's text). */
export function compileValues(modifiers: readonly string[], values: readonly SigmaValue[], keyword: boolean): CompiledValues {
  for (const m of modifiers) {
    if (!KNOWN.has(m)) throw new SigmaRuleError('MODIFIER_UNSUPPORTED', `modifier |${m} is not supported`)
  }
  const compiled = compilePositive(modifiers, values, keyword)
  if (!modifiers.includes('neq')) return compiled
  // pySigma negates the whole item: `f|neq: [a, b]` is `not (f = a or f = b)`, with `all` `not (f = a and f = b)`,
  // so an event without the field matches (SQLite backend: NOT COALESCE(..., 0)), as `not selection` does.
  const { tests, all, refs } = compiled
  const holds = all
    ? (v: FieldStrings, other: (field: string) => FieldStrings) => tests.every((t) => t.test(v, other))
    : (v: FieldStrings, other: (field: string) => FieldStrings) => tests.some((t) => t.test(v, other))
  return { tests: [{ test: (v, other) => !holds(v, other), anchors: null }], all: false, refs }
}

/** The item's tests as if it had no `neq`. */
function compilePositive(modifiers: readonly string[], values: readonly SigmaValue[], keyword: boolean): CompiledValues {
  const has = (m: string) => modifiers.includes(m)
  const all = has('all')
  const refs: string[] = []
  if (values.length === 0) throw new SigmaRuleError('RULE_INVALID', 'a detection item with no value')

  if (has('exists')) {
    if (values.length !== 1 || typeof values[0] !== 'boolean') throw new SigmaRuleError('RULE_INVALID', '|exists takes true or false')
    const want = values[0]
    return { tests: [{ test: (v) => v.present === want, anchors: null }], all, refs }
  }
  if (has('re')) return { tests: values.map((v) => regexTest(v, has('i'), has('m'), has('s'))), all, refs }
  if (has('cidr')) return { tests: values.map(cidrTest), all, refs }
  const cmp = (['gt', 'gte', 'lt', 'lte'] as const).find(has)
  if (cmp) return { tests: values.map((v) => compareTest(cmp, v)), all, refs }
  if (has('fieldref')) {
    const mode = has('contains') ? 'contains' : has('startswith') ? 'startswith' : has('endswith') ? 'endswith' : 'equals'
    return { tests: values.map((v) => { refs.push(String(v)); return fieldRefTest(String(v), mode) }), all, refs }
  }

  const tests = values.map((value): ValueTest => {
    if (value === null) return { test: (v) => !v.present, anchors: null }
    if (typeof value === 'boolean' && modifiers.every((m) => m === 'neq') && !keyword) return boolTest(value)
    if (typeof value === 'number' && !modifiers.some((m) => TRANSFORMS.has(m)) && !keyword) return numberTest(value)
    let alternatives: Pattern[] = [parseSigmaString(String(value))]
    let encoding: 'utf8' | 'utf16le' | 'utf16be' = 'utf8'
    for (const m of modifiers) {
      switch (m) {
        case 'wide': case 'utf16le': encoding = 'utf16le'; break
        case 'utf16be': encoding = 'utf16be'; break
        // Sigma's utf16 is little-endian with a byte-order mark; only meaningful before base64.
        case 'utf16': encoding = 'utf16le'; alternatives = alternatives.map((p) => literal('\ufeff' + literalText(p, m))); break
        case 'base64': alternatives = alternatives.map((p) => literal(encode(literalText(p, m), encoding).toString('base64'))); break
        case 'base64offset': alternatives = alternatives.flatMap((p) => base64Offsets(literalText(p, m), encoding).map(literal)); break
        case 'windash': alternatives = alternatives.flatMap(windash); break
        case 'contains': alternatives = alternatives.map((p) => [MULTI, ...p, MULTI]); break
        case 'startswith': alternatives = alternatives.map((p) => [...p, MULTI]); break
        case 'endswith': alternatives = alternatives.map((p) => [MULTI, ...p]); break
      }
    }
    if ((encoding !== 'utf8') && !has('base64') && !has('base64offset')) {
      alternatives = alternatives.map((p) => p.map((part) => (typeof part === 'string' ? encode(part, encoding).toString('latin1') : part)))
    }
    // Keywords are searched anywhere in the text, as pySigma's full-text expression does.
    if (keyword) alternatives = alternatives.map((p) => [MULTI, ...p, MULTI])
    const matchers = alternatives.map((p) => globMatcher(p, has('cased')))
    const anchors = alternatives.map(anchorOf)
    return {
      test: (v) => matchers.some((m) => m(has('cased') ? v.raw : v.lower)),
      anchors: anchors.some((a) => a === null) ? null : [...new Set(anchors as string[])],
    }
  })
  return { tests, all, refs }
}

// ---------------------------------------------------------------------- strings and wildcards

const MULTI = Symbol('*')
const SINGLE = Symbol('?')
type Part = string | typeof MULTI | typeof SINGLE
type Pattern = Part[]

/** Sigma's string syntax: `*` and `?` are wildcards; `\*`, `\?` and `\\` are those characters; any other `\` is itself. */
export function parseSigmaString(s: string): Pattern {
  const out: Pattern = []
  let text = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c === '\\' && (s[i + 1] === '*' || s[i + 1] === '?' || s[i + 1] === '\\')) {
      text += s[++i]
    } else if (c === '*' || c === '?') {
      if (text) out.push(text)
      text = ''
      out.push(c === '*' ? MULTI : SINGLE)
    } else {
      text += c
    }
  }
  if (text) out.push(text)
  return out
}

function literal(s: string): Pattern {
  return s === '' ? [] : [s]
}

function literalText(p: Pattern, modifier: string): string {
  if (p.some((part) => typeof part !== 'string')) throw new SigmaRuleError('RULE_INVALID', `|${modifier} of a value with wildcards`)
  return (p as string[]).join('')
}

function encode(s: string, encoding: 'utf8' | 'utf16le' | 'utf16be'): Buffer {
  if (encoding === 'utf8') return Buffer.from(s, 'utf8')
  const le = Buffer.from(s, 'utf16le')
  return encoding === 'utf16le' ? le : le.swap16()
}

/** The three base64 forms of a value inside a longer base64 text, at byte offsets 0, 1 and 2 (pySigma's algorithm). */
function base64Offsets(s: string, encoding: 'utf8' | 'utf16le' | 'utf16be'): string[] {
  const bytes = encode(s, encoding)
  const start = [0, 2, 3]
  const endTrim = [0, 3, 2]
  return [0, 1, 2].map((i) => {
    const b64 = Buffer.concat([Buffer.alloc(i, 0x20), bytes]).toString('base64')
    const trim = endTrim[(bytes.length + i) % 3]!
    return b64.slice(start[i], trim === 0 ? undefined : b64.length - trim)
  })
}

// Windows accepts these where a command-line flag starts with `-`.
const DASHES = ['-', '/', '\u2013', '\u2014', '\u2015']

/** `windash`: every `-` or `/` starting a flag, in each dash spelling Windows accepts. */
function windash(p: Pattern): Pattern[] {
  let results: Pattern[] = [[]]
  for (const part of p) {
    if (typeof part !== 'string') {
      results = results.map((r) => [...r, part])
      continue
    }
    const pieces = part.split(/(?<![A-Za-z0-9_])([-/])(?=[A-Za-z0-9_])/)
    let variants: string[] = ['']
    pieces.forEach((piece, i) => {
      variants = i % 2 === 1 ? variants.flatMap((v) => DASHES.map((d) => v + d)) : variants.map((v) => v + piece)
    })
    if (variants.length > 625) throw new SigmaRuleError('RULE_INVALID', '|windash of a value with too many flags')
    results = results.flatMap((r) => variants.map((v) => [...r, v]))
  }
  return results
}

/** A test on a list of strings (any may match) for a pattern; compares lowercased unless `cased`. */
function globMatcher(p: Pattern, cased: boolean): (values: readonly string[]) => boolean {
  const norm = (s: string) => (cased ? s : s.toLowerCase())
  const parts = p.map((x) => (typeof x === 'string' ? norm(x) : x))
  const one = matcherOf(parts)
  return (values) => {
    for (const v of values) if (one(v)) return true
    return false
  }
}

function matcherOf(parts: Part[]): (s: string) => boolean {
  const merged = mergeStars(parts)
  const texts = merged.filter((x): x is string => typeof x === 'string')
  const hasSingle = merged.includes(SINGLE)
  if (!hasSingle) {
    if (merged.length === 0) return (s) => s === ''
    if (merged.length === 1 && texts.length === 1) return (s) => s === texts[0]
    if (merged.length === 1) return () => true // just `*`
    if (merged.length === 2 && merged[0] === MULTI && texts.length === 1) return (s) => s.endsWith(texts[0]!)
    if (merged.length === 2 && merged[1] === MULTI && texts.length === 1) return (s) => s.startsWith(texts[0]!)
    if (merged.length === 3 && merged[0] === MULTI && merged[2] === MULTI && texts.length === 1) return (s) => s.includes(texts[0]!)
  }
  return (s) => globMatch(merged, s)
}

function mergeStars(parts: Part[]): Part[] {
  const out: Part[] = []
  for (const p of parts) {
    if (p === MULTI && out[out.length - 1] === MULTI) continue
    if (typeof p === 'string' && typeof out[out.length - 1] === 'string') out[out.length - 1] = (out[out.length - 1] as string) + p
    else out.push(p)
  }
  return out
}

/**
 * Wildcard match without backtracking blow-up: the pattern is cut at each `*` into segments (text
 * and `?`); the first is anchored at the start, the last at the end, and each one between is taken
 * at its leftmost place, which is optimal for `*`-separated segments. O(length × pattern).
 */
function globMatch(parts: Part[], s: string): boolean {
  const segments: Part[][] = [[]]
  for (const p of parts) {
    if (p === MULTI) segments.push([])
    else segments[segments.length - 1]!.push(p)
  }
  const lengthOf = (seg: Part[]) => seg.reduce((n, x) => n + (typeof x === 'string' ? x.length : 1), 0)
  const at = (seg: Part[], i: number): boolean => {
    for (const x of seg) {
      if (x === SINGLE) {
        if (i >= s.length) return false
        i++
      } else if (typeof x === 'string') {
        if (!s.startsWith(x, i)) return false
        i += x.length
      }
    }
    return true
  }
  if (segments.length === 1) return lengthOf(segments[0]!) === s.length && at(segments[0]!, 0)
  const first = segments[0]!
  const last = segments[segments.length - 1]!
  if (!at(first, 0)) return false
  let pos = lengthOf(first)
  const end = s.length - lengthOf(last)
  if (end < pos || !at(last, end)) return false
  for (let k = 1; k < segments.length - 1; k++) {
    const seg = segments[k]!
    const len = lengthOf(seg)
    let found = -1
    for (let i = pos; i + len <= end; i++) {
      if (at(seg, i)) {
        found = i
        break
      }
    }
    if (found === -1) return false
    pos = found + len
  }
  return true
}

/** The longest literal run of a pattern, lowercased, or null when it has none. */
function anchorOf(p: Pattern): string | null {
  let best = ''
  for (const x of p) if (typeof x === 'string' && x.length > best.length) best = x
  return best === '' ? null : best.toLowerCase()
}

// ---------------------------------------------------------------------------- other tests

function boolTest(b: boolean): ValueTest {
  return { test: (v) => v.typed.some((x) => x === b || String(x).toLowerCase() === String(b)), anchors: null }
}

function numberTest(n: number): ValueTest {
  const text = String(n)
  return { test: (v) => v.typed.some((x) => (typeof x === 'number' ? x === n : String(x) === text)), anchors: [text] }
}

function regexTest(value: SigmaValue, i: boolean, m: boolean, s: boolean): ValueTest {
  if (typeof value !== 'string') throw new SigmaRuleError('RULE_INVALID', '|re takes a string')
  const re = compileSafeRegex(value, { ignoreCase: i, multiline: m, dotAll: s })
  return { test: (v) => v.raw.some((x) => re.test(x)), anchors: re.anchors }
}

function compareTest(op: 'gt' | 'gte' | 'lt' | 'lte', value: SigmaValue): ValueTest {
  const n = typeof value === 'number' ? value : Number(value)
  if (typeof value === 'boolean' || value === null || !Number.isFinite(n)) throw new SigmaRuleError('RULE_INVALID', `|${op} takes a number`)
  const holds = { gt: (x: number) => x > n, gte: (x: number) => x >= n, lt: (x: number) => x < n, lte: (x: number) => x <= n }[op]
  return { test: (v) => v.numbers.some((x) => !Number.isNaN(x) && holds(x)), anchors: null }
}

function fieldRefTest(field: string, mode: 'equals' | 'contains' | 'startswith' | 'endswith'): ValueTest {
  const pass = {
    equals: (a: string, b: string) => a === b,
    contains: (a: string, b: string) => a.includes(b),
    startswith: (a: string, b: string) => a.startsWith(b),
    endswith: (a: string, b: string) => a.endsWith(b),
  }[mode]
  return {
    test: (v, other) => {
      const ref = other(field)
      return ref.present && v.lower.some((a) => ref.lower.some((b) => pass(a, b)))
    },
    anchors: null,
  }
}

// ------------------------------------------------------------------------------------- cidr

function cidrTest(value: SigmaValue): ValueTest {
  if (typeof value !== 'string') throw new SigmaRuleError('RULE_INVALID', '|cidr takes a network such as 10.0.0.0/8')
  const net = parseCidr(value)
  if (net === null) throw new SigmaRuleError('RULE_INVALID', `|cidr: ${value} is not a network`)
  return { test: (v) => v.raw.some((x) => inNetwork(x, net)), anchors: null }
}

interface Network { bytes: Uint8Array; prefix: number }

function parseCidr(s: string): Network | null {
  const [addr = '', bits] = s.split('/')
  const bytes = ipBytes(addr)
  if (bytes === null) return null
  const prefix = bits === undefined ? bytes.length * 8 : Number(bits)
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bytes.length * 8) return null
  return { bytes, prefix }
}

function inNetwork(ip: string, net: Network): boolean {
  const bytes = ipBytes(ip)
  if (bytes === null || bytes.length !== net.bytes.length) return false
  let bits = net.prefix
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if ((bytes[i]! & mask) !== (net.bytes[i]! & mask)) return false
  }
  return true
}

function ipBytes(ip: string): Uint8Array | null {
  const kind = isIP(ip)
  if (kind === 4) return Uint8Array.from(ip.split('.').map(Number))
  if (kind !== 6) return null
  let text = ip
  let tail: number[] = []
  const v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4) {
    tail = v4[1]!.split('.').map(Number)
    text = text.slice(0, v4.index + 1) + '0:0'
  }
  const [head = '', rest] = text.split('::')
  const h = head === '' ? [] : head.split(':')
  const r = rest === undefined ? [] : rest === '' ? [] : rest.split(':')
  const groups = rest === undefined ? h : [...h, ...Array(8 - h.length - r.length).fill('0'), ...r]
  const out = new Uint8Array(16)
  groups.forEach((g, i) => {
    const n = parseInt(g, 16)
    out[i * 2] = n >> 8
    out[i * 2 + 1] = n & 0xff
  })
  if (tail.length === 4) out.set(tail, 12)
  return out
}
