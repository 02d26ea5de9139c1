import { liveVersion } from '@vigil/models'
import type { PgPool } from '@vigil/platform'
import type { FeatureHistory } from '../adapters/feature-history.ts'

const BINS = 10
// An empty bin would make PSI infinite; this is the share it counts as instead.
const EMPTY_BIN_SHARE = 1e-4

/**
 * Population stability index of one feature: Σ (actual − expected) · ln(actual / expected) over bins
 * cut at the expected (training) sample's deciles. Repeated values (counts, flags) give fewer, wider
 * bins. Below 0.1 is usually read as stable, above 0.25 as a real shift.
 */
export function populationStability(expected: readonly number[], actual: readonly number[]): number {
  if (expected.length === 0 || actual.length === 0) return 0
  const sorted = [...expected].sort((a, b) => a - b)
  const edges: number[] = []
  for (let b = 1; b < BINS; b++) {
    const edge = sorted[Math.floor((b * sorted.length) / BINS)]!
    if (edges.at(-1) !== edge) edges.push(edge)
  }
  const share = (values: readonly number[]) => {
    const counts = new Array<number>(edges.length + 1).fill(0)
    for (const v of values) {
      let bin = 0
      while (bin < edges.length && v >= edges[bin]!) bin++
      counts[bin]!++
    }
    return counts.map((c) => Math.max(c / values.length, EMPTY_BIN_SHARE))
  }
  const e = share(expected)
  const a = share(actual)
  let psi = 0
  for (let i = 0; i < e.length; i++) psi += (a[i]! - e[i]!) * Math.log(a[i]! / e[i]!)
  return psi
}

export interface DriftReport {
  version: string
  /** PSI per feature name */
  psi: Record<string, number>
  /** the feature with the largest PSI */
  worst: { feature: string; psi: number } | null
  recentRows: number
}

/** PSI of every feature between the live version's training window and the most recent `windowMs` of history. Null without a live version or recent rows. */
export async function measureDrift(pool: PgPool, history: FeatureHistory, model: string, windowMs: number, maxRows: number): Promise<DriftReport | null> {
  const live = await liveVersion(pool, model)
  if (!live?.windowStart || !live.windowEnd) return null
  const newest = await history.newestEventTime()
  if (!newest) return null
  const trained = await history.trainingSet(maxRows, { from: live.windowStart, to: new Date(live.windowEnd.getTime() + 1) }, { excludeFlagged: false })
  const recent = await history.trainingSet(maxRows, { from: new Date(newest.getTime() - windowMs), to: new Date(newest.getTime() + 1) }, { excludeFlagged: false })
  if (trained.rows.length === 0 || recent.rows.length === 0) return null
  const psi: Record<string, number> = {}
  let worst: DriftReport['worst'] = null
  trained.featureNames.forEach((feature, j) => {
    const value = populationStability(trained.rows.map((r) => r[j]!), recent.rows.map((r) => r[j]!))
    psi[feature] = value
    if (!worst || value > worst.psi) worst = { feature, psi: value }
  })
  return { version: live.version, psi, worst, recentRows: recent.rows.length }
}
