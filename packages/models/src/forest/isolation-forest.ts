import { seededRandom, type DetectorKind, type FeatureContribution, type FeatureRow, type TrainedDetector } from '../detector.ts'
import { explainRow, flatForestFromJSON, flatForestToJSON, toFloat32Matrix, type FlatForest, type FlatForestJSON } from './flat-forest.ts'
import { growForest, toTrainingMatrix } from './grow-forest.ts'
import { createForestScorer } from './score-forest.ts'

export interface IsolationForestParams {
  /** trees in the forest */
  trees: number
  /** ψ, rows drawn (without replacement) to grow each tree; all rows when there are fewer */
  sampleSize: number
}

/** A trained isolation forest: raw score 2^(-E[h(x)] / c(ψ)) in (0, 1], scikit-learn's -score_samples. */
export interface TrainedIsolationForest extends TrainedDetector {
  readonly kind: 'isolation-forest'
  /** the trees, for exporting (see forestToOnnx) */
  readonly forest: FlatForest
  explain(row: FeatureRow): FeatureContribution[]
  toJSON(): IsolationForestJSON
}

export interface IsolationForestJSON extends FlatForestJSON {
  kind: 'isolation-forest'
  format: 1
}

export interface IsolationForestKind extends DetectorKind<IsolationForestParams> {
  train(rows: readonly FeatureRow[], params: IsolationForestParams, seed: number): TrainedIsolationForest
  load(state: unknown): TrainedIsolationForest
}

/**
 * Isolation forest (Liu, Ting & Zhou 2008), grown as scikit-learn grows it, stored as flat typed
 * arrays and scored in batches. The same seed and rows give the same forest.
 */
export const isolationForest: IsolationForestKind = {
  kind: 'isolation-forest',
  defaults: { trees: 100, sampleSize: 256 },
  train(rows, params, seed) {
    const featureCount = rows[0]?.length ?? 0
    const matrix = toTrainingMatrix(toFloat32Matrix(rows, featureCount))
    return createTrainedIsolationForest(growForest(matrix, rows.length, featureCount, params.trees, params.sampleSize, seededRandom(seed)))
  },
  load(state) {
    const json = state as IsolationForestJSON
    if (json?.kind !== 'isolation-forest' || json.format !== 1) throw new TypeError('not an isolation-forest state (format 1)')
    return createTrainedIsolationForest(flatForestFromJSON(json))
  },
}

/** The detector for an already grown forest: trained or loaded, and so also one built elsewhere. */
export function createTrainedIsolationForest(forest: FlatForest): TrainedIsolationForest {
  const scoreMatrix = createForestScorer(forest)
  return {
    kind: 'isolation-forest',
    forest,
    score: (rows) => scoreMatrix(toFloat32Matrix(rows, forest.featureCount), rows.length),
    explain: (row) => explainRow(forest, row),
    toJSON: () => ({ kind: 'isolation-forest', format: 1, ...flatForestToJSON(forest) }),
  }
}
