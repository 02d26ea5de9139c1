import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, join, relative } from 'node:path'
import { compileDetection, type CompiledDetection } from './compile-rule.ts'
import { compileCorrelation, type CompiledCorrelation } from './correlation.ts'
import { EVENT_SOURCES, servesLogsource, type EventSource } from './field-mapping.ts'
import { parseRuleFile, SigmaRuleError, type SkipCode } from './parse-rule.ts'
import type { CorrelationRule, DetectionRule, Logsource, SigmaRule } from './rule-model.ts'

/** A detection rule that loaded: compiled once for each event source it applies to. */
export interface LoadedDetection {
  rule: DetectionRule
  compiled: CompiledDetection[]
  /** the rule set it came from (see ruleSetOf) */
  ruleSet: string
}

/** A rule that did not load, and why. */
export interface SkippedRule {
  file: string
  id: string | null
  title: string | null
  ruleSet: string
  code: SkipCode
  reason: string
  /** FIELD_UNMAPPED: the Sigma fields our events have no source for */
  fields?: string[]
  /**
   * a correlation: the ids of the loaded rules it names, and its `generate`. Without `generate` they
   * raise no alert of their own, as if it had loaded (the engine reads this), rather than alert on every match.
   */
  correlates?: { rules: string[]; generate: boolean }
}

export interface RuleSet {
  detections: LoadedDetection[]
  correlations: CompiledCorrelation[]
  skipped: SkippedRule[]
}

export interface LoadOptions {
  /** the event sources rules compile for (default: every source in field-mapping.ts) */
  sources?: readonly EventSource[]
}

/**
 * Loads every `.yml`/`.yaml` rule under the given directories (or files). A rule that does not
 * parse or compile is skipped with its file and reason; loading never throws for a rule.
 */
export function loadRuleSet(paths: readonly string[], options: LoadOptions = {}): RuleSet {
  const files: { file: string; root: string; license: string | null }[] = []
  for (const p of paths) {
    const root = statSync(p).isDirectory() ? p : dirname(p)
    for (const file of statSync(p).isDirectory() ? ruleFiles(p) : [p]) files.push({ file, root, license: licenseNear(file) })
  }
  return compileRuleSet(files.map(({ file, root, license }) => ({
    file, label: relative(root, file) || basename(file), license, text: readFileSync(file, 'utf8'),
  })), options)
}

/** Compiles rules given as text (what loadRuleSet reads from files). */
export function compileRuleSet(
  inputs: readonly { file: string; label?: string; license?: string | null; text: string }[], options: LoadOptions = {},
): RuleSet {
  const sources = options.sources ?? EVENT_SOURCES
  const detections: LoadedDetection[] = []
  const correlationRules: { rule: CorrelationRule; ruleSet: string }[] = []
  const skipped: SkippedRule[] = []
  const seenIds = new Set<string>()
  // Correlations that did not load, with the rule ids or names they give: resolved once every detection has loaded.
  const unloaded: { entry: SkippedRule; rules: string[]; generate: boolean }[] = []

  for (const input of inputs) {
    const label = input.label ?? input.file
    let rules: SigmaRule[]
    try {
      rules = parseRuleFile(input.text, { file: input.file, license: input.license ?? null })
    } catch (err) {
      const entry: SkippedRule = { file: input.file, id: null, title: null, ruleSet: ruleSetOf(label, null), ...reasonOf(err) }
      skipped.push(entry)
      if (err instanceof SigmaRuleError && err.correlates !== null) unloaded.push({ entry, ...err.correlates })
      continue
    }
    for (const rule of rules) {
      const ruleSet = ruleSetOf(label, rule.kind === 'detection' ? rule.logsource : null)
      const skip = (code: SkipCode, reason: string, fields?: string[]) =>
        skipped.push({ file: input.file, id: rule.attribution.id, title: rule.attribution.title, ruleSet, code, reason, ...(fields && { fields }) })
      if (seenIds.has(rule.attribution.id)) {
        skip('DUPLICATE_ID', `id ${rule.attribution.id} was already loaded`)
        continue
      }
      if (rule.kind === 'correlation') {
        seenIds.add(rule.attribution.id)
        correlationRules.push({ rule, ruleSet })
        continue
      }
      const applicable = sources.filter((s) => servesLogsource(s, rule.logsource))
      if (applicable.length === 0) {
        skip('NO_EVENT_SOURCE', `no event source for logsource ${describe(rule.logsource)}`)
        continue
      }
      const compiled: CompiledDetection[] = []
      let firstError: unknown = null
      for (const source of applicable) {
        try {
          compiled.push(compileDetection(rule, source))
        } catch (err) {
          firstError ??= err
        }
      }
      if (compiled.length === 0) {
        const { code, reason, fields } = reasonOf(firstError)
        skip(code, reason, fields)
        continue
      }
      seenIds.add(rule.attribution.id)
      detections.push({ rule, compiled, ruleSet })
    }
  }

  const correlations: CompiledCorrelation[] = []
  for (const { rule, ruleSet } of correlationRules) {
    try {
      correlations.push(compileCorrelation(rule, detections))
    } catch (err) {
      const entry: SkippedRule = { file: rule.attribution.file, id: rule.attribution.id, title: rule.attribution.title, ruleSet, ...reasonOf(err) }
      skipped.push(entry)
      unloaded.push({ entry, rules: rule.rules, generate: rule.generate })
    }
  }
  for (const { entry, rules, generate } of unloaded) {
    const ids = [...new Set(rules.flatMap((ref) => detections.filter((d) => d.rule.attribution.id === ref || d.rule.name === ref).map((d) => d.rule.attribution.id)))]
    if (ids.length === 0) continue
    entry.correlates = { rules: ids, generate }
    if (!generate) entry.reason += `; the rules it names stay silent (no generate): ${ids.join(', ')}`
  }
  return { detections, correlations, skipped }
}

function reasonOf(err: unknown): { code: SkipCode; reason: string; fields?: string[] } {
  if (err instanceof SigmaRuleError) return { code: err.code, reason: err.message, ...(err.fields.length > 0 && { fields: err.fields }) }
  // A bug met by one rule must not stop the others from loading: it is reported like any reason.
  return { code: 'RULE_INVALID', reason: `unexpected error: ${err instanceof Error ? err.message : String(err)}` }
}

function describe(l: Logsource): string {
  return Object.entries(l).map(([k, v]) => `${k}: ${v}`).join(', ')
}

/**
 * The rule set a rule belongs to, for the report: its collection (the first folder under the path
 * given, e.g. rules, rules-emerging-threats) and its kind of log (linux, web, zeek, or other).
 */
export function ruleSetOf(label: string, logsource: Logsource | null): string {
  const parts = label.split(/[\\/]/)
  const collection = parts.length > 1 ? parts[0]! : '.'
  let kind = 'other'
  if (logsource !== null) {
    if (logsource.product === 'linux') kind = 'linux'
    else if (logsource.product === 'zeek') kind = 'zeek'
    else if (logsource.category === 'webserver' || logsource.category === 'proxy' || logsource.service === 'apache' || logsource.service === 'nginx') kind = 'web'
  } else {
    const name = basename(label)
    kind = /^(lnx|linux)_/.test(name) ? 'linux' : /^zeek_/.test(name) ? 'zeek' : /^(web|proxy)_/.test(name) ? 'web' : 'other'
  }
  return `${collection}/${kind}`
}

function ruleFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    // Hidden entries are not rules: a Kubernetes ConfigMap volume's ..data links, a clone's .github.
    if (entry.name.startsWith('.')) continue
    const full = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...ruleFiles(full))
    else if (/\.ya?ml$/i.test(entry.name)) out.push(full)
  }
  return out
}

/** The license named by the nearest LICENSE file in the rule's folder or above it. */
function licenseNear(file: string): string | null {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    for (const name of ['LICENSE', 'LICENSE.md']) {
      const p = join(dir, name)
      if (!existsSync(p) || !statSync(p).isFile()) continue
      const text = readFileSync(p, 'utf8')
      const drl = /Detection Rule License[^\n]*?(\d+\.\d+)/i.exec(text)
      if (drl) return `DRL-${drl[1]}`
      return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? null
    }
    if (dirname(dir) === dir) return null
  }
}
