// @vigil/sigma: Sigma rules over Vigil's events.
// Load (parse, compile once per event source, report what was skipped and why) → match (indexed) → correlate (state in Redis).
export { loadRuleSet, compileRuleSet, ruleSetOf, type RuleSet, type LoadedDetection, type SkippedRule, type LoadOptions } from './load-rules.ts'
export { loadReport, formatLoadReport, type LoadReport } from './load-report.ts'
export { createSigmaEngine, type SigmaEngine, type DetectionMatch, type EngineOptions } from './engine.ts'
export {
  createCorrelator, createMemoryCorrelationState, type Correlator, type CorrelationState, type CorrelationMatch, type CompiledCorrelation,
  type Observation, type Firing,
} from './correlation.ts'
export { createRedisCorrelationState, type RedisCorrelationStateOptions } from './correlation-state-redis.ts'
export { sigmaEventOfFeatures, sigmaEventOfScore, ANOMALY_FAMILY, type SigmaEvent, type Anomaly } from './sigma-event.ts'
export { EVENT_SOURCES, sourceOf, servesLogsource, keywordText, type EventSource, type FieldReader, type FieldValue } from './field-mapping.ts'
export { compileSafeRegex, type SafeRegex } from './safe-regex.ts'
export { SigmaRuleError, type SkipCode } from './parse-rule.ts'
export type { Attribution, DetectionRule, CorrelationRule, Logsource, SigmaRule } from './rule-model.ts'
