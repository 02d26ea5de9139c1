// Our engine against pySigma's SQLite backend on the same events and rules: the agreement figure,
// and every disagreement with its reason (known-differences.json) or flagged as unexplained.
import { createReadStream, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createSigmaEngine } from '../../packages/sigma/src/engine.ts'
import type { RuleSet } from '../../packages/sigma/src/load-rules.ts'
import type { ExportedEvent } from './export-events.ts'

export interface ReferenceResult {
  converted: Record<string, string>
  errors: Record<string, string>
  matches: Record<string, string[]>
}

export interface Disagreement {
  ruleId: string
  title: string
  /** events only our engine matched / only pySigma matched (first few) */
  onlyOurs: string[]
  onlyReference: string[]
  counts: { ours: number; reference: number; both: number }
  /** why, from known-differences.json; null when nobody has explained it */
  reason: string | null
}

export interface Comparison {
  /** rules compared: loaded by us or matched by pySigma */
  rules: number
  /** rules whose match sets are identical */
  rulesAgreeing: number
  /** rules that matched at least one event, in either engine: what the agreement is about */
  rulesMatching: number
  /** (rule, event) pairs matched by both / by either: the agreement figure */
  pairsBoth: number
  pairsEither: number
  agreement: number
  disagreements: Disagreement[]
}

const HERE = dirname(fileURLToPath(import.meta.url))

/** rule id → why our engine and pySigma differ on it, for differences that are not bugs. */
export function knownDifferences(): Record<string, string> {
  return JSON.parse(readFileSync(join(HERE, 'known-differences.json'), 'utf8')) as Record<string, string>
}

/** Runs our engine over the exported events: rule id → matched event ids. */
export async function runOurEngine(eventsPath: string, set: RuleSet): Promise<Map<string, string[]>> {
  const engine = createSigmaEngine(set)
  const matches = new Map<string, string[]>()
  const lines = createInterface({ input: createReadStream(eventsPath, 'utf8'), crlfDelay: Infinity })
  for await (const line of lines) {
    if (line === '') continue
    const { event } = JSON.parse(line) as ExportedEvent
    for (const m of engine.match(event)) matches.set(m.rule.id, [...(matches.get(m.rule.id) ?? []), event.eventId])
  }
  return matches
}

export function compare(ours: Map<string, string[]>, reference: ReferenceResult, set: RuleSet, known = knownDifferences()): Comparison {
  const titles = new Map(set.detections.map((d) => [d.rule.attribution.id, d.rule.attribution.title]))
  const ids = new Set([...titles.keys(), ...Object.keys(reference.matches)])
  let pairsBoth = 0
  let pairsEither = 0
  let rulesAgreeing = 0
  let rulesMatching = 0
  const disagreements: Disagreement[] = []
  for (const id of [...ids].sort()) {
    const a = new Set(ours.get(id) ?? [])
    const b = new Set(reference.matches[id] ?? [])
    const both = [...a].filter((x) => b.has(x)).length
    pairsBoth += both
    pairsEither += a.size + b.size - both
    if (a.size + b.size > 0) rulesMatching++
    if (both === a.size && both === b.size) {
      rulesAgreeing++
      continue
    }
    disagreements.push({
      ruleId: id,
      title: titles.get(id) ?? reference.converted[id] ?? id,
      onlyOurs: [...a].filter((x) => !b.has(x)).slice(0, 5),
      onlyReference: [...b].filter((x) => !a.has(x)).slice(0, 5),
      counts: { ours: a.size, reference: b.size, both },
      reason: known[id] ?? null,
    })
  }
  return { rules: ids.size, rulesAgreeing, rulesMatching, pairsBoth, pairsEither, agreement: pairsEither === 0 ? 1 : pairsBoth / pairsEither, disagreements }
}

export function formatComparison(c: Comparison): string {
  const lines = [
    `agreement: ${(c.agreement * 100).toFixed(2)}% of (rule, event) matches (${c.pairsBoth} by both of ${c.pairsEither} by either); ` +
      `${c.rulesAgreeing}/${c.rules} rules with identical matches; ${c.rulesMatching} rules matched events`,
  ]
  for (const d of c.disagreements) {
    lines.push(`- ${d.title} (${d.ruleId}): ours ${d.counts.ours}, pySigma ${d.counts.reference}, both ${d.counts.both}`)
    lines.push(`    reason: ${d.reason ?? 'UNEXPLAINED'}`)
    if (d.onlyOurs.length > 0) lines.push(`    only ours: ${d.onlyOurs.join(', ')}`)
    if (d.onlyReference.length > 0) lines.push(`    only pySigma: ${d.onlyReference.join(', ')}`)
  }
  return lines.join('\n')
}
