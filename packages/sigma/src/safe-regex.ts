import { SigmaRuleError } from './parse-rule.ts'

/**
 * A regular expression that cannot backtrack catastrophically: `|re` patterns come from rule files,
 * and the values they run on come from attackers (URLs, user agents, commands), so a pattern like
 * `(a+)+$` or `.+\..+@.+` must not let one request stall the alerter. Instead of guessing which
 * patterns are dangerous, every pattern runs in a Thompson-NFA simulation (a Pike VM): each input
 * character advances every live state at once, so time is O(pattern size × input length) whatever
 * the pattern, with no timeout and no backtracking. What needs backtracking (backreferences,
 * lookaround, possessive and atomic groups) is refused at load, as RE2 refuses it, and as pySigma
 * does with its default RE2 validation. The dialect is Python's `re` (Sigma's reference): `\w`, `\d`,
 * `\s` are Unicode-aware, `$` also matches before a final newline, flags are `i`, `m`, `s` and `u` (the
 * default), global ones only at the start (as Python 3.11+), octal escapes as Python reads them. What
 * this engine would read otherwise than Python is refused, never run differently: `(?x)` and `(?#...)`
 * (pySigma's RE2 validation refuses them too), `(?a)`, `(?L)`, `\N{...}`, POSIX classes, possessive quantifiers.
 */
export interface SafeRegex {
  /** true when the pattern matches somewhere in `input` (search semantics, as `re.search`) */
  test(input: string): boolean
  readonly source: string
  /** lowercased literals one of which every match contains, or null (for the rule index) */
  readonly anchors: string[] | null
}

export interface RegexFlags {
  ignoreCase?: boolean
  multiline?: boolean
  dotAll?: boolean
}

// Bounds the per-character cost: `x{1000}` is a thousand states.
const MAX_PROGRAM = 20_000

/** Compiles a pattern; throws a SigmaRuleError (REGEX_UNSUPPORTED or REGEX_UNSAFE) for what it refuses. */
export function compileSafeRegex(source: string, flags: RegexFlags = {}): SafeRegex {
  const ast = new RegexParser(source, { i: !!flags.ignoreCase, m: !!flags.multiline, s: !!flags.dotAll }).parse()
  const program = compileProgram(ast, source)
  // Cheap refusals before the VM: inputs shorter than any match, or holding none of the literals one of which every match contains.
  const minLength = minLengthOf(ast)
  const required = requiredLiterals(ast)
  // Compared lowercased: (?i) literals are kept lowercased, and for exact ones it is still necessary.
  const lowered = required === null ? null : [...new Set(required.map((l) => l.toLowerCase()))]
  const present = lowered === null ? () => true : (input: string) => {
    const low = input.toLowerCase()
    return lowered.some((l) => low.includes(l))
  }
  return {
    source,
    anchors: lowered,
    test: (input) => input.length >= minLength && present(input) && run(program, input),
  }
}

/** The fewest UTF-16 units a match can span (a code point above U+FFFF counts once: a lower bound). */
function minLengthOf(n: Node): number {
  switch (n.t) {
    case 'char': return 1
    case 'assert': case 'empty': return 0
    case 'cat': return n.items.reduce((sum, item) => sum + minLengthOf(item), 0)
    case 'alt': return Math.min(...n.items.map(minLengthOf))
    case 'rep': return n.min === 0 ? 0 : Math.min(n.min * minLengthOf(n.node), 1e9)
  }
}

/**
 * Literals one of which every match contains: in a sequence, the longest run of literal characters
 * (or a nested group's set, if longer); in an alternation, one set per branch. A case-insensitive
 * literal is kept lowercased (the caller compares lowercased).
 * Null when some branch has none.
 */
function requiredLiterals(n: Node): string[] | null {
  if (n.t === 'alt') {
    const sets = n.items.map(requiredLiterals)
    return sets.some((x) => x === null) ? null : [...new Set(sets.flat() as string[])]
  }
  if (n.t === 'rep') return n.min > 0 ? requiredLiterals(n.node) : null
  const items = n.t === 'cat' ? n.items : [n]
  let best: string[] | null = null
  const better = (set: string[]) => {
    if (best === null || Math.min(...set.map((x) => x.length)) > Math.min(...best.map((x) => x.length))) best = set
  }
  let run = ''
  for (const item of items) {
    if (item.t === 'char' && item.literal !== undefined) {
      run += String.fromCodePoint(item.literal)
      better([run])
      continue
    }
    if (item.t === 'assert') continue
    run = ''
    if (item.t === 'alt' || item.t === 'cat' || item.t === 'rep') {
      const inner = requiredLiterals(item)
      if (inner !== null) better(inner)
    }
  }
  return best
}

// ------------------------------------------------------------------------------------------ AST

type CharTest = (cp: number) => boolean
type AssertKind = 'bol' | 'eol' | 'begin' | 'end' | 'endz' | 'word' | 'nonword'

type Node =
  | { t: 'char'; test: CharTest; literal?: number }
  | { t: 'assert'; kind: AssertKind }
  | { t: 'cat'; items: Node[] }
  | { t: 'alt'; items: Node[] }
  | { t: 'rep'; node: Node; min: number; max: number }
  | { t: 'empty' }

interface Flags { i: boolean; m: boolean; s: boolean }

const WORD = /[\p{L}\p{N}\p{Mn}\p{Pc}]/u
const DIGIT = /\p{Nd}/u
const SPACE = /\s/u
const isWord: CharTest = (cp) => WORD.test(String.fromCodePoint(cp))
const isDigit: CharTest = (cp) => DIGIT.test(String.fromCodePoint(cp))
// Python's \s also counts the information separators U+001C..U+001F and NEL (U+0085).
const isSpace: CharTest = (cp) => (cp >= 0x1c && cp <= 0x1f) || cp === 0x85 || SPACE.test(String.fromCodePoint(cp))
const NEWLINE = 10

function foldCase(test: CharTest): CharTest {
  return (cp) => {
    if (test(cp)) return true
    const s = String.fromCodePoint(cp)
    const lower = s.toLowerCase()
    const upper = s.toUpperCase()
    return (lower.length === s.length && test(lower.codePointAt(0)!)) || (upper.length === s.length && test(upper.codePointAt(0)!))
  }
}

class RegexParser {
  private pos = 0
  /** nothing but global flags and comments read yet: where Python 3.11+ allows global flags */
  private leading = true
  constructor(private readonly src: string, private flags: Flags) {}

  parse(): Node {
    const node = this.alternation()
    if (this.pos < this.src.length) throw this.unsupported(`unbalanced ) at ${this.pos}`)
    return node
  }

  private alternation(): Node {
    const items = [this.sequence()]
    while (this.src[this.pos] === '|') {
      this.pos++
      this.leading = false
      items.push(this.sequence())
    }
    return items.length === 1 ? items[0]! : { t: 'alt', items }
  }

  private sequence(): Node {
    const items: Node[] = []
    while (this.pos < this.src.length && this.src[this.pos] !== '|' && this.src[this.pos] !== ')') {
      const atom = this.atom()
      if (atom === null) continue
      this.leading = false
      items.push(this.quantified(atom))
    }
    return items.length === 0 ? { t: 'empty' } : items.length === 1 ? items[0]! : { t: 'cat', items }
  }

  private quantified(atom: Node): Node {
    let node = atom
    let repeated = false
    for (;;) {
      const c = this.src[this.pos]
      let min: number, max: number
      if (c === '*') [min, max] = [0, Infinity]
      else if (c === '+') [min, max] = [1, Infinity]
      else if (c === '?') [min, max] = [0, 1]
      else if (c === '{') {
        const m = /^\{(\d*)(?:(,)(\d*))?\}/.exec(this.src.slice(this.pos))
        if (m === null || (m[1] === '' && m[2] === undefined)) return node // a literal `{`, as Python reads it
        min = m[1] === '' ? 0 : Number(m[1])
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3])
        if (max < min) throw this.unsupported('quantifier {n,m} with m < n')
        this.pos += m[0].length - 1
      } else return node
      this.pos++
      // Lazy and greedy find the same matches when only "is there one" is asked; possessive needs backtracking control.
      if (this.src[this.pos] === '?') this.pos++
      else if (this.src[this.pos] === '+') throw this.unsupported('possessive quantifier')
      if (node.t === 'assert' || node.t === 'empty') continue
      if (repeated) throw this.unsupported('multiple repeat')
      repeated = true
      node = { t: 'rep', node, min, max }
    }
  }

  private atom(): Node | null {
    const c = this.src[this.pos]!
    switch (c) {
      case '(': return this.group()
      case '[': return this.charClass()
      case '.': {
        this.pos++
        const dotAll = this.flags.s
        return { t: 'char', test: dotAll ? () => true : (cp) => cp !== NEWLINE }
      }
      case '^': this.pos++; return { t: 'assert', kind: this.flags.m ? 'bol' : 'begin' }
      case '$': this.pos++; return { t: 'assert', kind: this.flags.m ? 'eol' : 'endz' }
      case '\\': return this.escape()
      case '*': case '+': case '?': throw this.unsupported(`nothing to repeat at ${this.pos}`)
      default: {
        const cp = this.src.codePointAt(this.pos)!
        this.pos += cp > 0xffff ? 2 : 1
        return this.literal(cp)
      }
    }
  }

  private literal(cp: number): Node {
    const test: CharTest = (x) => x === cp
    if (!this.flags.i) return { t: 'char', test, literal: cp }
    // Case-insensitive: the lowercase form stands for the character in required literals (compared lowercased).
    const lower = String.fromCodePoint(cp).toLowerCase()
    return { t: 'char', test: foldCase(test), ...(lower.length === 1 || lower.codePointAt(0)! > 0xffff ? { literal: lower.codePointAt(0)! } : {}) }
  }

  private group(): Node | null {
    this.pos++ // (
    const leading = this.leading
    this.leading = false
    if (this.src[this.pos] === '?') {
      const rest = this.src.slice(this.pos + 1)
      if (rest.startsWith(':')) {
        this.pos += 2
        return this.groupBody()
      }
      const named = /^(?:P?<[A-Za-z_][A-Za-z0-9_]*>)/.exec(rest)
      if (named) {
        this.pos += 1 + named[0].length
        return this.groupBody()
      }
      const flags = /^([aiLmsux]*)(?:-([imsx]*))?([:)])/.exec(rest)
      if (flags && (flags[1] !== '' || flags[2] !== undefined)) {
        const on = flags[1]!, off = flags[2]
        if (off === '') throw this.unsupported('missing flag after -')
        if (off !== undefined && flags[3] === ')') throw this.unsupported('missing : after flags to turn off')
        if ([...on].some((f) => off?.includes(f))) throw this.unsupported('flag turned on and off')
        if (on.includes('L')) throw this.unsupported('(?L) is for bytes patterns: Python refuses it in text')
        // Python's verbose mode drops whitespace and # comments; RE2 has none, so pySigma refuses such rules at load.
        if (on.includes('x') || off?.includes('x')) throw this.unsupported('(?x) verbose mode is not supported (pySigma refuses it too)')
        // Refused rather than run with Unicode classes and case folding, which would match differently.
        if (on.includes('a')) throw this.unsupported('(?a) (ASCII-only \\w, \\d, \\s, \\b and case folding) is not supported')
        this.pos += 1 + flags[0].length
        const set = (f: Flags): Flags => ({
          i: off?.includes('i') ? false : on.includes('i') || f.i,
          m: off?.includes('m') ? false : on.includes('m') || f.m,
          s: off?.includes('s') ? false : on.includes('s') || f.s,
        })
        if (flags[3] === ')') {
          // Python 3.11+ refuses global flags elsewhere (3.10 and before applied them to the whole pattern).
          if (!leading) throw this.unsupported('global flags not at the start of the expression')
          this.leading = true
          this.flags = set(this.flags)
          return null
        }
        const saved = this.flags
        this.flags = set(saved)
        const body = this.groupBody()
        this.flags = saved
        return body
      }
      if (/^(?:=|!|<=|<!)/.test(rest)) throw this.unsupported('lookaround')
      if (rest.startsWith('>')) throw this.unsupported('atomic group')
      if (rest.startsWith('(')) throw this.unsupported('conditional group')
      if (rest.startsWith('#')) throw this.unsupported('(?#...) comment (pySigma refuses it too)')
      if (rest.startsWith('P=')) throw this.unsupported('backreference')
      throw this.unsupported(`group (?${rest[0] ?? ''}`)
    }
    return this.groupBody()
  }

  private groupBody(): Node {
    const node = this.alternation()
    if (this.src[this.pos] !== ')') throw this.unsupported('missing )')
    this.pos++
    return node
  }

  private escape(): Node {
    const c = this.src[this.pos + 1]
    if (c === undefined) throw this.unsupported('trailing backslash')
    this.pos += 2
    const cls = classEscape(c)
    if (cls !== null) return { t: 'char', test: cls }
    switch (c) {
      case 'b': return { t: 'assert', kind: 'word' }
      case 'B': return { t: 'assert', kind: 'nonword' }
      case 'A': return { t: 'assert', kind: 'begin' }
      case 'Z': case 'z': return { t: 'assert', kind: 'end' }
    }
    // Python: three octal digits are an octal escape, other digits a group reference (`\0...` is octal: escapedChar).
    if (/[1-9]/.test(c)) {
      if (/^[0-7][0-7]/.test(this.src.slice(this.pos, this.pos + 2)) && c <= '7') return this.literal(this.octal(c, 2))
      throw this.unsupported('backreference')
    }
    if (c === 'k' || c === 'g') throw this.unsupported('backreference')
    return this.literal(this.escapedChar(c))
  }

  /** An octal escape: the digit `first` (consumed) and up to `more` further octal digits, at most 0o377. */
  private octal(first: string, more: number): number {
    let digits = first
    while (digits.length <= more && /[0-7]/.test(this.src[this.pos] ?? '')) digits += this.src[this.pos++]
    const value = parseInt(digits, 8)
    if (value > 0o377) throw this.unsupported(`octal escape \\${digits} outside 0-0o377`)
    return value
  }

  /** The code point of an escape that stands for one character (after `\`, at `pos`, with `c` consumed). */
  private escapedChar(c: string): number {
    const simple: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13, a: 7 }
    if (c in simple) return simple[c]!
    // `\0` anywhere, and `\1`..`\7` in [...], take up to two more octal digits.
    if (/[0-7]/.test(c)) return this.octal(c, 2)
    if (c === '8' || c === '9') throw this.unsupported(`bad escape \\${c}`)
    const hex = c === 'x' ? 2 : c === 'u' ? 4 : c === 'U' ? 8 : 0
    if (hex > 0) {
      const digits = this.src.slice(this.pos, this.pos + hex)
      if (!new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(digits)) throw this.unsupported(`bad \\${c} escape`)
      this.pos += hex
      return parseInt(digits, 16)
    }
    if (/[A-Za-z]/.test(c)) throw this.unsupported(`unknown escape \\${c}`)
    return c.codePointAt(0)!
  }

  private charClass(): Node {
    this.pos++ // [
    const negate = this.src[this.pos] === '^'
    if (negate) this.pos++
    const tests: CharTest[] = []
    let first = true
    while (this.pos < this.src.length && (this.src[this.pos] !== ']' || first)) {
      first = false
      if (this.src.startsWith('[:', this.pos)) throw this.unsupported('POSIX class in [...]')
      const lo = this.classAtom()
      if (typeof lo !== 'number') {
        tests.push(lo)
        continue
      }
      if (this.src[this.pos] === '-' && this.src[this.pos + 1] !== ']' && this.pos + 1 < this.src.length) {
        this.pos++
        const hi = this.classAtom()
        if (typeof hi !== 'number') throw this.unsupported('range with a class escape')
        if (hi < lo) throw this.unsupported('reversed range in [...]')
        tests.push((cp) => cp >= lo && cp <= hi)
      } else {
        tests.push((cp) => cp === lo)
      }
    }
    if (this.src[this.pos] !== ']') throw this.unsupported('unterminated [...]')
    this.pos++
    const any: CharTest = (cp) => tests.some((t) => t(cp))
    const cased = this.flags.i ? foldCase(any) : any
    return { t: 'char', test: negate ? (cp) => !cased(cp) : cased }
  }

  private classAtom(): number | CharTest {
    const c = this.src[this.pos]!
    if (c !== '\\') {
      const cp = this.src.codePointAt(this.pos)!
      this.pos += cp > 0xffff ? 2 : 1
      return cp
    }
    const e = this.src[this.pos + 1]
    if (e === undefined) throw this.unsupported('trailing backslash')
    this.pos += 2
    const cls = classEscape(e)
    if (cls !== null) return cls
    if (e === 'b') return 8
    return this.escapedChar(e)
  }

  private unsupported(what: string): SigmaRuleError {
    return new SigmaRuleError('REGEX_UNSUPPORTED', `regex /${this.src}/: ${what}`)
  }
}

function classEscape(c: string): CharTest | null {
  switch (c) {
    case 'd': return isDigit
    case 'D': return (cp) => !isDigit(cp)
    case 'w': return isWord
    case 'W': return (cp) => !isWord(cp)
    case 's': return isSpace
    case 'S': return (cp) => !isSpace(cp)
    default: return null
  }
}

// -------------------------------------------------------------------------------------- program

const CHAR = 0, SPLIT = 1, JMP = 2, ASSERT = 3, MATCH = 4

interface Program {
  op: number[]
  x: number[]
  y: number[]
  /** per CHAR state, the index of its test in `distinct` (a repetition's copies share one test) */
  testOf: number[]
  distinct: CharTest[]
  asserts: (AssertKind | null)[]
}

function compileProgram(ast: Node, source: string): Program {
  const p: Program = { op: [], x: [], y: [], testOf: [], distinct: [], asserts: [] }
  const testIndex = new Map<CharTest, number>()
  const emit = (op: number, x = 0, y = 0, test: CharTest | null = null, kind: AssertKind | null = null): number => {
    if (p.op.length >= MAX_PROGRAM) throw new SigmaRuleError('REGEX_UNSAFE', `regex /${source}/: more than ${MAX_PROGRAM} states (counted repetition too large)`)
    let t = -1
    if (test !== null) {
      t = testIndex.get(test) ?? -1
      if (t === -1) {
        t = p.distinct.push(withAsciiTable(test)) - 1
        testIndex.set(test, t)
      }
    }
    p.op.push(op); p.x.push(x); p.y.push(y); p.testOf.push(t); p.asserts.push(kind)
    return p.op.length - 1
  }
  const gen = (n: Node): void => {
    switch (n.t) {
      case 'empty': return
      case 'char': emit(CHAR, 0, 0, n.test); return
      case 'assert': emit(ASSERT, 0, 0, null, n.kind); return
      case 'cat': for (const item of n.items) gen(item); return
      case 'alt': {
        const jumps: number[] = []
        n.items.forEach((item, i) => {
          if (i === n.items.length - 1) return gen(item)
          const split = emit(SPLIT)
          p.x[split] = split + 1
          gen(item)
          jumps.push(emit(JMP))
          p.y[split] = p.op.length
        })
        for (const j of jumps) p.x[j] = p.op.length
        return
      }
      case 'rep': {
        for (let i = 0; i < n.min; i++) gen(n.node)
        if (n.max === Infinity) {
          const split = emit(SPLIT)
          p.x[split] = split + 1
          gen(n.node)
          emit(JMP, split)
          p.y[split] = p.op.length
          return
        }
        const splits: number[] = []
        for (let i = n.min; i < n.max; i++) {
          const split = emit(SPLIT)
          p.x[split] = split + 1
          splits.push(split)
          gen(n.node)
        }
        for (const s of splits) p.y[s] = p.op.length
        return
      }
    }
  }
  gen(ast)
  emit(MATCH)
  return p
}

/** The same test, answered from a table for ASCII (most of what logs hold). */
function withAsciiTable(test: CharTest): CharTest {
  const table = new Uint8Array(128)
  for (let cp = 0; cp < 128; cp++) table[cp] = test(cp) ? 1 : 0
  return (cp) => (cp < 128 ? table[cp] === 1 : test(cp))
}

/** Search: a thread starts at every position; true as soon as any thread reaches MATCH. */
function run(p: Program, input: string): boolean {
  const n = p.op.length
  let clist = new Int32Array(n), nlist = new Int32Array(n)
  let ccount = 0, ncount = 0
  const mark = new Int32Array(n).fill(-1)
  let generation = 0
  const stack = new Int32Array(n * 2 + 2)
  // Per input character, each distinct test runs once: 0 not yet asked, 1 true, 2 false.
  const verdict = new Int8Array(p.distinct.length)

  let matched = false
  // Follows SPLIT, JMP and ASSERT from pc at position `at`; adds CHAR states to the list and returns
  // its new length; reaching MATCH sets `matched`.
  const add = (list: Int32Array, count: number, pc0: number, at: number): number => {
    let sp = 0
    stack[sp++] = pc0
    while (sp > 0) {
      const pc = stack[--sp]!
      if (mark[pc] === generation) continue
      mark[pc] = generation
      switch (p.op[pc]) {
        case JMP: stack[sp++] = p.x[pc]!; break
        case SPLIT: stack[sp++] = p.y[pc]!; stack[sp++] = p.x[pc]!; break
        case ASSERT: if (holds(p.asserts[pc]!, input, at)) stack[sp++] = pc + 1; break
        case MATCH: matched = true; break
        default: list[count++] = pc
      }
    }
    return count
  }

  // Each round: advance every live thread over the character at `at`, then start a new thread at the
  // next position (search semantics). One generation per list, so a state is in a list at most once.
  generation++
  ccount = add(clist, 0, 0, 0)
  let at = 0
  while (!matched && at < input.length) {
    const cp = input.codePointAt(at)!
    const width = cp > 0xffff ? 2 : 1
    generation++
    ncount = 0
    verdict.fill(0)
    for (let i = 0; i < ccount; i++) {
      const pc = clist[i]!
      const t = p.testOf[pc]!
      let v = verdict[t]!
      if (v === 0) v = verdict[t] = p.distinct[t]!(cp) ? 1 : 2
      if (v === 1) ncount = add(nlist, ncount, pc + 1, at + width)
    }
    ncount = add(nlist, ncount, 0, at + width)
    ;[clist, nlist] = [nlist, clist]
    ccount = ncount
    at += width
  }
  return matched
}

function holds(kind: AssertKind, s: string, at: number): boolean {
  switch (kind) {
    case 'begin': return at === 0
    case 'end': return at === s.length
    case 'endz': return at === s.length || (at === s.length - 1 && s.charCodeAt(at) === NEWLINE)
    case 'bol': return at === 0 || s.charCodeAt(at - 1) === NEWLINE
    case 'eol': return at === s.length || s.charCodeAt(at) === NEWLINE
    case 'word': case 'nonword': {
      const before = at > 0 && isWord(s.codePointAt(at - 1 - (isLowSurrogate(s.charCodeAt(at - 1)) && at > 1 ? 1 : 0))!)
      const after = at < s.length && isWord(s.codePointAt(at)!)
      return (before !== after) === (kind === 'word')
    }
  }
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff
}
