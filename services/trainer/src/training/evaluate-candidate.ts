import {
  decodeEnsembleArtifact, ensembleRegistry, liveVersion, loadEnsemble, loadModelArtifact, rocAuc, writeAudit, type EnsembleArtifact,
} from '@vigil/models'
import type { PgPool } from '@vigil/platform'
import type { FeatureHistory } from '../adapters/feature-history.ts'
import { selectColumns } from './learnable-features.ts'
import type { Candidate } from './train-candidate.ts'

export interface GateOptions {
  modelName: string
  actor: string
  /** ROC-AUC on flagged holdout events may be at most this much below the live version's */
  margin: number
  /** the holdout alert rate may be at most this many times the live version's ... */
  alertRateFactor: number
  /** ... or this rate, whichever is higher */
  alertRateFloor: number
  holdoutRows: number
}

/** How a version did on the holdout. */
export interface HoldoutResult {
  alertRate: number
  /** on the holdout's flagged (known bad) against unflagged events; null without both kinds */
  rocAuc: number | null
}

export interface Verdict {
  accepted: boolean
  /** why not, in words; null when accepted */
  reason: string | null
  holdoutRows: number
  flaggedRows: number
  candidate: HoldoutResult | null
  live: (HoldoutResult & { version: string }) | null
}

/**
 * The gate: the candidate and the live version score the same holdout (the newest history, which
 * the candidate never trained on). The candidate passes unless it ranks the holdout's known-bad
 * events (flagged entities) worse than the live version by more than the margin, or raises alerts
 * at a rate far above the live version's. A first version has nothing to be compared with and
 * passes; a candidate without a holdout passes only as a first version. The verdict is written to
 * the audit trail either way.
 */
export async function evaluateCandidate(pool: PgPool, history: FeatureHistory, candidate: Candidate, options: GateOptions): Promise<Verdict> {
  const verdict = await judge(pool, history, candidate, options)
  await writeAudit(pool, { model: options.modelName, version: candidate.version, phase: 'evaluate', actor: options.actor, details: { ...verdict } })
  return verdict
}

async function judge(pool: PgPool, history: FeatureHistory, candidate: Candidate, options: GateOptions): Promise<Verdict> {
  const none: Verdict = { accepted: true, reason: null, holdoutRows: 0, flaggedRows: 0, candidate: null, live: null }
  // Nothing to judge on passes only as a first version: should one be live, the candidate cannot be
  // judged against it and does not pass.
  const unjudged = async (what: string): Promise<Verdict> => {
    const live = await liveVersion(pool, options.modelName)
    return live ? { ...none, accepted: false, reason: `has ${what} to be judged on against live ${live.version}` } : none
  }
  // Only a first version trains without a holdout (see trainCandidate).
  if (!candidate.holdout) return unjudged('no holdout')
  const holdout = await history.holdoutSet(candidate.holdout, options.holdoutRows)
  // A holdout can be empty: its window ends at the newest streamed event, and redriven rows are left out.
  if (holdout.rows.length === 0) return unjudged('no holdout rows')
  const labels = holdout.flagged.map((f) => (f ? 1 : 0))
  const flaggedRows = labels.filter((l) => l === 1).length
  // Each version takes its own features of the holdout's (a first model leaves out clock features its history did not span).
  const rowsFor = (artifact: EnsembleArtifact) => selectColumns(holdout.rows, holdout.featureNames, artifact.featureNames)
  const candidateResult = await resultOn(candidate.artifact, rowsFor(candidate.artifact), labels)
  const live = await liveVersion(pool, options.modelName)
  const stored = live ? await loadModelArtifact(pool, options.modelName, live.version) : null
  const liveArtifact = stored ? decodeEnsembleArtifact(stored.artifact) : null
  // A live version over features the history no longer holds (before a schema change) cannot score these rows: nothing to compare with.
  const comparable = liveArtifact && liveArtifact.featureNames.every((name) => holdout.featureNames.includes(name))
  const liveResult = comparable ? { version: live!.version, ...(await resultOn(liveArtifact, rowsFor(liveArtifact), labels)) } : null
  const verdict = { holdoutRows: holdout.rows.length, flaggedRows, candidate: candidateResult, live: liveResult }

  if (liveResult && candidateResult.rocAuc !== null && liveResult.rocAuc !== null && candidateResult.rocAuc < liveResult.rocAuc - options.margin) {
    return { ...verdict, accepted: false, reason: `ranks the ${flaggedRows} flagged holdout events worse than live ${liveResult.version}: ROC-AUC ${candidateResult.rocAuc.toFixed(3)} against ${liveResult.rocAuc.toFixed(3)} (margin ${options.margin})` }
  }
  // Without a live version there is nothing to compare with: a holdout full of attacks may rightly alert a lot.
  if (!liveResult) return { ...verdict, accepted: true, reason: null }
  const allowedRate = Math.max(options.alertRateFloor, liveResult.alertRate * options.alertRateFactor)
  if (candidateResult.alertRate > allowedRate) {
    return { ...verdict, accepted: false, reason: `would alert on ${(candidateResult.alertRate * 100).toFixed(2)}% of the ${holdout.rows.length} holdout events, above the allowed ${(allowedRate * 100).toFixed(2)}% (live ${liveResult.version}: ${(liveResult.alertRate * 100).toFixed(2)}%)` }
  }
  return { ...verdict, accepted: true, reason: null }
}

async function resultOn(artifact: EnsembleArtifact, rows: number[][], labels: number[]): Promise<HoldoutResult> {
  const ensemble = await loadEnsemble(artifact, ensembleRegistry('typescript'))
  try {
    const { score, surprisal } = await ensemble.score(rows, { explain: 'none' })
    let alerts = 0
    for (const s of score) if (s >= artifact.threshold) alerts++
    const bothKinds = labels.includes(1) && labels.includes(0)
    return { alertRate: alerts / rows.length, rocAuc: bothKinds ? rocAuc(labels, surprisal) : null }
  } finally {
    await ensemble.close()
  }
}
