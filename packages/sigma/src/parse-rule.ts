import { parseAllDocuments } from 'yaml'
import type {
  Attribution, CorrelationRule, CorrelationType, CountCondition, DetectionItem, DetectionRule, Logsource, SearchBody, SigmaRule, SigmaValue,
} from './rule-model.ts'

/** Why a rule was not loaded; `code` groups reasons in the load report. */
export class SigmaRuleError extends Error {
  /** FIELD_UNMAPPED: the fields without a source */
  readonly fields: string[]
  /** a correlation that did not parse: the rules it names and its `generate`, so they stay silent all the same */
  readonly correlates: { rules: string[]; generate: boolean } | null
  constructor(readonly code: SkipCode, message: string, details: { fields?: string[]; correlates?: { rules: string[]; generate: boolean } } = {}) {
    super(message)
    this.fields = details.fields ?? []
    this.correlates = details.correlates ?? null
    this.name = 'SigmaRuleError'
  }
}

export type SkipCode =
  | 'YAML_INVALID'
  | 'RULE_INVALID'
  | 'CONDITION_INVALID'
  | 'MODIFIER_UNSUPPORTED'
  | 'REGEX_UNSUPPORTED'
  | 'REGEX_UNSAFE'
  | 'NO_EVENT_SOURCE'
  | 'FIELD_UNMAPPED'
  | 'CORRELATION_UNSUPPORTED'
  | 'CORRELATION_UNRESOLVED'
  | 'DUPLICATE_ID'

export interface ParseContext {
  file: string
  /** the rule set's license when the rules carry none (e.g. DRL-1.1 from the LICENSE beside them) */
  license: string | null
}

/**
 * Reads one rule file: each YAML document is a detection or a correlation rule. A document that is
 * not a valid rule throws a SigmaRuleError naming what is wrong; the caller decides what to skip.
 */
export function parseRuleFile(text: string, context: ParseContext): SigmaRule[] {
  // YAML 1.1, as PyYAML (and so pySigma and the SigmaHQ tooling) reads rules: `yes`/`on` are booleans there.
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: false, version: '1.1' })
  if (!Array.isArray(docs)) throw new SigmaRuleError('YAML_INVALID', 'not a YAML document stream')
  const rules: SigmaRule[] = []
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new SigmaRuleError('YAML_INVALID', doc.errors[0]!.message.split('\n')[0]!)
    const value: unknown = doc.toJS({ maxAliasCount: 100 })
    if (value === null || value === undefined) continue
    rules.push(parseRule(value, context))
  }
  if (rules.length === 0) throw new SigmaRuleError('RULE_INVALID', 'file holds no rule')
  return rules
}

/** One rule document (already parsed from YAML) into the rule model. */
export function parseRule(doc: unknown, context: ParseContext): SigmaRule {
  if (!isRecord(doc)) throw invalid('a rule must be a mapping')
  if (doc.action !== undefined) throw new SigmaRuleError('RULE_INVALID', `rule collections (action: ${String(doc.action)}) are not supported`)
  const attribution = attributionOf(doc, context)
  const name = typeof doc.name === 'string' ? doc.name : null
  if (doc.correlation !== undefined) return correlationOf(doc.correlation, attribution, name)
  return detectionOf(doc, attribution, name)
}

function attributionOf(doc: Record<string, unknown>, context: ParseContext): Attribution {
  const title = doc.title
  if (typeof title !== 'string' || title.trim() === '') throw invalid('missing title')
  const id = doc.id
  if (id !== undefined && typeof id !== 'string') throw invalid('id must be a string')
  return {
    id: id ?? `${context.file}#${title}`,
    title,
    author: typeof doc.author === 'string' ? doc.author : null,
    level: typeof doc.level === 'string' ? doc.level : null,
    status: typeof doc.status === 'string' ? doc.status : null,
    references: stringList(doc.references),
    tags: stringList(doc.tags),
    license: typeof doc.license === 'string' ? doc.license : context.license,
    file: context.file,
  }
}

// ------------------------------------------------------------------------------------- detection

function detectionOf(doc: Record<string, unknown>, attribution: Attribution, name: string | null): DetectionRule {
  const logsource = logsourceOf(doc.logsource)
  const detection = doc.detection
  if (!isRecord(detection)) throw invalid('missing detection')
  const condition = detection.condition
  const conditions = typeof condition === 'string' ? [condition] : Array.isArray(condition) && condition.every((c) => typeof c === 'string') ? condition as string[] : null
  if (conditions === null || conditions.length === 0) throw invalid('detection.condition must be a string or a list of strings')
  if (detection.timeframe !== undefined) throw new SigmaRuleError('CORRELATION_UNSUPPORTED', 'detection.timeframe (Sigma 1 aggregation) is replaced by correlation rules')
  const searches = new Map<string, SearchBody>()
  for (const [key, body] of Object.entries(detection)) {
    if (key === 'condition' || key === 'timeframe') continue
    searches.set(key, searchBodyOf(body, key))
  }
  if (searches.size === 0) throw invalid('detection has no search identifiers')
  return { kind: 'detection', attribution, name, logsource, searches, conditions }
}

function logsourceOf(value: unknown): Logsource {
  if (!isRecord(value)) throw invalid('missing logsource')
  const out: Logsource = {}
  for (const key of ['product', 'category', 'service'] as const) {
    const v = value[key]
    if (v === undefined || v === null) continue
    if (typeof v !== 'string') throw invalid(`logsource.${key} must be a string`)
    out[key] = v.toLowerCase()
  }
  if (Object.keys(out).length === 0) throw invalid('logsource names no product, category or service')
  return out
}

/**
 * A search identifier's body. Sigma allows: a map (every item must match), a list of maps (any),
 * and a list of plain values (keywords: any of them in the event's text).
 */
function searchBodyOf(body: unknown, key: string): SearchBody {
  if (isRecord(body)) return { kind: 'all', items: Object.entries(body).map(([k, v]) => itemOf(k, v, key)) }
  if (Array.isArray(body)) {
    if (body.length === 0) throw invalid(`search ${key} is an empty list`)
    if (body.every(isRecord)) return { kind: 'any', bodies: body.map((b) => searchBodyOf(b, key)) }
    if (body.every(isPlainValue)) return { kind: 'all', items: [{ field: null, modifiers: [], values: body.map(toValue) }] }
    throw invalid(`search ${key} mixes maps and values`)
  }
  if (isPlainValue(body)) return { kind: 'all', items: [{ field: null, modifiers: [], values: [toValue(body)] }] }
  throw invalid(`search ${key} must be a map, a list of maps or a list of values`)
}

function itemOf(key: string, value: unknown, search: string): DetectionItem {
  const [field = '', ...modifiers] = key.split('|')
  const values = Array.isArray(value) ? value : [value]
  if (!values.every(isPlainValue)) throw invalid(`${search}.${key}: values must be strings, numbers, booleans or null`)
  return { field: field === '' ? null : field, modifiers, values: values.map(toValue) }
}

function isPlainValue(v: unknown): boolean {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
}

function toValue(v: unknown): SigmaValue {
  return v as SigmaValue
}

// ----------------------------------------------------------------------------------- correlation

const CORRELATION_TYPES: ReadonlySet<string> = new Set(['event_count', 'value_count', 'temporal', 'temporal_ordered'])
const CONDITION_KEYS: ReadonlySet<string> = new Set(['gt', 'gte', 'lt', 'lte', 'eq', 'neq'])

function correlationOf(value: unknown, attribution: Attribution, name: string | null): CorrelationRule {
  if (!isRecord(value)) throw invalid('correlation must be a mapping')
  const rules = typeof value.rules === 'string' ? [value.rules] : stringList(value.rules)
  const generate = value.generate === true
  try {
    return correlationBody(value, attribution, name, rules, generate)
  } catch (err) {
    // The rules it names still only feed it (unless it generates them): the loader keeps them silent.
    if (err instanceof SigmaRuleError) throw new SigmaRuleError(err.code, err.message, { correlates: { rules, generate } })
    throw err
  }
}

function correlationBody(value: Record<string, unknown>, attribution: Attribution, name: string | null, rules: string[], generate: boolean): CorrelationRule {
  const type = value.type
  if (typeof type !== 'string' || !CORRELATION_TYPES.has(type)) throw new SigmaRuleError('CORRELATION_UNSUPPORTED', `correlation type ${String(type)} is not one of ${[...CORRELATION_TYPES].join(', ')}`)
  if (rules.length === 0) throw invalid('correlation.rules names no rule')
  const groupBy = typeof value['group-by'] === 'string' ? [value['group-by']] : stringList(value['group-by'])
  const timespanMs = parseTimespan(value.timespan ?? value.timeframe)
  const { condition, field } = conditionOf(value.condition, type as CorrelationType, rules.length)
  if (type === 'value_count' && field === null) throw invalid('value_count needs condition.field')
  return {
    kind: 'correlation', attribution, name, type: type as CorrelationType, rules, groupBy, timespanMs, condition, valueField: field,
    aliases: aliasesOf(value.aliases), generate,
  }
}

function conditionOf(value: unknown, type: CorrelationType, ruleCount: number): { condition: CountCondition; field: string | null } {
  // Temporal correlations default to "every referenced rule matched".
  if (value === undefined && (type === 'temporal' || type === 'temporal_ordered')) return { condition: { gte: ruleCount }, field: null }
  if (!isRecord(value)) throw invalid('correlation.condition must be a mapping such as {gte: 10}')
  const condition: CountCondition = {}
  let field: string | null = null
  for (const [k, v] of Object.entries(value)) {
    if (k === 'field') {
      if (typeof v !== 'string') throw invalid('condition.field must be one field name')
      field = v
      continue
    }
    if (!CONDITION_KEYS.has(k) || typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`condition.${k} must be one of gt, gte, lt, lte, eq, neq with a number`)
    condition[k as keyof CountCondition] = v
  }
  if (Object.keys(condition).length === 0) throw invalid('correlation.condition has no bound')
  return { condition, field }
}

function aliasesOf(value: unknown): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>()
  if (value === undefined || value === null) return out
  if (!isRecord(value)) throw invalid('correlation.aliases must be a mapping')
  for (const [alias, perRule] of Object.entries(value)) {
    if (!isRecord(perRule)) throw invalid(`alias ${alias} must map rule names to fields`)
    out.set(alias, new Map(Object.entries(perRule).map(([rule, field]) => [rule, String(field)])))
  }
  return out
}

const TIMESPAN = /^(\d+)\s*(s|m|h|d|w)$/
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** `30s`, `5m`, `1h`, `1d` as ms. */
export function parseTimespan(value: unknown): number {
  const m = typeof value === 'string' ? TIMESPAN.exec(value.trim()) : null
  if (m === null) throw invalid(`timespan ${JSON.stringify(value)} is not a number with s, m, h, d or w`)
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!
  if (ms <= 0) throw invalid('timespan must be positive')
  return ms
}

// ------------------------------------------------------------------------------------- helpers

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function stringList(v: unknown): string[] {
  if (!Array.isArray(v)) return []
  return v.filter((x): x is string => typeof x === 'string')
}

function invalid(message: string): SigmaRuleError {
  return new SigmaRuleError('RULE_INVALID', message)
}
