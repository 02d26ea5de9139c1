/**
 * The contract every ensemble member keeps. A member is trained from a matrix of feature rows (columns
 * in `featureNames` order), serialises to plain JSON (stored inside the model artifact), and scores
 * rows in batches. Raw scores are the member's own scale, oriented so that higher means more
 * anomalous; the ensemble calibrates each member to [0,1] on the training distribution.
 */

/** Rows are dense, one number per feature, in the artifact's featureNames order. */
export type FeatureRow = ArrayLike<number>

/** How much one feature pushed one row's score up, in the member's own units (higher = more to blame). */
export interface FeatureContribution {
  feature: number
  weight: number
  /**
   * The feature's lowest and highest value among the training rows nearest the row, for members that
   * compare a row with its neighbours, given where the row's value lies far beyond them: a value
   * ordinary for training as a whole can still be far from every row otherwise like it, and this is
   * the yardstick that says so.
   */
  nearest?: { low: number; high: number }
}

export interface TrainedDetector {
  /** e.g. 'isolation-forest', 'hbos', 'gaussian-mixture' */
  readonly kind: string
  /** raw anomaly scores, higher = more anomalous, one per row */
  score(rows: readonly FeatureRow[]): Float64Array
  /** per-feature contributions to one row's score, largest first; members that cannot tell omit it */
  explain?(row: FeatureRow): FeatureContribution[]
  /** plain JSON from which `DetectorKind.load` rebuilds the same detector */
  toJSON(): unknown
}

export interface DetectorKind<P = Record<string, unknown>> {
  readonly kind: string
  /** parameters used when the configuration names none */
  readonly defaults: P
  train(rows: readonly FeatureRow[], params: P, seed: number): TrainedDetector
  load(state: unknown): TrainedDetector
}

/** A deterministic PRNG (mulberry32), so that a training run with the same seed and rows gives the same model. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
