import { parseCondition, type Condition } from './condition.ts'
import { keywordText, type EventSource, type FieldReader, type FieldValue } from './field-mapping.ts'
import { compileValues, type FieldStrings } from './modifiers.ts'
import { SigmaRuleError } from './parse-rule.ts'
import type { DetectionItem, DetectionRule, SearchBody } from './rule-model.ts'
import type { SigmaEvent } from './sigma-event.ts'

/** A detection rule compiled for one event source: a closure over the event's field values. */
export interface CompiledDetection {
  rule: DetectionRule
  source: EventSource
  match(ctx: MatchContext): boolean
  /** literals one of which the event's text must contain for the rule to match; null: no such set */
  anchors: string[] | null
  /** the Sigma fields the rule reads (their values join the text the index scans) */
  fields: ReadonlyMap<string, FieldReader>
  /** the rule searches the event's text with keywords */
  keywords: boolean
}

/** One event's field values for matching, each read and lowercased at most once however many rules ask. */
export class MatchContext {
  private readonly cache = new Map<string, FieldStrings>()
  private keywordStrings: FieldStrings | null = null
  constructor(readonly event: SigmaEvent, readonly source: EventSource) {}

  field(name: string, reader: FieldReader): FieldStrings {
    let v = this.cache.get(name)
    if (v === undefined) {
      v = toStrings(reader(this.event))
      this.cache.set(name, v)
    }
    return v
  }

  /** a field by name alone (fieldref): read through the source's mapping */
  named(name: string): FieldStrings {
    const reader = this.source.reader(name)
    return reader === null ? ABSENT : this.field(name, reader)
  }

  keywords(): FieldStrings {
    return (this.keywordStrings ??= toStrings(keywordText(this.event)))
  }
}

const ABSENT: FieldStrings = { present: false, raw: [], lower: [], numbers: [], typed: [] }

function toStrings(value: FieldValue): FieldStrings {
  if (value === null || value === undefined) return ABSENT
  const typed = (Array.isArray(value) ? value : [value]) as (string | number | boolean)[]
  if (typed.length === 0) return ABSENT
  const raw = typed.map(String)
  return {
    present: true,
    raw,
    lower: raw.map((s) => s.toLowerCase()),
    numbers: typed.map((x) => (typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : NaN)),
    typed,
  }
}

/**
 * Compiles a detection rule for one source. Throws a SigmaRuleError when the condition does not
 * parse, a modifier or pattern is refused, or a field has no source in these events.
 */
export function compileDetection(rule: DetectionRule, source: EventSource): CompiledDetection {
  const names = [...rule.searches.keys()]
  const fields = new Map<string, FieldReader>()
  const unmapped = new Set<string>()
  let keywords = false

  const compileItem = (item: DetectionItem): Compiled => {
    const values = compileValues(item.modifiers, item.values, item.field === null)
    for (const ref of values.refs) if (source.reader(ref) === null) unmapped.add(ref)
    const combine = values.all
      ? (v: FieldStrings, other: (f: string) => FieldStrings) => values.tests.every((t) => t.test(v, other))
      : (v: FieldStrings, other: (f: string) => FieldStrings) => values.tests.some((t) => t.test(v, other))
    const anchorSets = values.tests.map((t) => t.anchors)
    const anchors = values.all ? best(anchorSets) : union(anchorSets)
    if (item.field === null) {
      keywords = true
      return { match: (ctx) => combine(ctx.keywords(), (f) => ctx.named(f)), anchors }
    }
    const name = item.field
    const reader = source.reader(name)
    if (reader === null) {
      unmapped.add(name)
      return { match: () => false, anchors: null }
    }
    fields.set(name, reader)
    return { match: (ctx) => combine(ctx.field(name, reader), (f) => ctx.named(f)), anchors }
  }

  const compileBody = (body: SearchBody): Compiled => {
    if (body.kind === 'all') return and(body.items.map(compileItem))
    return or(body.bodies.map(compileBody))
  }

  const searches = new Map<string, Compiled>()
  for (const [name, body] of rule.searches) searches.set(name, compileBody(body))
  const compileCondition = (c: Condition): Compiled => {
    switch (c.kind) {
      case 'search': return searches.get(c.name)!
      case 'and': return and(c.args.map(compileCondition))
      case 'or': return or(c.args.map(compileCondition))
      case 'not': {
        const inner = compileCondition(c.arg)
        return { match: (ctx) => !inner.match(ctx), anchors: null }
      }
    }
  }
  const top = or(rule.conditions.map((text) => compileCondition(parseCondition(text, names))))
  if (unmapped.size > 0) {
    throw new SigmaRuleError('FIELD_UNMAPPED', `field${unmapped.size > 1 ? 's' : ''} ${[...unmapped].join(', ')} ha${unmapped.size > 1 ? 've' : 's'} no source in ${source.key} events`, { fields: [...unmapped] })
  }
  return { rule, source, match: top.match, anchors: top.anchors, fields, keywords }
}

interface Compiled {
  match(ctx: MatchContext): boolean
  anchors: string[] | null
}

function and(parts: Compiled[]): Compiled {
  if (parts.length === 1) return parts[0]!
  return { match: (ctx) => parts.every((p) => p.match(ctx)), anchors: best(parts.map((p) => p.anchors)) }
}

function or(parts: Compiled[]): Compiled {
  if (parts.length === 1) return parts[0]!
  return { match: (ctx) => parts.some((p) => p.match(ctx)), anchors: union(parts.map((p) => p.anchors)) }
}

/** Any branch matches: the event holds one of the branches' literals; unknown if any branch has none. */
function union(sets: (string[] | null)[]): string[] | null {
  if (sets.some((s) => s === null)) return null
  return [...new Set(sets.flat() as string[])]
}

/** Every branch must match: any one branch's literals will do; take the most selective (longest shortest literal, then fewest). */
function best(sets: (string[] | null)[]): string[] | null {
  let chosen: string[] | null = null
  for (const s of sets) {
    if (s === null || s.length === 0) continue
    if (chosen === null || selectivity(s) > selectivity(chosen)) chosen = s
  }
  return chosen
}

function selectivity(set: string[]): number {
  const shortest = Math.min(...set.map((s) => s.length))
  return Math.min(shortest, 8) * 1000 - set.length
}
