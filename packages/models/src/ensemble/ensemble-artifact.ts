import { gunzipSync, gzipSync } from 'node:zlib'
import { sha256Of } from '../artifact-hash.ts'
import type { Calibration } from './calibration.ts'
import type { FeatureBaseline } from './explanation.ts'

/** The algorithm name of an ensemble in the model registry and on model-control. */
export const ENSEMBLE = 'ensemble'

/**
 * Everything a scorer needs to run one ensemble version: format 2, the successor of model-artifact.ts's
 * single-forest format 1. Stored as gzipped JSON; the same rows, configuration and seed give the same bytes.
 */
export interface EnsembleArtifact {
  format: 2
  algorithm: typeof ENSEMBLE
  featureNames: string[]
  members: EnsembleArtifactMember[]
  /** calibration of the weighted mean member surprisal into the final score */
  combination: Calibration
  /** per feature, in featureNames order: the training distribution explanations quote */
  baselines: FeatureBaseline[]
  /** alert when score >= threshold */
  threshold: number
  training: TrainingSummary
}

export interface EnsembleArtifactMember {
  kind: string
  /** relative say in the combined score; 0 keeps the member for inspection only */
  weight: number
  /** what it was trained with: the kind's defaults overlaid with the configuration */
  params: Record<string, unknown>
  /** the member's toJSON() */
  state: unknown
  /** its raw scores on held-out training rows */
  calibration: Calibration
  seed: number
}

export interface TrainingSummary {
  /** rows given */
  rows: number
  /** rows left out by a zero weight */
  excludedRows: number
  /** whether unequal row weights were honoured (by resampling) */
  weighted: boolean
  /** rows the members were trained on */
  trainingRows: number
  /** held-out rows the calibrations and the threshold come from */
  calibrationRows: number
  seed: number
  /**
   * the threshold's origin: given, or chosen for this alert rate on the held-out rows; `heldRowsShort`
   * when they were fewer than one alert's worth (rate × rows < 1), so the threshold is the fitted tail's
   * 1 - rate, an extrapolation whose real alert rate can be several times the target
   */
  threshold: { given: number } | { targetAlertRate: number; heldRowsShort?: true }
}

/** Artifact bytes as stored, and their sha256, which model-control carries so scorers can check what they load. */
export function encodeEnsembleArtifact(artifact: EnsembleArtifact): { bytes: Buffer; sha256: string } {
  const bytes = gzipSync(JSON.stringify(artifact))
  return { bytes, sha256: sha256Of(bytes) }
}

export function decodeEnsembleArtifact(bytes: Buffer): EnsembleArtifact {
  const artifact = JSON.parse(gunzipSync(bytes).toString('utf8')) as EnsembleArtifact
  checkEnsembleArtifact(artifact)
  return artifact
}

/** Throws unless the artifact's parts agree with each other; members check their own states on load. */
export function checkEnsembleArtifact(a: EnsembleArtifact): void {
  if (a?.format !== 2 || a.algorithm !== ENSEMBLE) throw new Error(`unsupported artifact ${a?.algorithm} format ${a?.format}`)
  const width = a.featureNames.length
  if (a.baselines.length !== width) throw new Error(`artifact has ${a.baselines.length} baselines for ${width} features`)
  if (!Number.isFinite(a.threshold)) throw new Error(`artifact threshold is ${a.threshold}`)
  if (a.members.length === 0 || !a.members.some((m) => m.weight > 0) || a.members.some((m) => !(m.weight >= 0))) {
    throw new Error('artifact needs members with non-negative weights, one of them positive')
  }
  for (const c of [a.combination, ...a.members.map((m) => m.calibration)]) {
    if (!Array.isArray(c?.points) || c.points.length === 0 || !(c.tail?.share > 0 && c.tail.scale > 0)) throw new Error('artifact has a malformed calibration')
  }
}
