import { seededRandom, type DetectorKind, type FeatureContribution, type FeatureRow, type TrainedDetector } from '../detector.ts'
import { createNeighbourSearch, type NeighbourSearch } from './neighbour-search.ts'
import { checkScaling, featureCount, fitColumnScaling, positiveContributions, sampleIndices, scaleRow, type ColumnScaling } from './columns.ts'

/**
 * Distance to the nearest training rows (Ramaswamy et al., 2000; Angiulli & Pizzuti, 2002): a row's
 * score is its mean Euclidean distance to its k nearest rows of a stored reference sample, on scaled
 * columns (found with a k-d tree, see neighbour-search.ts). It is what the other members are not:
 * multivariate without a model.
 * A forest splits one feature at a time and histograms see features alone, so a row made of values
 * that are each common but never seen together passes them; it is still far from every training row.
 * Chosen over Local Outlier Factor, which on the benchmark's labelled sets (bench/models) ranked
 * attacks clearly worse (ROC-AUC 0.75 against 0.99 on Stratosphere Zeek, 0.85 against 0.98 on
 * NSL-KDD): LOF's density ratio forgives rows in sparse regions, and attack traffic is sparse.
 * The strongest single member on the benchmark, and the slowest: the default ensemble gives it the
 * largest weight (the trainer's TRAIN_MEMBERS).
 */
export const KNN_DISTANCE = 'knn-distance'

/**
 * Scoring's search slack ε: each neighbour found is within 1 + ε of the true one of its rank. The
 * rows it shortens the search for most are those far from every reference row, where the exact
 * search reads most of the reference and where a near-tie between distant rows changes nothing.
 * At ε = 1 scoring ran 1.3-2.5x faster than exact (most with many features); on the benchmark's sets
 * (bench/models) scores moved by 0.04-0.4% on average and ROC-AUC by at most 0.001 for the member,
 * 0.0005 for the ensemble.
 * Training (the neighbours' typical spread) searches exactly.
 */
const SEARCH_SLACK = 1

/**
 * How far beyond all its nearest neighbours' values a row's value must lie, in units of the usual
 * step between a reference row and a neighbour that differs from it in that feature (typicalChange),
 * for an explanation to quote their range. Of five neighbours' values, an ordinary one falls outside
 * their range one time in three by chance alone; the margin keeps those out of the reasons. On the
 * test fixture's 3,000 ordinary rows, 54% had such a reason without it, 0.6% with it (0.1% at 3); on
 * the sotm34 honeywall's firewall log it gave a reason to 19 of 106 model alerts that had none (3 at
 * 3). A flag, or a count that moves by ones, is quoted only more than two steps away: "distinct_users
 * 2, nearest … all 1" is no news where one row in ten has 2.
 */
const NEAREST_MARGIN = 2

export interface KnnDistanceParams {
  /** k: neighbours averaged over */
  neighbours: number
  /** reference rows kept (a seeded sample of the training rows); scoring cost grows with it */
  referenceSize: number
}

interface KnnDistanceState {
  scaling: ColumnScaling
  neighbours: number
  /** reference rows as given (raw values compress far better than scaled ones), row-major */
  reference: number[]
  /** per feature: the mean squared difference between a reference row and its neighbours */
  typicalSpread: number[]
  /**
   * per feature: the root mean square of those differences that are not zero, and never less than the
   * column's smallest step between two of its values: the usual step between neighbours that differ,
   * where typicalSpread, pulled toward 0 by the many that agree, says a count's step of 1 is far
   * (absent in artifacts from before it: no range is quoted)
   */
  typicalChange?: number[]
}

export const knnDistance: DetectorKind<KnnDistanceParams> = {
  kind: KNN_DISTANCE,
  // 4000 reference rows against 2000: on bench/models, CSIC 2010's PR-AUC rose from 0.905 to 0.911 in
  // the default ensemble and UNSW-NB15's ROC-AUC from 0.910 to 0.921 (trained on what was not flagged),
  // at half the scoring rate on 57 features.
  defaults: { neighbours: 5, referenceSize: 4000 },
  train(rows, params, seed) {
    const width = featureCount(rows)
    if (rows.length < 2) throw new Error('knn-distance needs at least 2 rows')
    if (!(params.neighbours >= 1 && params.referenceSize >= 2)) throw new Error(`knn-distance needs neighbours >= 1 and referenceSize >= 2, got ${params.neighbours} and ${params.referenceSize}`)
    const picked = Array.from(sampleIndices(rows.length, params.referenceSize, seededRandom(seed)), (i) => rows[i]!)
    const scaling = fitColumnScaling(rows)
    const k = Math.min(params.neighbours, picked.length - 1)
    const reference = picked.flatMap((row) => Array.from(row))
    const search = searchOf(scaling, reference, k)
    const n = picked.length
    const typicalSpread = new Array<number>(width).fill(0)
    const changeSum = new Array<number>(width).fill(0)
    const changes = new Array<number>(width).fill(0)
    for (let o = 0; o < n; o++) {
      search.find(search.scaledReference.subarray(o * width, (o + 1) * width), o)
      for (let t = 0; t < k; t++) {
        const p = search.index[t]!
        for (let j = 0; j < width; j++) {
          const d = search.scaledReference[o * width + j]! - search.scaledReference[p * width + j]!
          typicalSpread[j]! += (d * d) / (n * k)
          if (d !== 0) {
            changeSum[j]! += d * d
            changes[j]!++
          }
        }
      }
    }
    const typicalChange = changeSum.map((sum, j) => Math.max(changes[j]! > 0 ? Math.sqrt(sum / changes[j]!) : 0, smallestStep(search.scaledReference, width, j)))
    return createKnnDistance({ scaling, neighbours: k, reference, typicalSpread, typicalChange })
  },
  load: (state) => createKnnDistance(checkState(state)),
}

/** The smallest difference between two distinct values of column j (scaled): a count's step, a flag's only one; 0 for a constant column. */
function smallestStep(scaledReference: Float64Array, width: number, j: number): number {
  const values = new Float64Array(scaledReference.length / width)
  for (let o = 0; o < values.length; o++) values[o] = scaledReference[o * width + j]!
  values.sort()
  let step = Infinity
  for (let o = 1; o < values.length; o++) {
    const gap = values[o]! - values[o - 1]!
    if (gap > 0 && gap < step) step = gap
  }
  return step === Infinity ? 0 : step
}

/** The reference rows scaled, and a search over them. */
function searchOf(scaling: ColumnScaling, reference: number[], k: number): NeighbourSearch {
  const width = scaling.center.length
  const n = reference.length / width
  const scaledReference = new Float64Array(reference.length)
  for (let o = 0; o < n; o++) scaleRow(scaling, reference.slice(o * width, (o + 1) * width), scaledReference.subarray(o * width, (o + 1) * width))
  return createNeighbourSearch(scaledReference, width, k)
}

function createKnnDistance(state: KnnDistanceState): TrainedDetector {
  const { scaling, typicalSpread, typicalChange } = state
  const k = state.neighbours
  const width = scaling.center.length
  const search = searchOf(scaling, state.reference, k)
  const scaled = new Float64Array(width)
  const neighboursOf = (row: FeatureRow, slack = SEARCH_SLACK) => search.find(scaleRow(scaling, row, scaled), -1, slack)
  return {
    kind: KNN_DISTANCE,
    score(rows) {
      const out = new Float64Array(rows.length)
      for (let i = 0; i < rows.length; i++) {
        neighboursOf(rows[i]!)
        let total = 0
        for (let t = 0; t < k; t++) total += Math.sqrt(search.squaredDistance[t]!)
        out[i] = total / k
      }
      return out
    },
    /**
     * per feature, the row's mean squared difference from its neighbours less the usual one between
     * neighbours; and where the row's value lies beyond all its neighbours' by more than NEAREST_MARGIN
     * times the usual step between neighbours (typicalChange), their range (as given, not scaled). The
     * neighbours are the exact nearest of the reference rows, not the approximate ones scoring uses:
     * an alert quotes them.
     */
    explain(row): FeatureContribution[] {
      neighboursOf(row, 0)
      // A value so far out that every distance overflowed finds no neighbour: it is to blame by its size.
      if (search.index[0]! < 0) return positiveContributions(scaled.map((v) => v * v))
      const excess = new Float64Array(width)
      const scaledLow = new Float64Array(width).fill(Infinity)
      const scaledHigh = new Float64Array(width).fill(-Infinity)
      const low = new Float64Array(width)
      const high = new Float64Array(width)
      for (let t = 0; t < k; t++) {
        const base = search.index[t]! * width
        for (let j = 0; j < width; j++) {
          const neighbour = search.scaledReference[base + j]!
          const d = scaled[j]! - neighbour
          excess[j]! += (d * d) / k
          if (neighbour < scaledLow[j]!) [scaledLow[j], low[j]] = [neighbour, state.reference[base + j]!]
          if (neighbour > scaledHigh[j]!) [scaledHigh[j], high[j]] = [neighbour, state.reference[base + j]!]
        }
      }
      for (let j = 0; j < width; j++) excess[j]! -= typicalSpread[j]!
      return positiveContributions(excess).map((c) => {
        const j = c.feature
        const beyond = Math.max(scaledLow[j]! - scaled[j]!, scaled[j]! - scaledHigh[j]!)
        const quoted = typicalChange !== undefined && beyond > NEAREST_MARGIN * typicalChange[j]!
        return quoted ? { ...c, nearest: { low: low[j]!, high: high[j]! } } : c
      })
    },
    toJSON: () => state,
  }
}

function checkState(state: unknown): KnnDistanceState {
  const s = state as KnnDistanceState
  if (!s || !s.scaling || !Array.isArray(s.reference)) throw new Error('not a knn-distance state')
  const width = checkScaling(s.scaling, s.scaling.center.length).center.length
  const n = s.reference.length / width
  if (!Number.isInteger(n) || n < 2 || s.typicalSpread.length !== width || !(s.neighbours >= 1 && s.neighbours < n)
    || (s.typicalChange !== undefined && !(Array.isArray(s.typicalChange) && s.typicalChange.length === width && s.typicalChange.every((c) => typeof c === 'number' && c >= 0)))) {
    throw new Error('knn-distance state does not fit together')
  }
  return s
}
