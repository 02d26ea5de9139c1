// The Sigma rule as this engine reads it: what the YAML says, validated, before compilation.
// Field values stay as the rule wrote them; modifiers are applied by the compiler.

/** Where a rule's events come from (Sigma's `logsource`). Absent keys match any value. */
export interface Logsource {
  product?: string
  category?: string
  service?: string
}

/**
 * What the Detection Rule License (DRL 1.1) asks an alert to carry: the rule's author attribution,
 * and where the rule and its license come from.
 */
export interface Attribution {
  id: string
  title: string
  author: string | null
  level: string | null
  status: string | null
  references: string[]
  tags: string[]
  /** the rule set's license, e.g. DRL-1.1 (from a LICENSE file beside the rules, or the rule's own `license`) */
  license: string | null
  /** the file the rule was loaded from */
  file: string
}

/** One value of a detection item: a string (with Sigma wildcards), number, boolean or null. */
export type SigmaValue = string | number | boolean | null

/** One `field|mod1|mod2: values` entry; `field` is null for keywords (`'|all': [...]` or a plain list). */
export interface DetectionItem {
  field: string | null
  modifiers: string[]
  values: SigmaValue[]
}

/** A search identifier's body: a conjunction of items (a map), or a disjunction of such bodies (a list of maps). */
export type SearchBody =
  | { kind: 'all'; items: DetectionItem[] }
  | { kind: 'any'; bodies: SearchBody[] }

export interface DetectionRule {
  kind: 'detection'
  attribution: Attribution
  /** the rule's `name`, which correlation rules may use instead of the id */
  name: string | null
  logsource: Logsource
  searches: Map<string, SearchBody>
  /** one or more condition expressions; the rule matches when any does */
  conditions: string[]
}

export type CorrelationType = 'event_count' | 'value_count' | 'temporal' | 'temporal_ordered'

/** A correlation's threshold: each given bound must hold. */
export interface CountCondition {
  gt?: number
  gte?: number
  lt?: number
  lte?: number
  eq?: number
  neq?: number
}

export interface CorrelationRule {
  kind: 'correlation'
  attribution: Attribution
  name: string | null
  type: CorrelationType
  /** ids or names of the rules it correlates, in order (order matters for temporal_ordered) */
  rules: string[]
  groupBy: string[]
  /** window length, ms */
  timespanMs: number
  condition: CountCondition
  /** value_count: the field whose distinct values are counted */
  valueField: string | null
  /** per alias, the field name to read in each referenced rule's events */
  aliases: Map<string, Map<string, string>>
  /** false: the referenced rules' own matches are not reported (Sigma's `generate`, default false) */
  generate: boolean
}

export type SigmaRule = DetectionRule | CorrelationRule
