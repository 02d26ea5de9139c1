import {
  attachOnnxExports, encodeEnsembleArtifact, ENSEMBLE, ensembleRegistry, liveVersion, saveModelVersion, trainEnsemble, versionWithArtifact, writeAudit,
  type EnsembleArtifact, type EnsembleConfig, type ModelStatus, type ModelVersionRow,
} from '@vigil/models'
import type { Logger, PgPool } from '@vigil/platform'
import type { FeatureHistory, HistoryWindows, TrainingSet } from '../adapters/feature-history.ts'
import { featuresReadByMembers, settingsOver } from './ensemble-settings.ts'
import { learnableFeatures, selectColumns } from './learnable-features.ts'

export interface CandidateOptions {
  modelName: string
  actor: string
  settings: EnsembleConfig
  minRows: number
  maxRows: number
  trainingMs: number
  holdoutMs: number
  excludeFlagged: boolean
}

/** A trained version in the registry, not yet evaluated or published. */
export interface Candidate {
  version: string
  artifact: EnsembleArtifact
  sha256: string
  set: TrainingSet
  /** the holdout it is evaluated on; null for a first version, when history was too short to keep one out */
  holdout: HistoryWindows['holdout'] | null
}

/** A retrain that gave, byte for byte, the artifact of a version the registry already settled. */
export interface SameAsRegistered {
  sameAs: ModelVersionRow
}

/** A retrain that trained nothing: its window was too short to judge a candidate against the live version. */
export interface SkippedRetrain {
  /** why, in words */
  skipped: string
  live: ModelVersionRow
}

// Versions whose fate is decided: a retrain identical to one of these registers nothing. A version
// still 'trained' (its trainer stopped before the gate) is not among them, so it gets another chance.
const SETTLED: ModelStatus[] = ['live', 'shadow', 'retired', 'rejected']

/**
 * Trains a version on the training window (the holdout, the newest history, kept out), leaving out
 * what is known to be bad (rows of flagged entities and of redriven dead letters); exports its
 * forests to ONNX; records it as 'trained' (the registry writes the train phase's audit row, this
 * the load phase's). Null when history is too short.
 *
 * A training window too short to train on is a first deployment's case (a first replay): with no
 * live version to be compared with, the version trains on all history and keeps no holdout. Once a
 * version is live, every candidate must face it on a holdout, so a short window trains nothing and
 * the skipped retrain, with the reason, is recorded on the live version's audit trail.
 *
 * Training is deterministic, so a retrain that changed nothing (no new rows in the training window,
 * the same settings) gives the bytes of a version already registered. Registering it again would
 * swap every scorer to an identical model under a new name, or, after a rollback, put back the very
 * model the operator took off. That retrain is recorded on the existing version's audit trail instead.
 */
export async function trainCandidate(
  pool: PgPool, history: FeatureHistory, options: CandidateOptions, reason: string, log: Logger,
): Promise<Candidate | SameAsRegistered | SkippedRetrain | null> {
  const started = Date.now()
  const { modelName: model, actor } = options
  let windows = await history.windows(options.trainingMs, options.holdoutMs)
  if (!windows) return null
  let set = await history.trainingSet(options.maxRows, windows.training, { excludeFlagged: options.excludeFlagged })
  if (set.rows.length < options.minRows) {
    const live = await liveVersion(pool, model)
    if (live) {
      const leftOut = [set.excluded && `${set.excluded} of flagged entities`, set.excludedRedriven && `${set.excludedRedriven} of redriven dead letters`].filter(Boolean)
      const skipped = `the training window (${windows.training.from.toISOString()} to ${windows.training.to.toISOString()}) holds ${set.rows.length} rows`
        + `${leftOut.length ? ` (${leftOut.join(' and ')} left out)` : ''}, fewer than the ${options.minRows} a candidate needs,`
        + ` and one trained on all history would keep no holdout to be judged against live ${live.version} on`
      await writeAudit(pool, { model, version: live.version, phase: 'train', actor, details: {
        skipped: true, skipReason: skipped, reason, rows: set.rows.length, excludedFlaggedRows: set.excluded, excludedRedrivenRows: set.excludedRedriven,
        minRows: options.minRows, trainingWindow: windows.training, holdout: windows.holdout,
      } })
      log.warn({ model, live: live.version, rows: set.rows.length, minRows: options.minRows, reason }, 'retrain skipped: training window too short to judge a candidate against the live version')
      return { skipped, live }
    }
    // A first deployment cannot spare a holdout from a short history: train on all of it, evaluate on nothing.
    windows = null
    set = await history.trainingSet(options.maxRows, undefined, { excludeFlagged: options.excludeFlagged })
    if (set.rows.length < options.minRows) {
      // Said each time: a first deployment whose history is mostly attacks waits here, scorers unready, for clean history.
      log.warn({ model, rows: set.rows.length, excludedFlagged: set.excluded, excludedRedriven: set.excludedRedriven, minRows: options.minRows, reason },
        'no first model yet: too few rows of history are left after leaving out flagged entities and redriven dead letters; waiting for more')
      return null
    }
  }
  const loadedMs = Date.now() - started
  const spanMs = set.windowStart && set.windowEnd ? Math.abs(set.windowEnd.getTime() - set.windowStart.getTime()) : 0
  const featureNames = learnableFeatures(set.featureNames, spanMs, featuresReadByMembers(options.settings))
  const leftOut = set.featureNames.filter((name) => !featureNames.includes(name))
  const rows = selectColumns(set.rows, set.featureNames, featureNames)
  const settings = settingsOver(options.settings, featureNames)
  const artifact = attachOnnxExports(await trainEnsemble(rows, featureNames, settings, ensembleRegistry('typescript')))
  const { bytes, sha256 } = encodeEnsembleArtifact(artifact)
  const version = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${sha256.slice(0, 8)}`
  const trainSeconds = (Date.now() - started - loadedMs) / 1000
  const sameAs = await versionWithArtifact(pool, model, sha256, SETTLED)
  if (sameAs) {
    await writeAudit(pool, { model, version: sameAs.version, phase: 'train', actor, details: {
      retrainedIdentical: true, reason, rows: set.rows.length, dataHash: set.dataHash, trainSeconds,
    } })
    log.info({ model, sameAs: sameAs.version, status: sameAs.status, rows: set.rows.length, reason }, 'retrain gave the artifact of a registered version; nothing new registered')
    return { sameAs }
  }
  await saveModelVersion(pool, {
    model, version, algorithm: ENSEMBLE, trainingRows: set.rows.length, windowStart: set.windowStart, windowEnd: set.windowEnd,
    featureNames, trainingDataHash: set.dataHash, actor, status: 'trained', artifact: bytes, sha256,
    params: {
      ...settings, excludeFlagged: options.excludeFlagged, excludedFlaggedRows: set.excluded, excludedRedrivenRows: set.excludedRedriven,
      maxRows: options.maxRows, flaggedCountShare: set.flaggedCountShare, reason, clockFeaturesLeftOut: leftOut,
    },
    metrics: { trainSeconds, artifactBytes: bytes.length, threshold: artifact.threshold, thresholdRule: artifact.training.threshold },
  })
  await writeAudit(pool, { model, version, phase: 'load', actor, details: {
    rows: set.rows.length, excludedFlaggedRows: set.excluded, excludedRedrivenRows: set.excludedRedriven, windowStart: set.windowStart, windowEnd: set.windowEnd,
    dataHash: set.dataHash, flaggedCountShare: set.flaggedCountShare, holdout: windows?.holdout ?? null, loadSeconds: loadedMs / 1000,
  } })
  log.info({ model, version, rows: set.rows.length, excluded: set.excluded, excludedRedriven: set.excludedRedriven, trainSeconds, artifactBytes: bytes.length, reason }, 'candidate trained')
  if (leftOut.length > 0) log.info({ model, version, features: leftOut, spanHours: Math.round(spanMs / 3_600_000) }, 'clock features left out: the training rows do not span their cycle')
  const rule = artifact.training.threshold
  if ('heldRowsShort' in rule) {
    // Measured: 200 training rows and a 0.1% target alerted 0.3-3% of fresh rows; from some 5,000 rows on, 0.1%.
    log.warn({ model, version, calibrationRows: artifact.training.calibrationRows, targetAlertRate: rule.targetAlertRate },
      'too few held-out rows to set the threshold for the target alert rate: it is extrapolated, and the real alert rate may be several times the target until a retrain on more history')
  }
  return { version, artifact, sha256, set, holdout: windows?.holdout ?? null }
}

/**
 * When the newest training run of `model` (whose reason begins with `reasonStart`, if given) was
 * recorded, or null. Every run that finds history writes a train audit row (see trainCandidate),
 * with its reason: in the params of the version it registered, or in the details of the row it
 * writes on the version it reproduced or on the live version whose retrain it skipped. The registry
 * has no query for this, so it is read here, beside what writes it.
 */
export async function lastTrainingRun(pool: PgPool, model: string, reasonStart?: string): Promise<Date | null> {
  const { rows } = await pool.query<{ at: Date | null }>(
    `SELECT max(at) AS at FROM model_audit
     WHERE model = $1 AND phase = 'train' AND ($2::text IS NULL OR starts_with(coalesce(details->>'reason', details#>>'{params,reason}'), $2))`,
    [model, reasonStart ?? null])
  return rows[0]!.at
}
