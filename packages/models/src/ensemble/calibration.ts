/**
 * Calibration: a raw score → how surprising it is among the held-out training rows. In the body it is
 * the empirical CDF (binary search over stored quantiles, ties
 * counted half). An empirical CDF of a few thousand points saturates at its last point, so every row
 * beyond the training range would get the same score and no threshold above the top 1/4096 could be
 * set; beyond the top `share` of the rows the tail is therefore an exponential fitted to them
 * (peaks over threshold), which keeps ranking the rows that matter most.
 *
 * Scores are handled as surprisal s = -ln P(a training row scores at least this high), so that tails far
 * below 1e-16 stay ordered; the calibrated score in [0,1] is 1 - e^(-s).
 */
export interface Calibration {
  /** sorted raw scores at evenly spaced quantiles of the calibration rows */
  points: number[]
  /** above `from` (the 1 - share quantile): P(raw > x) = share · e^(-(x - from) / scale) */
  tail: { from: number; share: number; scale: number }
}

/** Quantiles kept per calibration: a resolution of 1/4096 in the body. */
export const CALIBRATION_POINTS = 2048

/** Rows the exponential tail is fitted to, at least (its share is 1% to 10% of the rows). */
const TAIL_ROWS = 20

/** Fits a calibration to the raw scores of held-out training rows. */
export function fitCalibration(raw: ArrayLike<number>, maxPoints = CALIBRATION_POINTS): Calibration {
  const n = raw.length
  if (n === 0) throw new Error('calibration needs at least one score')
  const sorted = Float64Array.from(raw).sort()
  if (!Number.isFinite(sorted[0]!) || !Number.isFinite(sorted[n - 1]!)) throw new Error('calibration scores must be finite')
  const points: number[] = []
  if (n <= maxPoints) points.push(...sorted)
  else for (let t = 0; t < maxPoints; t++) points.push(sorted[Math.floor(((t + 0.5) * n) / maxPoints)]!)

  const share = Math.min(0.1, Math.max(0.01, TAIL_ROWS / n))
  const cut = Math.min(n - 1, Math.floor((1 - share) * n))
  const from = sorted[cut]!
  let excess = 0
  for (let i = cut; i < n; i++) excess += sorted[i]! - from
  excess /= n - cut
  // Tied top scores give no excess: fall back to the exponential through the median and `from`.
  const median = sorted[Math.floor(n / 2)]!
  const scale = excess > 0 ? excess : from > median ? (from - median) / Math.log(0.5 / share) : 1
  return { points, tail: { from, share, scale } }
}

/**
 * How far apart, relative to a calibration value, two raw scores still count as the same score.
 * Calibrations are fitted on float64 scores, but onnxruntime scores an exported forest in float32:
 * a row that repeats a calibration row (log data repeats feature vectors all the time) comes back a
 * few float32 rounding steps off its point, and would calibrate to one end of the point's tied
 * group (0.99 or 0 where the TypeScript forest gives 0.85 or 0.16). Rounding both sides with
 * Math.fround does not help, since the float32 average over the trees rounds at every step and
 * differs by up to 14 float32 eps (8e-7 relative) from the rounded float64 score for 1000 trees.
 * 1e-5 (about 170 eps, and the bound the forest's ONNX parity test holds) covers that with room, and
 * is far finer than the calibration's resolution of 1/4096 of the rows.
 */
const SAME_SCORE_TOLERANCE = 1e-5

/** -ln P(a calibration row scores at least `raw`): 0 below every row, unbounded beyond them. */
export function surprisalOf(calibration: Calibration, raw: number): number {
  const { from, share, scale } = calibration.tail
  const x = snapToCalibration(calibration, raw)
  if (x > from) return -Math.log(share) + (x - from) / scale
  const atOrAbove = 1 - empiricalCdf(calibration.points, x)
  return atOrAbove >= 1 ? 0 : -Math.log(Math.max(share, atOrAbove))
}

/**
 * `raw`, or the nearest calibration value (a point, or the tail's start) within SAME_SCORE_TOLERANCE
 * of it: so a float32 score of a calibration row gets that row's surprisal exactly, and the ensemble's
 * combined surprisal, hence its final score, is then the same bits on onnxruntime and TypeScript.
 * The map is monotone, so it keeps the order of scores.
 */
function snapToCalibration(calibration: Calibration, raw: number): number {
  const { points, tail } = calibration
  const lo = lowerBound(points, raw)
  let nearest = raw
  let distance = Infinity
  for (const candidate of [points[lo - 1], points[lo], tail.from]) {
    if (candidate === undefined) continue
    const d = Math.abs(candidate - raw)
    if (d < distance && d <= SAME_SCORE_TOLERANCE * Math.abs(candidate)) {
      nearest = candidate
      distance = d
    }
  }
  return nearest
}

/** The calibrated score in [0,1]: the share of calibration rows that scored lower. */
export function calibrate(calibration: Calibration, raw: number): number {
  return -Math.expm1(-surprisalOf(calibration, raw))
}

/** Share of `sorted` below `raw`, ties counted half (mid-rank), by binary search. */
export function empiricalCdf(sorted: readonly number[], raw: number): number {
  const n = sorted.length
  if (n === 0) return 0
  const lo = lowerBound(sorted, raw)
  // A score equal to no point, the usual case, needs no second search.
  if (lo === n || sorted[lo] !== raw) return lo / n
  let upper = lo
  let hi = n
  while (upper < hi) {
    const mid = (upper + hi) >> 1
    if (sorted[mid]! <= raw) upper = mid + 1
    else hi = mid
  }
  return (lo + upper) / (2 * n)
}

/**
 * The threshold at which `score >= threshold` flags the share of `scores` nearest `targetRate`
 * (ties can make an exact share impossible). 1 when the rate asks for less than half a row.
 */
export function thresholdForAlertRate(scores: ArrayLike<number>, targetRate: number): number {
  if (!(targetRate >= 0 && targetRate <= 1)) throw new Error(`alert rate must be in [0,1], got ${targetRate}`)
  const n = scores.length
  const want = Math.round(targetRate * n)
  if (n === 0 || want === 0) return 1
  const sorted = Float64Array.from(scores).sort()
  const atOrAbove = (t: number) => n - lowerBound(sorted, t)
  let threshold = sorted[n - want]!
  // Ties at the threshold flag more rows than asked; the next distinct score up may come closer.
  const upper = sorted.find((v) => v > threshold)
  if (upper !== undefined && Math.abs(atOrAbove(upper) - want) < Math.abs(atOrAbove(threshold) - want)) threshold = upper
  return threshold
}

/** The first position in `sorted` whose value is not below `value`. */
function lowerBound(sorted: ArrayLike<number>, value: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (sorted[mid]! < value) lo = mid + 1
    else hi = mid
  }
  return lo
}
