// Sigma rule-set benchmark: events/s of the engine with 1, 10, 100 and all loaded SigmaHQ rules
// (linux, web, zeek: test/fixtures/sigma), over real normalized events (the differential test's
// samples, from test/fixtures), beside two
// baselines in the same run: without the literal index (rules picked by event source only), and
// without any index (every rule's logsource checked and every applicable rule run, per event).
// Run: npx tsx bench/sigma/rules.ts
import { createSigmaEngine } from '../../packages/sigma/src/engine.ts'
import { MatchContext } from '../../packages/sigma/src/compile-rule.ts'
import { sourceOf } from '../../packages/sigma/src/field-mapping.ts'
import { loadRuleSet, type LoadedDetection } from '../../packages/sigma/src/load-rules.ts'
import type { SigmaEvent } from '../../packages/sigma/src/sigma-event.ts'
import { readSampleEvents, SIGMA_RULES } from '../../scripts/sigma-differential/export-events.ts'

const PASSES = 3
const set = loadRuleSet([SIGMA_RULES])
const events = await readSampleEvents()

// Seeded shuffle (mulberry32), so the 1/10/100-rule subsets are the same every run.
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let a = seed >>> 0
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/** Best of PASSES: events per second of `matchAll` over every event. */
function measure(matchAll: (events: SigmaEvent[]) => number): { eventsPerSecond: number; matches: number } {
  let best = Infinity
  let matches = 0
  for (let p = 0; p < PASSES; p++) {
    const start = performance.now()
    matches = matchAll(events)
    best = Math.min(best, performance.now() - start)
  }
  return { eventsPerSecond: Math.round(events.length / (best / 1000)), matches }
}

/** No index at all: per event, every rule's logsource test, then every applicable rule. */
function naive(detections: readonly LoadedDetection[]): (events: SigmaEvent[]) => number {
  return (evs) => {
    let n = 0
    for (const e of evs) {
      const source = sourceOf(e)
      const ctx = new MatchContext(e, source)
      for (const d of detections) {
        const compiled = d.compiled.find((c) => c.source.key === source.key)
        if (compiled !== undefined && compiled.match(ctx)) n++
      }
    }
    return n
  }
}

const order = shuffled(set.detections, 20240601)
const sizes = [1, 10, 100, order.length]
console.log(`${events.length} events, ${set.detections.length} rules loaded (${set.skipped.length} skipped); best of ${PASSES} passes`)
console.log(['rules', 'indexed ev/s', 'rules run/event', 'source-index-only ev/s', 'no-index ev/s', 'matches'].join('\t'))
const rows: Record<string, number>[] = []
for (const size of sizes) {
  const detections = order.slice(0, size)
  const indexed = createSigmaEngine({ detections })
  const sourceOnly = createSigmaEngine({ detections }, { literalIndex: false })
  const a = measure((evs) => evs.reduce((n, e) => n + indexed.match(e).length, 0))
  const runPerEvent = indexed.stats.evaluated / indexed.stats.events
  const b = measure((evs) => evs.reduce((n, e) => n + sourceOnly.match(e).length, 0))
  const c = measure(naive(detections))
  if (a.matches !== b.matches || b.matches !== c.matches) throw new Error(`index changed the matches: ${a.matches} ${b.matches} ${c.matches}`)
  rows.push({ size, indexed: a.eventsPerSecond, sourceOnly: b.eventsPerSecond, naive: c.eventsPerSecond })
  console.log([size, a.eventsPerSecond, runPerEvent.toFixed(2), b.eventsPerSecond, c.eventsPerSecond, a.matches].join('\t'))
}
const first = rows[0]!
const at100 = rows.find((r) => r.size === 100)!
console.log(`slowdown from 1 to 100 rules: indexed ${(first.indexed! / at100.indexed!).toFixed(2)}x, source index only ${(first.sourceOnly! / at100.sourceOnly!).toFixed(2)}x, no index ${(first.naive! / at100.naive!).toFixed(2)}x`)
