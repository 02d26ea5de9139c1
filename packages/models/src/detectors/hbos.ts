import type { DetectorKind, FeatureContribution, FeatureRow, TrainedDetector } from '../detector.ts'
import { featureCount, heavyTailedColumns, positiveContributions, signedLog1p } from './columns.ts'

/**
 * Histogram-based outlier score (Goldstein & Dengel, 2012): one histogram per feature, a row's score
 * the sum over features of -ln(normalised bin height). A feature with few distinct values gets a bin
 * per value; others get static bins, on a log1p scale when heavy tailed (see columns.ts), so that the
 * bulk of a count or byte column is not squeezed into its first bin. Features are taken as independent,
 * which makes it fast and blind to combinations; it sees a value that is rare in its own column.
 */
export const HBOS = 'hbos'

export interface HbosParams {
  /** bins of a continuous feature; 'auto' = √rows, between 10 and 50 */
  bins: number | 'auto'
  /** a feature with at most this many distinct values gets one bin per value (flags, hours, small counts) */
  maxCategories: number
  /**
   * added to every bin height (heights are normalised to a tallest bin of 1), so that an empty bin
   * within the training range costs -ln(alpha) rather than infinity
   */
  alpha: number
}

/** One feature's histogram. Heights are stored as their costs, -ln(height + alpha). */
interface Histogram {
  log1p: boolean
  /** categorical: the distinct training values, ascending; binned: empty */
  values: number[]
  /** binned: the lower edge and the width of the bins, on the (log1p) scale */
  low: number
  width: number
  /** cost per bin or per value */
  costs: number[]
  /**
   * beyond the training range the cost grows by distance / step: the density is taken to keep falling
   * by a factor e per bin. A cost that stopped at the empty-bin level would rank 8e9 bytes with 2e6;
   * in security logs "how far beyond anything seen" is the point.
   */
  step: number
  /** mean cost over the training rows; explanations report the excess over it */
  meanCost: number
}

interface HbosState {
  alpha: number
  histograms: Histogram[]
}

export const hbos: DetectorKind<HbosParams> = {
  kind: HBOS,
  defaults: { bins: 'auto', maxCategories: 32, alpha: 0.01 },
  train(rows, params) {
    const width = featureCount(rows)
    const log1p = heavyTailedColumns(rows)
    const bins = params.bins === 'auto' ? Math.min(50, Math.max(10, Math.round(Math.sqrt(rows.length)))) : params.bins
    if (!(bins >= 1) || !(params.alpha > 0)) throw new Error(`hbos needs bins >= 1 and alpha > 0, got ${bins} and ${params.alpha}`)
    const histograms: Histogram[] = []
    for (let j = 0; j < width; j++) {
      const column = new Float64Array(rows.length)
      for (let i = 0; i < rows.length; i++) column[i] = log1p[j] ? signedLog1p(rows[i]![j]!) : rows[i]![j]!
      histograms.push(fitHistogram(column, log1p[j]!, bins, params))
    }
    return createHbos({ alpha: params.alpha, histograms })
  },
  load: (state) => createHbos(checkState(state)),
}

function fitHistogram(column: Float64Array, log1p: boolean, bins: number, params: HbosParams): Histogram {
  column.sort()
  const values: number[] = []
  const counts: number[] = []
  for (let i = 0; i < column.length; i++) {
    if (values.length > params.maxCategories) break
    if (i === 0 || column[i] !== column[i - 1]) {
      values.push(column[i]!)
      counts.push(0)
    }
    counts[counts.length - 1]! += 1
  }
  const low = column[0]!
  const high = column[column.length - 1]!
  let histogram: Histogram
  if (values.length <= params.maxCategories) {
    const step = values.length > 1 ? (high - low) / (values.length - 1) : 1
    histogram = { log1p, values, low, width: 0, costs: costsOf(counts, params.alpha), step, meanCost: 0 }
  } else {
    const width = high > low ? (high - low) / bins : 1
    const binCounts = new Array<number>(bins).fill(0)
    for (let i = 0; i < column.length; i++) binCounts[binOf(column[i]!, low, width, bins)]! += 1
    histogram = { log1p, values: [], low, width, costs: costsOf(binCounts, params.alpha), step: width, meanCost: 0 }
  }
  let total = 0
  for (let i = 0; i < column.length; i++) total += costOf(histogram, column[i]!, -Math.log(params.alpha))
  histogram.meanCost = total / column.length
  return histogram
}

function costsOf(counts: number[], alpha: number): number[] {
  const tallest = Math.max(...counts)
  return counts.map((c) => -Math.log(c / tallest + alpha))
}

function binOf(v: number, low: number, width: number, bins: number): number {
  return Math.min(bins - 1, Math.floor((v - low) / width))
}

/** The cost of value `v` (already on the histogram's scale); `empty` = -ln(alpha). */
function costOf(h: Histogram, v: number, empty: number): number {
  const { values, costs } = h
  if (values.length > 0) {
    const first = values[0]!
    const last = values[values.length - 1]!
    if (v < first) return empty + (first - v) / h.step
    if (v > last) return empty + (v - last) / h.step
    let lo = 0
    let hi = values.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (values[mid]! < v) lo = mid + 1
      else hi = mid
    }
    return values[lo] === v ? costs[lo]! : empty
  }
  const high = h.low + h.width * costs.length
  if (v < h.low) return empty + (h.low - v) / h.step
  if (v > high) return empty + (v - high) / h.step
  return costs[binOf(v, h.low, h.width, costs.length)]!
}

function createHbos(state: HbosState): TrainedDetector {
  const { histograms } = state
  const empty = -Math.log(state.alpha)
  const width = histograms.length
  const cost = (row: FeatureRow, j: number): number => {
    const h = histograms[j]!
    const v = row[j]!
    return costOf(h, h.log1p ? signedLog1p(v) : v, empty)
  }
  return {
    kind: HBOS,
    score(rows) {
      const out = new Float64Array(rows.length)
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!
        let total = 0
        for (let j = 0; j < width; j++) total += cost(row, j)
        out[i] = total
      }
      return out
    },
    /** per feature, its cost less its mean cost over the training rows */
    explain(row): FeatureContribution[] {
      const excess = new Float64Array(width)
      for (let j = 0; j < width; j++) excess[j] = cost(row, j) - histograms[j]!.meanCost
      return positiveContributions(excess)
    },
    toJSON: () => state,
  }
}

function checkState(state: unknown): HbosState {
  const s = state as HbosState
  if (!s || !(s.alpha > 0) || !Array.isArray(s.histograms)) throw new Error('not an hbos state')
  for (const h of s.histograms) {
    if (!Array.isArray(h.costs) || h.costs.length === 0 || (h.values.length > 0 && h.values.length !== h.costs.length)) {
      throw new Error('hbos state has a malformed histogram')
    }
  }
  return s
}
