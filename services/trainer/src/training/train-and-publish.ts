import { liveVersion, setStatus } from '@vigil/models'
import type { Logger, Metrics, PgPool, TypedProducer } from '@vigil/platform'
import type { FeatureHistory } from '../adapters/feature-history.ts'
import { evaluateCandidate, type GateOptions } from './evaluate-candidate.ts'
import { publishVersion } from './publish-version.ts'
import { trainCandidate, type CandidateOptions } from './train-candidate.ts'

export interface TrainDeps {
  pool: PgPool
  history: FeatureHistory
  producer: TypedProducer
  log: Logger
  metrics: Metrics
  candidate: CandidateOptions
  gate: GateOptions
  /** where a version that passes the gate goes first */
  publishAs: 'live' | 'shadow'
}

/**
 * What came of a training run: the version published (live or shadow), rejected by the gate, or,
 * `unchanged`, the registered version whose artifact the run reproduced (nothing new was registered),
 * or, `skipped`, the live version a candidate could not be judged against, the training window being
 * too short (nothing was trained; the live version's audit trail says why).
 */
export type TrainingOutcome = 'live' | 'shadow' | 'rejected' | 'unchanged' | 'skipped'

/** A version a training run gave, and what became of it. */
export interface TrainingResult {
  version: string
  outcome: TrainingOutcome
}

/**
 * One training run: train a candidate on the training window, evaluate it on the holdout against
 * the live version, then publish it (live, or shadow first) or record it as rejected with the
 * reason. A rejected version never reaches model-control, so no scorer ever runs it.
 * Returns the version and what became of it; null when history is too short.
 */
export async function trainAndPublish(deps: TrainDeps, reason: string): Promise<TrainingResult | null> {
  const { pool, history, producer, log, metrics } = deps
  const { modelName: model, actor } = deps.candidate
  const candidate = await trainCandidate(pool, history, deps.candidate, reason, log)
  if (!candidate) return null
  if ('sameAs' in candidate) return { version: candidate.sameAs.version, outcome: 'unchanged' }
  if ('skipped' in candidate) return { version: candidate.live.version, outcome: 'skipped' }
  const verdict = await evaluateCandidate(pool, history, candidate, deps.gate)
  metrics.modelEvaluations.inc({ model, outcome: verdict.accepted ? 'accepted' : 'rejected' })
  if (!verdict.accepted) {
    await setStatus(pool, model, candidate.version, 'rejected', { actor, reason: verdict.reason!, details: { ...verdict } })
    log.warn({ model, version: candidate.version, verdict }, 'candidate rejected by the gate')
    return { version: candidate.version, outcome: 'rejected' }
  }
  // Shadow first needs a live version to run beside: a first version goes live.
  const role = deps.publishAs === 'shadow' && (await liveVersion(pool, model)) ? 'shadow' : 'live'
  // The gate's verdict beside the run's reason, which its own (null: an accepted verdict has none) would overwrite.
  const { reason: _noRejection, ...judged } = verdict
  await publishVersion(pool, producer, model, candidate.version, role, { actor, reason, phase: role === 'live' ? 'publish' : 'shadow', details: judged })
  log.info({ model, version: candidate.version, role, verdict, reason }, 'version published')
  return { version: candidate.version, outcome: role }
}
