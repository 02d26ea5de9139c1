import type { FeatureRow } from '../detector.ts'

/**
 * How the members put feature columns on one footing. Counts, bytes and durations span orders of
 * magnitude with most rows near zero; on a log1p scale "ten times more" is one step wherever it
 * happens, so a heavy-tailed non-negative column is log1p-transformed before anything else (signed,
 * so that a negative value met when scoring stays defined and ordered).
 * Standardising then gives every column unit spread, so that distances and variances compare.
 */
export interface ColumnScaling {
  /** per column: log1p is applied before centring */
  log1p: boolean[]
  center: number[]
  scale: number[]
}

/** A column's sample skewness above this (and no negative value) makes it log1p-transformed. */
const HEAVY_TAIL_SKEWNESS = 1

/** The number of features in every row; throws on an empty or ragged matrix. */
export function featureCount(rows: readonly FeatureRow[]): number {
  const first = rows[0]
  if (!first) throw new Error('need at least one row')
  const width = first.length
  for (let i = 0; i < rows.length; i++) {
    if (rows[i]!.length !== width) throw new Error(`row ${i} has ${rows[i]!.length} features, row 0 has ${width}`)
  }
  return width
}

/** sign(v)·ln(1 + |v|): log1p that is defined and increasing on the whole line. */
export function signedLog1p(v: number): number {
  // Zero (most of a count column) is its own log1p, and a comparison costs far less than the call.
  return v > 0 ? Math.log1p(v) : v < 0 ? -Math.log1p(-v) : v
}

/** Chooses log1p per column from its shape: non-negative and skewed to the right. */
export function heavyTailedColumns(rows: readonly FeatureRow[]): boolean[] {
  const width = featureCount(rows)
  const n = rows.length
  const out: boolean[] = []
  for (let j = 0; j < width; j++) {
    let min = Infinity
    let mean = 0
    for (let i = 0; i < n; i++) {
      const v = rows[i]![j]!
      if (v < min) min = v
      mean += v
    }
    mean /= n
    let m2 = 0
    let m3 = 0
    for (let i = 0; i < n; i++) {
      const d = rows[i]![j]! - mean
      m2 += d * d
      m3 += d * d * d
    }
    m2 /= n
    m3 /= n
    out.push(min >= 0 && m2 > 0 && m3 / m2 ** 1.5 > HEAVY_TAIL_SKEWNESS)
  }
  return out
}

/**
 * log1p where chosen, then mean and standard deviation of the result. A column constant over the n
 * rows gets scale 1/√n, the standard deviation of a flag set in one row of n: a value never seen in
 * training then lies as far out (√n per unit) as a flag seen once, and not nearer than the rarest
 * value that was seen. With scale 1, a flag never set in training (user_agent_is_scanner) that turned
 * up was one standard deviation out, nearer than a flag set in 5% of the rows (4.4 out).
 */
export function fitColumnScaling(rows: readonly FeatureRow[]): ColumnScaling {
  const log1p = heavyTailedColumns(rows)
  const width = log1p.length
  const n = rows.length
  const center: number[] = []
  const scale: number[] = []
  for (let j = 0; j < width; j++) {
    const log = log1p[j]!
    let mean = 0
    for (let i = 0; i < n; i++) mean += log ? signedLog1p(rows[i]![j]!) : rows[i]![j]!
    mean /= n
    let m2 = 0
    for (let i = 0; i < n; i++) {
      const d = (log ? signedLog1p(rows[i]![j]!) : rows[i]![j]!) - mean
      m2 += d * d
    }
    const sd = Math.sqrt(m2 / n)
    center.push(mean)
    scale.push(sd > 1e-12 ? sd : 1 / Math.sqrt(n))
  }
  return { log1p, center, scale }
}

/** Writes the scaled row into `out` (length = features) and returns it. */
export function scaleRow(scaling: ColumnScaling, row: FeatureRow, out: Float64Array): Float64Array {
  const { log1p, center, scale } = scaling
  for (let j = 0; j < out.length; j++) {
    const v = row[j]!
    out[j] = ((log1p[j] ? signedLog1p(v) : v) - center[j]!) / scale[j]!
  }
  return out
}

/** Scales rows into one row-major matrix (rows × features). */
export function scaleRows(scaling: ColumnScaling, rows: readonly FeatureRow[]): Float64Array {
  const width = scaling.center.length
  const out = new Float64Array(rows.length * width)
  for (let i = 0; i < rows.length; i++) scaleRow(scaling, rows[i]!, out.subarray(i * width, (i + 1) * width))
  return out
}

/** Checks a stored scaling has `width` columns (states come from stored artifacts). */
export function checkScaling(scaling: ColumnScaling, width: number): ColumnScaling {
  if (scaling.log1p.length !== width || scaling.center.length !== width || scaling.scale.length !== width) {
    throw new Error(`column scaling has ${scaling.center.length} columns, the detector ${width}`)
  }
  return scaling
}

/** Picks `count` distinct indices of [0, n) with a seeded partial Fisher-Yates shuffle, in ascending order. */
export function sampleIndices(n: number, count: number, random: () => number): Int32Array {
  const take = Math.min(n, count)
  const pool = new Int32Array(n)
  for (let i = 0; i < n; i++) pool[i] = i
  for (let i = 0; i < take; i++) {
    const j = i + Math.floor(random() * (n - i))
    const t = pool[i]!
    pool[i] = pool[j]!
    pool[j] = t
  }
  return pool.subarray(0, take).sort()
}

/** Feature contributions above zero, largest first: the form `explain` returns. */
export function positiveContributions(excess: ArrayLike<number>): { feature: number; weight: number }[] {
  const out: { feature: number; weight: number }[] = []
  for (let j = 0; j < excess.length; j++) if (excess[j]! > 0) out.push({ feature: j, weight: excess[j]! })
  return out.sort((a, b) => b.weight - a.weight || a.feature - b.feature)
}
