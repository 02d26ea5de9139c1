import { createLiteralScanner, type LiteralScanner } from './aho-corasick.ts'
import { MatchContext, type CompiledDetection } from './compile-rule.ts'
import type { CompiledCorrelation } from './correlation.ts'
import { sourceOf, type EventSource, type FieldReader } from './field-mapping.ts'
import type { LoadedDetection, SkippedRule } from './load-rules.ts'
import type { Attribution } from './rule-model.ts'
import type { SigmaEvent } from './sigma-event.ts'

/** One detection rule matching one event, with the attribution the rule's license asks alerts to keep. */
export interface DetectionMatch {
  kind: 'detection'
  rule: Attribution
  eventId: string
  eventTime: number
  /** the event source the rule matched in (field-mapping.ts) */
  source: string
  /** false when the rule only feeds correlations (Sigma's `generate: false`): no alert of its own */
  alert: boolean
}

export interface SigmaEngine {
  /** The detection rules that match the event (in load order). Pure and synchronous. */
  match(event: SigmaEvent): DetectionMatch[]
  /**
   * how many rule evaluations the index let through, how many events, and how many event sources
   * have an index (at most EVENT_SOURCES' length, whatever the input) (for benchmarks and metrics)
   */
  readonly stats: { events: number; evaluated: number; sources: number }
}

export interface EngineOptions {
  /**
   * true (default): per source, only rules whose required literals occur in the event are
   * evaluated. false: every rule of the event's source is (the benchmark's baseline).
   */
  literalIndex?: boolean
}

/**
 * The matcher over a loaded rule set. Rules are indexed so that an event's cost depends on the
 * rules that could match it, not on the size of the rule set:
 * 1. by event source: an event meets only the rules compiled at load for its source (its family,
 *    program, Zeek log: the logsource), indexed on first use; sources are a fixed set, so input
 *    cannot grow this;
 * 2. by required literals: from each rule's condition the compiler derives a set of literals one of
 *    which must occur in any event it matches (an `and` takes its most selective branch's, an `or`
 *    the union of its branches', a `not` none); per source, one Aho–Corasick automaton over all
 *    those literals scans the event's text (its line and the fields the rules read, lowercased)
 *    once, and only the rules whose literals occur, plus those without any, are evaluated.
 */
export function createSigmaEngine(
  ruleSet: { detections: readonly LoadedDetection[]; correlations?: readonly CompiledCorrelation[]; skipped?: readonly SkippedRule[] },
  options: EngineOptions = {},
): SigmaEngine {
  const literalIndex = options.literalIndex ?? true
  const feedsOnly = silencedRules(ruleSet.correlations ?? [], ruleSet.skipped ?? [])
  const indexes = new Map<string, SourceIndex>()
  const stats = { events: 0, evaluated: 0, sources: 0 }

  const indexOf = (source: EventSource): SourceIndex => {
    let index = indexes.get(source.key)
    if (index === undefined) {
      index = buildSourceIndex(compiledFor(ruleSet.detections, source), literalIndex)
      indexes.set(source.key, index)
      stats.sources = indexes.size
    }
    return index
  }

  return {
    stats,
    match(event) {
      stats.events++
      const source = sourceOf(event)
      const index = indexOf(source)
      if (index.rules.length === 0) return []
      const ctx = new MatchContext(event, source)
      const matched: number[] = []
      if (index.scanner === null) {
        stats.evaluated += index.rules.length
        for (let i = 0; i < index.rules.length; i++) if (index.rules[i]!.match(ctx)) matched.push(i)
      } else {
        const candidates = index.candidates(ctx)
        stats.evaluated += candidates.length
        for (const i of candidates) if (index.rules[i]!.match(ctx)) matched.push(i)
      }
      return matched.map((i) => {
        const rule = index.rules[i]!.rule
        return {
          kind: 'detection', rule: rule.attribution, eventId: event.eventId, eventTime: event.eventTime, source: source.key,
          alert: !feedsOnly.has(rule.attribution.id),
        }
      })
    },
  }
}

interface SourceIndex {
  rules: CompiledDetection[]
  scanner: LiteralScanner | null
  /** the rules worth evaluating for this event, in load order: those without literals, and those whose literals occur */
  candidates(ctx: MatchContext): number[]
}

function buildSourceIndex(rules: CompiledDetection[], literalIndex: boolean): SourceIndex {
  if (!literalIndex) return { rules, scanner: null, candidates: () => rules.map((_, i) => i) }
  const fields = new Map<string, FieldReader>()
  for (const r of rules) for (const [name, reader] of r.fields) fields.set(name, reader)
  const scanLine = rules.some((r) => r.keywords)
  const always: number[] = []
  const literals = new Map<string, number[]>()
  rules.forEach((r, i) => {
    if (r.anchors === null) return always.push(i)
    for (const lit of r.anchors) literals.set(lit, [...(literals.get(lit) ?? []), i])
  })
  const scanner = createLiteralScanner([...literals.keys()])
  const byLiteral = [...literals.values()]
  const fieldList = [...fields]
  // Scratch reused across events (the engine is synchronous): a rule is a candidate at most once per event.
  const stamp = new Uint32Array(rules.length)
  let generation = 0
  let found: number[] = []
  const hit = (lit: number) => {
    for (const i of byLiteral[lit]!) {
      if (stamp[i] !== generation) {
        stamp[i] = generation
        found.push(i)
      }
    }
  }
  return {
    rules,
    scanner,
    candidates(ctx) {
      generation++
      found = [...always]
      // The line (for keyword rules) and every field the source's rules read, lowercased.
      if (scanLine) for (const s of ctx.keywords().lower) scanner.scan(s, hit)
      for (const [name, reader] of fieldList) for (const s of ctx.field(name, reader).lower) scanner.scan(s, hit)
      return found.length > always.length ? found.sort((a, b) => a - b) : found
    },
  }
}

/** The rules compiled for a source, in load order. */
function compiledFor(detections: readonly LoadedDetection[], source: EventSource): CompiledDetection[] {
  return detections.flatMap((d) => d.compiled.find((c) => c.source.key === source.key) ?? [])
}

/**
 * Rules referenced only by correlations that do not `generate` them: they match, but raise no alert of
 * their own. A correlation that did not load (skipped) silences its rules all the same: its rules
 * were written to feed it, not to alert on every match.
 */
function silencedRules(correlations: readonly CompiledCorrelation[], skipped: readonly SkippedRule[]): Set<string> {
  const silenced = new Set<string>()
  const generated = new Set<string>()
  const mark = (ids: readonly string[], generate: boolean) => { for (const id of ids) (generate ? generated : silenced).add(id) }
  for (const c of correlations) mark(c.steps.map((step) => step.rule.attribution.id), c.rule.generate)
  for (const s of skipped) if (s.correlates) mark(s.correlates.rules, s.correlates.generate)
  for (const id of generated) silenced.delete(id)
  return silenced
}
