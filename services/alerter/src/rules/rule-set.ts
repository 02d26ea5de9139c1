import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from '@vigil/platform'
import { loadReport, loadRuleSet, type LoadReport, type RuleSet } from '@vigil/sigma'

/**
 * The rules the alerter runs unless SIGMA_RULES says otherwise: its own directory (a selection of
 * SigmaHQ's rules, `rules/sigmahq`, and Vigil's correlations, `rules/vigil`) and the rules over ML
 * anomalies that ship with @vigil/sigma (`packages/sigma/rules`).
 */
export const DEFAULT_RULE_DIRS: readonly string[] = [
  fileURLToPath(new URL('../../rules', import.meta.url)),
  join(dirname(createRequire(import.meta.url).resolve('@vigil/sigma')), '..', 'rules'),
]

/** A loaded rule set, what loaded and what did not, and the version alerts name. */
export interface LoadedRules {
  set: RuleSet
  report: LoadReport
  /** `sigma@<hash of the rule files>`: alerts carry it as their modelVersion, so an alert says which rules raised it */
  version: string
}

/** Loads the rules under `dirs` once (a missing path stops the start) and logs what loaded and what was skipped. */
export function loadRules(dirs: readonly string[], log: Pick<Logger, 'info' | 'debug'>): LoadedRules {
  const set = loadRuleSet(dirs)
  const report = loadReport(set)
  const version = versionOf(set)
  log.info({
    dirs, version, ...report.totals,
    sets: Object.fromEntries(report.sets.map((s) => [s.ruleSet, { loaded: s.loaded, correlations: s.correlations, skipped: s.skipped }])),
  }, 'sigma rules loaded')
  for (const s of set.skipped) log.debug({ file: s.file, id: s.id, code: s.code }, `sigma rule skipped: ${s.reason}`)
  return { set, report, version }
}

/** The rule files' content, hashed: two instances with the same files name the same version. */
function versionOf(set: RuleSet): string {
  const files = [...new Set([...set.detections.map((d) => d.rule.attribution.file), ...set.correlations.map((c) => c.rule.attribution.file)])].sort()
  const hash = createHash('sha256')
  for (const f of files) hash.update(f.slice(f.lastIndexOf('/') + 1)).update('\u0000').update(readFileSync(f)).update('\u0000')
  return `sigma@${hash.digest('hex').slice(0, 12)}`
}

/** How many rules there are per rule set and state: loaded, correlation, or skipped:<code>. */
export interface RuleCount {
  ruleSet: string
  state: string
  rules: number
}

export function ruleCounts(report: LoadReport): RuleCount[] {
  return report.sets.flatMap((s) => [
    { ruleSet: s.ruleSet, state: 'loaded', rules: s.loaded },
    { ruleSet: s.ruleSet, state: 'correlation', rules: s.correlations },
    ...Object.entries(s.skipped).map(([code, rules]) => ({ ruleSet: s.ruleSet, state: `skipped:${code}`, rules: rules ?? 0 })),
  ])
}

/** A gauge with rule_set and state labels (prom-client's Gauge has this shape). */
export interface RuleGauge {
  set(labels: { rule_set: string; state: string }, value: number): void
}

/** Sets the gauge to the rule counts (e.g. app_sigma_rules{rule_set,state}). */
export function recordRuleCounts(report: LoadReport, gauge: RuleGauge): void {
  for (const c of ruleCounts(report)) gauge.set({ rule_set: c.ruleSet, state: c.state }, c.rules)
}
