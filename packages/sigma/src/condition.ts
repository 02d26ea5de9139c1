import { SigmaRuleError } from './parse-rule.ts'

/** A rule condition with `x of y` already expanded to the search identifiers it names. */
export type Condition =
  | { kind: 'search'; name: string }
  | { kind: 'and'; args: Condition[] }
  | { kind: 'or'; args: Condition[] }
  | { kind: 'not'; arg: Condition }

/**
 * Parses a Sigma condition: `and`, `or`, `not`, parentheses, `1 of x*`, `any of x*`, `all of x*`,
 * `1 of them`, `all of them`. Precedence: not > and > or (Sigma's, as pySigma's grammar). Patterns
 * take `*` wildcards; `them` is every search identifier not starting with `_`. Sigma 1 aggregations
 * (`| count() > 5`) are refused: correlation rules replace them.
 */
export function parseCondition(text: string, searchNames: readonly string[]): Condition {
  if (text.includes('|')) throw new SigmaRuleError('CORRELATION_UNSUPPORTED', `condition "${text}": aggregations (| count() ...) are replaced by correlation rules`)
  const tokens = tokenize(text)
  let pos = 0
  const peek = (): string | undefined => tokens[pos]
  const next = (): string => {
    const t = tokens[pos++]
    if (t === undefined) throw bad(text, 'ends too early')
    return t
  }
  const isWord = (t: string | undefined, word: string) => t !== undefined && t.toLowerCase() === word

  function or(): Condition {
    const args = [and()]
    while (isWord(peek(), 'or')) {
      pos++
      args.push(and())
    }
    return args.length === 1 ? args[0]! : { kind: 'or', args }
  }
  function and(): Condition {
    const args = [not()]
    while (isWord(peek(), 'and')) {
      pos++
      args.push(not())
    }
    return args.length === 1 ? args[0]! : { kind: 'and', args }
  }
  function not(): Condition {
    if (isWord(peek(), 'not')) {
      pos++
      return { kind: 'not', arg: not() }
    }
    return atom()
  }
  function atom(): Condition {
    const t = next()
    if (t === '(') {
      const inner = or()
      if (peek() !== ')') throw bad(text, 'missing )')
      pos++
      return inner
    }
    if (t === ')') throw bad(text, 'unexpected )')
    const lower = t.toLowerCase()
    if ((lower === '1' || lower === 'any' || lower === 'all') && isWord(peek(), 'of')) {
      pos++
      const target = next()
      const names = target.toLowerCase() === 'them' ? searchNames.filter((n) => !n.startsWith('_')) : searchNames.filter(globMatcher(target))
      if (names.length === 0) throw bad(text, `"${t} of ${target}" names no search identifier`)
      const refs: Condition[] = names.map((name) => ({ kind: 'search', name }))
      if (refs.length === 1) return refs[0]!
      return lower === 'all' ? { kind: 'and', args: refs } : { kind: 'or', args: refs }
    }
    if (['and', 'or', 'not', 'of'].includes(lower)) throw bad(text, `unexpected "${t}"`)
    if (!searchNames.includes(t)) throw bad(text, `unknown search identifier "${t}"`)
    return { kind: 'search', name: t }
  }

  const result = or()
  if (pos !== tokens.length) throw bad(text, `unexpected "${tokens[pos]}"`)
  return result
}

const TOKEN = /\s*([()]|[^\s()]+)/y

function tokenize(text: string): string[] {
  const tokens: string[] = []
  TOKEN.lastIndex = 0
  const trimmed = text.trim()
  while (TOKEN.lastIndex < trimmed.length) {
    const m = TOKEN.exec(trimmed)
    if (m === null) break
    tokens.push(m[1]!)
  }
  return tokens
}

/** `selection_*` style patterns: `*` any run of characters, the rest literal. */
function globMatcher(pattern: string): (name: string) => boolean {
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')
  const re = new RegExp(`^${source}$`)
  return (name) => re.test(name)
}

function bad(text: string, why: string): SigmaRuleError {
  return new SigmaRuleError('CONDITION_INVALID', `condition "${text}": ${why}`)
}
