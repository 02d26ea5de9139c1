import type { SkipCode } from './parse-rule.ts'
import type { RuleSet } from './load-rules.ts'

/** What loaded and what did not, per rule set, and the Sigma fields our events lack. */
export interface LoadReport {
  sets: { ruleSet: string; loaded: number; correlations: number; skipped: Partial<Record<SkipCode, number>> }[]
  totals: { loaded: number; correlations: number; skipped: number }
  /** Sigma fields that made rules skip (no source in our events), with how many rules need each */
  missingFields: { field: string; rules: number }[]
  /** fields loaded rules read only from Zeek's JSON line: absent when the line is TSV */
  rawOnlyFields: { field: string; rules: number }[]
  /** skipped for having no event source, per logsource */
  noSource: { logsource: string; rules: number }[]
}

export function loadReport(set: RuleSet): LoadReport {
  const sets = new Map<string, LoadReport['sets'][number]>()
  const entry = (ruleSet: string) => {
    let e = sets.get(ruleSet)
    if (e === undefined) sets.set(ruleSet, (e = { ruleSet, loaded: 0, correlations: 0, skipped: {} }))
    return e
  }
  for (const d of set.detections) entry(d.ruleSet).loaded++
  for (const c of set.correlations) entry(c.steps[0]?.ruleSet ?? 'correlations').correlations++
  const missing = new Map<string, number>()
  const noSource = new Map<string, number>()
  for (const s of set.skipped) {
    const e = entry(s.ruleSet)
    e.skipped[s.code] = (e.skipped[s.code] ?? 0) + 1
    for (const f of s.fields ?? []) missing.set(f, (missing.get(f) ?? 0) + 1)
    if (s.code === 'NO_EVENT_SOURCE') {
      const logsource = s.reason.replace(/^no event source for logsource /, '')
      noSource.set(logsource, (noSource.get(logsource) ?? 0) + 1)
    }
  }
  const rawOnly = new Map<string, number>()
  for (const d of set.detections) {
    const fields = new Set<string>()
    for (const c of d.compiled) for (const f of c.fields.keys()) if (c.source.rawOnly(f)) fields.add(f)
    for (const f of fields) rawOnly.set(f, (rawOnly.get(f) ?? 0) + 1)
  }
  const ranked = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
  return {
    sets: [...sets.values()].sort((a, b) => a.ruleSet.localeCompare(b.ruleSet)),
    totals: { loaded: set.detections.length, correlations: set.correlations.length, skipped: set.skipped.length },
    missingFields: ranked(missing).map(([field, rules]) => ({ field, rules })),
    rawOnlyFields: ranked(rawOnly).map(([field, rules]) => ({ field, rules })),
    noSource: ranked(noSource).map(([logsource, rules]) => ({ logsource, rules })),
  }
}

/** The report as text for people (the load-report CLI). */
export function formatLoadReport(report: LoadReport): string {
  const lines: string[] = []
  const codes = [...new Set(report.sets.flatMap((s) => Object.keys(s.skipped)))].sort() as SkipCode[]
  lines.push(['rule set', 'loaded', 'correlations', ...codes.map((c) => `skipped ${c}`)].join('\t'))
  for (const s of report.sets) lines.push([s.ruleSet, s.loaded, s.correlations, ...codes.map((c) => s.skipped[c] ?? 0)].join('\t'))
  const t = report.totals
  lines.push(`total\t${t.loaded} loaded, ${t.correlations} correlations, ${t.skipped} skipped`)
  if (report.noSource.length > 0) {
    lines.push('', 'no event source (logsource: rules):')
    for (const n of report.noSource) lines.push(`  ${n.logsource}: ${n.rules}`)
  }
  if (report.missingFields.length > 0) {
    lines.push('', 'Sigma fields with no source in our events (field: rules skipped for it):')
    for (const f of report.missingFields) lines.push(`  ${f.field}: ${f.rules}`)
  }
  if (report.rawOnlyFields.length > 0) {
    lines.push('', 'fields read only from Zeek JSON lines, absent for TSV (field: loaded rules reading it):')
    for (const f of report.rawOnlyFields) lines.push(`  ${f.field}: ${f.rules}`)
  }
  return lines.join('\n')
}
