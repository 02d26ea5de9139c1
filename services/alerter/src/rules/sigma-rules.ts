import type { DeliveredMessage, Logger, PgPool, Redis, TypedProducer } from '@vigil/platform'
import { createRedisCorrelationState, createSigmaEngine } from '@vigil/sigma'
import type { Alert, FeatureRecord, Score } from '@vigil/schemas'
import type { Notifier } from '../sinks/create-sinks.ts'
import type { RaiseDeps } from './raise-alerts.ts'
import { createAlertJoin, type AlertJoin } from './alert-join.ts'
import { createCorrelationFeed } from './correlation-feed.ts'
import { createFlaggedEntities } from './flagged-entities.ts'
import { handleFeatureRecords, handleScoreRecords, type MatchCounter, type SigmaDeps } from './handle-sigma-events.ts'
import { loadRules, recordRuleCounts, ruleCounts, type LoadedRules, type RuleCount, type RuleGauge } from './rule-set.ts'

export interface SigmaRulesOptions {
  /** SIGMA_RULES: rule directories or files (DEFAULT_RULE_DIRS in rule-set.ts) */
  ruleDirs: readonly string[]
  /** ALERT_WINDOW_MS */
  windowMs: number
  /** ALERT_MAX_SPAN_MS, when alerts go on across windows (alert-store.ts's continuation): how far back an alert's first event may lie */
  maxSpanMs?: number
  /** ALERT_MAX_EVIDENCE */
  maxEvidence: number
  /** how long an idle correlation group's state outlives its window in Redis, ms */
  correlationIdleTtlMs?: number
}

export interface SigmaRulesDeps {
  pool: PgPool
  /** correlation state; the caller owns and closes it */
  redis: Redis
  store: RaiseDeps['store']
  producer: Pick<TypedProducer, 'send'>
  sinks: Pick<Notifier, 'enqueue'>
  suppressions?: RaiseDeps['suppressions']
  suppressed?: RaiseDeps['suppressed']
  published?: RaiseDeps['published']
  log: Pick<Logger, 'info' | 'debug'>
  /** e.g. app_sigma_rules{rule_set,state} and app_sigma_matches_total{kind}, once platform names them */
  metrics?: { sigmaRules?: RuleGauge; sigmaMatches?: MatchCounter }
}

export interface SigmaRules {
  rules: LoadedRules
  /** the rule counts per rule set and state, as the metrics show them */
  counts(): RuleCount[]
  /** the Sigma × model join, for handle-scores to raise the model's side (raise-alerts.ts) */
  join: AlertJoin
  /** features batch → rule hits, correlations, flags and alerts; the alerts published */
  handleFeatureRecords(messages: readonly DeliveredMessage<FeatureRecord>[]): Promise<Alert[]>
  /** scores batch → the same for rules over ML anomalies */
  handleScoreRecords(messages: readonly DeliveredMessage<Score>[]): Promise<Alert[]>
}

const DEFAULT_IDLE_TTL_MS = 10 * 60_000

/**
 * Sigma rules in the alerter: the rule set, loaded once; the engine; the correlations with their
 * state in Redis; flags for the trainer; and the join with model alerts.
 */
export function createSigmaRules(options: SigmaRulesOptions, deps: SigmaRulesDeps): SigmaRules {
  const rules = loadRules(options.ruleDirs, deps.log)
  if (deps.metrics?.sigmaRules) recordRuleCounts(rules.report, deps.metrics.sigmaRules)
  const idleTtlMs = options.correlationIdleTtlMs ?? DEFAULT_IDLE_TTL_MS
  const state = createRedisCorrelationState(deps.redis, { idleTtlMs })
  const join = createAlertJoin(deps.pool, { windowMs: options.windowMs, maxSpanMs: options.maxSpanMs ?? 0, maxEvidence: options.maxEvidence })
  const sigma: SigmaDeps = {
    engine: createSigmaEngine(rules.set),
    correlations: createCorrelationFeed(rules.set.correlations, state),
    flags: createFlaggedEntities(deps.pool),
    version: rules.version,
    windowMs: options.windowMs,
    maxEvidence: options.maxEvidence,
    matches: deps.metrics?.sigmaMatches ?? null,
    store: deps.store,
    producer: deps.producer,
    sinks: deps.sinks,
    suppressions: deps.suppressions ?? null,
    suppressed: deps.suppressed ?? null,
    published: deps.published ?? null,
    join,
  }
  return {
    rules,
    counts: () => ruleCounts(rules.report),
    join,
    handleFeatureRecords: (messages) => handleFeatureRecords(messages, sigma),
    handleScoreRecords: (messages) => handleScoreRecords(messages, sigma),
  }
}
