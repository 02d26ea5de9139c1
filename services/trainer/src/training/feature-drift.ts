import { liveVersion } from '@vigil/models'
import type { PgPool } from '@vigil/platform'
import { featureDefinitions } from '@vigil/schemas'
import type { FeatureHistory } from '../adapters/feature-history.ts'

const BINS = 10
// An empty bin would make PSI infinite; this is the share it counts as instead.
const EMPTY_BIN_SHARE = 1e-4

/**
 * Population stability index of one feature: Σ (actual − expected) · ln(actual / expected) over bins
 * cut from the expected (training) sample. Below 0.1 is usually read as stable, above 0.25 as a real shift.
 *
 * The cuts are the sample's deciles and its maximum; a bin holds the values above one cut up to and
 * including the next. Decile cuts alone collapse on a feature that mostly repeats one value (a count
 * or a flag that is 0 in 95% of training): every value from there up would share one bin, and a brute
 * force could never drift. So a value that holds at least a bin's share of the sample is a bin of its
 * own, apart from the values just below it, and values above the maximum have a bin of their own.
 */
export function populationStability(expected: readonly number[], actual: readonly number[]): number {
  if (expected.length === 0 || actual.length === 0) return 0
  const binOf = binning(expected)
  const share = (values: readonly number[]) => {
    const counts = new Array<number>(binOf.count).fill(0)
    for (const v of values) counts[binOf(v)]!++
    return counts.map((c) => Math.max(c / values.length, EMPTY_BIN_SHARE))
  }
  const e = share(expected)
  // Nothing of the sample lies above its maximum, yet a fresh draw from the same population does
  // with probability 1/(n+1): the share that bin expects, rather than the empty-bin floor (which
  // made a single recent value above the maximum look like a shift).
  e[binOf.count - 1] = 1 / (expected.length + 1)
  const a = share(actual)
  let psi = 0
  for (let i = 0; i < e.length; i++) psi += (a[i]! - e[i]!) * Math.log(a[i]! / e[i]!)
  return psi
}

/**
 * The bins of `expected`, as a function from a value to its bin. Cut j gives bin 2j (above cut j−1
 * up to cut j, or only below it when the cut's value is a bin of its own) and bin 2j+1 (exactly the
 * cut's value, when it is); the last bin is above the maximum. A bin no value can reach stays empty
 * in both samples and adds nothing.
 */
function binning(expected: readonly number[]): ((value: number) => number) & { count: number } {
  const sorted = [...expected].sort((a, b) => a - b)
  const n = sorted.length
  const ownValues = new Set<number>()
  for (let from = 0; from < n;) {
    const to = firstAbove(sorted, sorted[from]!)
    if ((to - from) * BINS >= n) ownValues.add(sorted[from]!)
    from = to
  }
  const cutValues = new Set([...ownValues, sorted[n - 1]!])
  for (let b = 1; b < BINS; b++) cutValues.add(sorted[Math.floor((b * n) / BINS)]!)
  const cuts = [...cutValues].sort((a, b) => a - b)
  const binOf = (value: number) => {
    const j = firstAtLeast(cuts, value)
    if (j === cuts.length) return 2 * cuts.length
    return value === cuts[j] && ownValues.has(value) ? 2 * j + 1 : 2 * j
  }
  return Object.assign(binOf, { count: 2 * cuts.length + 1 })
}

/** Index of the first element of ascending `sorted` that is at least `value` (its length when none is). */
function firstAtLeast(sorted: readonly number[], value: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid]! < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Index of the first element of ascending `sorted` above `value` (its length when none is). */
function firstAbove(sorted: readonly number[], value: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid]! <= value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * The clock's features (group `temporal`: hour, weekday, weekend, business hours). A recent window of
 * an hour holds one hour of one day against a training window of every hour of the week, so these
 * differ however steady the traffic is: they do not decide whether the data drifted.
 */
const CLOCK_FEATURES: ReadonlySet<string> = new Set(featureDefinitions.filter((f) => f.group === 'temporal').map((f) => f.name))

/** How far recent history is from the training window, feature by feature. */
export interface FeatureDrift {
  /** PSI per feature name, of the features that decide drift: all but the clock's */
  psi: Record<string, number>
  /** PSI of the clock's features, for the record only: they never decide drift */
  clockPsi: Record<string, number>
  /** the deciding feature with the largest PSI */
  worst: { feature: string; psi: number } | null
}

export interface DriftReport extends FeatureDrift {
  /** the live version whose training window recent history was compared with */
  version: string
  recentRows: number
}

/** PSI of each feature (column j of the rows is `featureNames[j]`) between training rows and recent rows. */
export function featureDrift(featureNames: readonly string[], trained: readonly number[][], recent: readonly number[][]): FeatureDrift {
  const drift: FeatureDrift = { psi: {}, clockPsi: {}, worst: null }
  featureNames.forEach((feature, j) => {
    const value = populationStability(trained.map((r) => r[j]!), recent.map((r) => r[j]!))
    if (CLOCK_FEATURES.has(feature)) {
      drift.clockPsi[feature] = value
      return
    }
    drift.psi[feature] = value
    if (!drift.worst || value > drift.worst.psi) drift.worst = { feature, psi: value }
  })
  return drift
}

/** PSI of every feature between the live version's training window and the most recent `windowMs` of history. Null without a live version or recent rows. */
export async function measureDrift(pool: PgPool, history: FeatureHistory, model: string, windowMs: number, maxRows: number): Promise<DriftReport | null> {
  const live = await liveVersion(pool, model)
  if (!live?.windowStart || !live.windowEnd) return null
  const newest = await history.newestStreamedEventTime()
  if (!newest) return null
  // Traffic as it came, attacks included; not the lines of redriven dead letters, sent again late.
  const kept = { excludeFlagged: false, excludeRedriven: true }
  const trained = await history.trainingSet(maxRows, { from: live.windowStart, to: new Date(live.windowEnd.getTime() + 1) }, kept)
  const recent = await history.trainingSet(maxRows, { from: new Date(newest.getTime() - windowMs), to: new Date(newest.getTime() + 1) }, kept)
  if (trained.rows.length === 0 || recent.rows.length === 0) return null
  return { version: live.version, ...featureDrift(trained.featureNames, trained.rows, recent.rows), recentRows: recent.rows.length }
}
