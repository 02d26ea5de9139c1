import { createHash } from 'node:crypto'
import { gunzipSync, gzipSync } from 'node:zlib'
import { scoreForest, trainForest, type SerializedForest } from './isolation-forest.ts'

export const ISOLATION_FOREST = 'isolation-forest'

/** Everything a scorer needs to run one model version: stored as gzipped JSON in the registry. */
export interface ModelArtifact {
  format: 1
  algorithm: typeof ISOLATION_FOREST
  featureNames: string[]
  forest: SerializedForest
  /** sorted raw scores of (a sample of) the training rows: the calibration from raw score to [0,1] */
  calibration: number[]
}

export interface TrainOptions {
  trees: number
  /** at most this many calibration points are kept */
  calibrationPoints?: number
}

/** Trains a forest on `rows` (columns in `featureNames` order) and calibrates it on the same rows. */
export function trainModel(rows: number[][], featureNames: string[], options: TrainOptions): ModelArtifact {
  if (rows.length < 2) throw new Error(`need at least 2 training rows, got ${rows.length}`)
  const forest = trainForest(rows, options.trees)
  const raw = scoreForest(forest, rows).sort((a, b) => a - b)
  const points = options.calibrationPoints ?? 2048
  const step = Math.max(1, raw.length / points)
  const calibration: number[] = []
  for (let i = 0; i < raw.length; i += step) calibration.push(raw[Math.floor(i)]!)
  return { format: 1, algorithm: ISOLATION_FOREST, featureNames, forest, calibration }
}

/** A score: the model's own and the calibrated one, the share of training rows that scored lower. */
export interface ModelScore {
  raw: number
  calibrated: number
}

export interface LoadedModel {
  featureNames: string[]
  score(rows: number[][]): ModelScore[]
}

/** Builds a scorer from an artifact. */
export function loadModel(artifact: ModelArtifact): LoadedModel {
  const { calibration } = artifact
  return {
    featureNames: artifact.featureNames,
    score: (rows) => scoreForest(artifact.forest, rows).map((raw) => ({ raw, calibrated: calibrate(calibration, raw) })),
  }
}

function calibrate(sorted: number[], raw: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (sorted[mid]! < raw) lo = mid + 1
    else hi = mid
  }
  return sorted.length === 0 ? 0 : lo / sorted.length
}

/** Artifact bytes as stored, and their sha256, which model-control carries so scorers can check what they load. */
export function encodeArtifact(artifact: ModelArtifact): { bytes: Buffer; sha256: string } {
  const bytes = gzipSync(JSON.stringify(artifact))
  return { bytes, sha256: sha256Of(bytes) }
}

export function decodeArtifact(bytes: Buffer): ModelArtifact {
  const artifact = JSON.parse(gunzipSync(bytes).toString('utf8')) as ModelArtifact
  if (artifact.format !== 1 || artifact.algorithm !== ISOLATION_FOREST) throw new Error(`unsupported artifact ${artifact.algorithm} format ${artifact.format}`)
  return artifact
}

export function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}
