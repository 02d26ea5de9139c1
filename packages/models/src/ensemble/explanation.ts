import { featureDefinitions } from '@vigil/schemas'
import type { FeatureContribution, FeatureRow } from '../detector.ts'

/** One feature's training distribution, the yardstick explanations quote. */
export interface FeatureBaseline {
  /** absent in artifacts from before it: `min` then marks the low end of the usual range */
  p1?: number
  /** absent in artifacts from before it, as p90: the outer tenths explanations fall back on (see topFeatures) */
  p10?: number
  p50: number
  p90?: number
  p99: number
  min: number
  max: number
  /** the training rows' mean: for a 0/1 flag, the share of rows it was set in (absent in artifacts from before it) */
  mean?: number
}

/**
 * A feature that pushed a row's score up, with a value outside its usual training range or far beyond
 * its nearest training rows'; where no feature was either, one in an outer tenth of training.
 */
export interface TopFeature {
  feature: string
  /** position in featureNames */
  index: number
  value: number
  p50: number
  p99: number
  /** its share of the row's attributed score, 0..1 */
  share: number
  /**
   * for a value usual for training as a whole, named because it lies far outside the range the
   * nearest rows of the k-NN member's training sample had (see topFeatures): that range
   */
  nearest?: { low: number; high: number }
  /**
   * for a value usual by both of those yardsticks, named because no feature was and it lies in an
   * outer tenth of training: the p90 it exceeds, or the p10 it falls under (see topFeatures)
   */
  outerTenth?: number
  /**
   * e.g. "auth_failure_ratio 0.94, training p99 0.08", "seconds_since_previous 0.5, training p1 2",
   * "bytes 40, nearest rows of the training sample 60 to 1500", or "bytes 364, above 90% of training rows (p90 60)"
   */
  text: string
  /** the feature's definition from @vigil/schemas, when it is one of them */
  description?: string
}

/** One member's say in a row: its explanation and how much of the combined score it carries. */
export interface MemberExplanation {
  contributions: readonly FeatureContribution[]
  /** the member's weighted part of the combined surprisal */
  carried: number
}

/** Per feature of the used training rows: p1, p10, p50, p90, p99 (nearest rank), min, max and mean. */
export function trainingBaselines(rows: readonly FeatureRow[], width: number): FeatureBaseline[] {
  const column = new Float64Array(rows.length)
  const rank = (q: number) => column[Math.min(rows.length - 1, Math.max(0, Math.ceil(q * rows.length) - 1))]!
  return Array.from({ length: width }, (_, j) => {
    for (let i = 0; i < rows.length; i++) column[i] = rows[i]![j]!
    let total = 0
    for (let i = 0; i < rows.length; i++) total += column[i]!
    column.sort()
    return {
      p1: rank(0.01), p10: rank(0.1), p50: rank(0.5), p90: rank(0.9), p99: rank(0.99), min: column[0]!, max: column[rows.length - 1]!, mean: total / rows.length,
    }
  })
}

/**
 * The features most to blame for a row. Each member's contributions are normalised to sum to one and
 * scaled by the part of the combined surprisal that member carries (its weight times its surprisal,
 * over the weights), so the attribution adds up to the combined score and a member that found the row
 * ordinary has little say in why it is not. Only features an analyst can check are named: those whose
 * values left their usual training range (see standingOf), and those whose values, usual for training
 * as a whole, lie far outside the range of the training rows nearest the row (a member that compares
 * the row with its neighbours says which, FeatureContribution.nearest): a row made of values each common
 * but never seen together (a firewall's backscatter: an ordinary packet size, port and hour) is named
 * by what sets it apart from the rows most like it (not a flag, whose other value is no news). Those
 * that left the training range come first, the stronger statement, then the others, each by
 * attribution. Where neither yardstick names a feature, those the members leaned on most (a tenth of
 * the attribution or more) at values in an outer tenth of training are named against its p90 or p10
 * (outerTenthBound), unless members that cannot explain carried most of the score. A feature the members
 * leaned on at a value none of these finds unusual is no reason, so a row with none gets an empty
 * list, and the alerter says which members scored it.
 */
export function topFeatures(
  row: FeatureRow,
  members: readonly MemberExplanation[],
  featureNames: readonly string[],
  baselines: readonly FeatureBaseline[],
  {
    count = 3,
    explainedPart = 1,
  }: {
    count?: number
    /**
     * the part of the row's combined surprisal that `members` carry, 0..1: members that cannot explain
     * (a user's ONNX model) carry the rest
     */
    explainedPart?: number
  } = {},
): TopFeature[] {
  const attribution = new Float64Array(featureNames.length)
  const nearest: Array<{ low: number; high: number } | undefined> = new Array(featureNames.length)
  // A value absurdly far outside training (a forged byte count of 1e300) overflows a member's
  // surprisal or a feature's weight to Infinity, or makes their product overflow: what overflowed
  // takes the whole attribution, shared equally, and everything is summed as fractions of its
  // largest part, never as products of huge numbers. Otherwise Infinity / Infinity makes every share
  // NaN, which a score cannot carry.
  const overflowedMembers = members.some((m) => m.carried === Infinity)
  let largestCarried = 0
  for (const m of members) if (m.carried > 0 && m.carried < Infinity) largestCarried = Math.max(largestCarried, m.carried)
  for (const member of members) {
    const carried = overflowedMembers ? (member.carried === Infinity ? 1 : 0) : member.carried / largestCarried
    if (!(carried > 0)) continue
    const overflowed = member.contributions.some((c) => c.weight === Infinity)
    const weightOf = (c: FeatureContribution) => (overflowed ? (c.weight === Infinity ? 1 : 0) : c.weight > 0 ? c.weight : 0)
    let largest = 0
    for (const c of member.contributions) largest = Math.max(largest, weightOf(c))
    if (!(largest > 0)) continue
    let total = 0
    for (const c of member.contributions) total += weightOf(c) / largest
    for (const c of member.contributions) {
      const weight = weightOf(c)
      if (weight > 0) attribution[c.feature]! += carried * (weight / largest / total)
      if (weight > 0 && c.nearest) nearest[c.feature] ??= c.nearest
    }
  }
  let sum = 0
  for (const a of attribution) sum += a
  const ranked: number[] = []
  // The nearest rows' range a value lies outside of. Not a flag's: its value, usual for training,
  // differs from its neighbours' by being the other of two ("geo_new_country_for_user 0, nearest … all
  // 1" led Linux-sample alerts), which says nothing an analyst can use.
  const apartFrom = (j: number) => {
    const range = nearest[j]
    if (!range || flags.has(featureNames[j]!) || !(row[j]! < range.low || row[j]! > range.high)) return undefined
    // as written, the value must not read as one of the ends (364.4K beside 364.45K reads "364K to …")
    return readsAs(row[j]!, range.low, range.high) ? undefined : range
  }
  // Values that left their training range first, the stronger statement, then those far from the
  // nearest rows; each by attribution.
  const againstTraining = new Uint8Array(attribution.length)
  const quotedRange: Array<{ low: number; high: number } | undefined> = new Array(attribution.length)
  for (let j = 0; j < attribution.length; j++) {
    if (!(attribution[j]! > 0)) continue
    if (standingOf(featureNames[j]!, row[j]!, baselines[j]!) !== 'usual') againstTraining[j] = 1
    else quotedRange[j] = apartFrom(j)
    if (againstTraining[j] || quotedRange[j]) ranked.push(j)
  }
  ranked.sort((a, b) => againstTraining[b]! - againstTraining[a]! || attribution[b]! - attribution[a]! || a - b)
  // Neither yardstick named anything (on the sotm34 honeywall's firewall log, 82 of 123 model alerts):
  // then the values the members leaned on that lie in an outer tenth of training are the reasons, a
  // weaker statement, but one an analyst can check ("bytes 364, above 90% of training rows (p90 60)":
  // the Messenger spam's packets), rather than none. Only a feature with a real part of the
  // attribution (a fifth of a row's features lie in an outer tenth by chance), and only where the
  // members that explain carried most of the score: where a member that cannot explain pushed the row
  // over, the alerter names the members instead.
  const outerTenth: Array<number | undefined> = new Array(attribution.length)
  if (ranked.length === 0 && explainedPart >= OUTER_TENTH_MIN_EXPLAINED) {
    for (let j = 0; j < attribution.length; j++) {
      if (!(attribution[j]! > 0 && attribution[j]! >= OUTER_TENTH_MIN_SHARE * sum)) continue
      outerTenth[j] = outerTenthBound(featureNames[j]!, row[j]!, baselines[j]!)
      if (outerTenth[j] !== undefined) ranked.push(j)
    }
    ranked.sort((a, b) => attribution[b]! - attribution[a]! || a - b)
  }
  return ranked.slice(0, count).map((index) => {
    const feature = featureNames[index]!
    const baseline = baselines[index]!
    const value = row[index]!
    const range = quotedRange[index]
    const tenth = outerTenth[index]
    return {
      feature,
      index,
      value,
      p50: baseline.p50,
      p99: baseline.p99,
      share: attribution[index]! / sum,
      ...(range && { nearest: range }),
      ...(tenth !== undefined && { outerTenth: tenth }),
      text: range ? describeApartFromNearest(feature, value, range)
        : tenth !== undefined ? describeOuterTenth(feature, value, tenth)
        : describeFeatureValue(feature, value, baseline),
      description: descriptions.get(feature),
    }
  })
}

/** The least share of a row's attribution a feature named against an outer tenth carries. */
const OUTER_TENTH_MIN_SHARE = 0.1
/** The least part of the combined surprisal the explaining members carry for the outer tenths to be named. */
const OUTER_TENTH_MIN_EXPLAINED = 0.5

/**
 * The training p90 a value exceeds, or the p10 it falls under (nearest rank: above p90 is above at
 * least 90% of training rows, below p10 below at least 90%); undefined within them, for an artifact
 * from before they were kept, and for what an outer tenth says nothing of: a flag (two values, no
 * tails), a clock feature, whose ends meet (hour 23 lies beside hour 0, not far above it), and a
 * feature the definitions do not know, which could be either. A value that reads as its bound when
 * written (61 beside 60.7) is not named against it.
 */
function outerTenthBound(feature: string, value: number, b: FeatureBaseline): number | undefined {
  if (typeof b.p10 !== 'number' || typeof b.p90 !== 'number' || !descriptions.has(feature) || flags.has(feature) || cyclic.has(feature)) return undefined
  const bound = value > b.p90 ? b.p90 : value < b.p10 ? b.p10 : undefined
  return bound === undefined || readsAs(value, bound) ? undefined : bound
}

/** "bytes 364, above 90% of training rows (p90 60)", or "bytes 40, below 90% of training rows (p10 44)". */
export function describeOuterTenth(feature: string, value: number, bound: number): string {
  const [side, percentile] = value > bound ? ['above', 'p90'] : ['below', 'p10']
  return `${feature} ${formatNumber(value)}, ${side} 90% of training rows (${percentile} ${formatNumber(bound)})`
}

/**
 * "bytes 40, nearest rows of the training sample 60 to 1500", or "…, all 0" where they agree: the
 * k-NN member keeps a sample of the training rows (its referenceSize), and its neighbours are the nearest of those.
 */
export function describeApartFromNearest(feature: string, value: number, range: { low: number; high: number }): string {
  return `${feature} ${formatNumber(value)}, nearest rows of the training sample ${formatRange(range)}`
}

/** "60 to 1500", or "all 0" where the two ends agree. */
function formatRange(range: { low: number; high: number }): string {
  return range.low === range.high ? `all ${formatNumber(range.low)}` : `${formatNumber(range.low)} to ${formatNumber(range.high)}`
}

const descriptions = new Map<string, string>(featureDefinitions.map((f) => [f.name, f.description]))
const flags = new Set<string>(featureDefinitions.filter((f) => f.unit === '0/1').map((f) => f.name))
const cyclic = new Set<string>(featureDefinitions.flatMap((f) => ('cycle' in f ? [f.name] : [])))

/**
 * A flag's value is rare in fewer than this share of training rows. A flag has no tails to leave, as
 * a number leaves p1..p99: its rarer value is not unusual for being the minority ("is_business_hours 1,
 * set in only 45% of training rows" was given as a reason), only for being scarce.
 */
const RARE_FLAG_SHARE = 0.05

/**
 * Where a value stands against its feature's training rows. Usual: between p1 and p99 inclusive (the
 * minimum standing in for p1 in artifacts from before it), or for a 0/1 flag with a known share, a
 * value at least RARE_FLAG_SHARE of the rows had. Otherwise: a value a constant feature never took, the rarer value
 * of a flag, or below / above the usual range.
 */
function standingOf(feature: string, value: number, b: FeatureBaseline): 'usual' | 'unseen' | 'rare' | 'low' | 'high' {
  if (b.min === b.max) return value === b.min ? 'usual' : 'unseen'
  const share = flagShareOf(feature, value, b)
  if (share !== undefined) return share < RARE_FLAG_SHARE ? 'rare' : 'usual'
  if (value < (b.p1 ?? b.min)) return 'low'
  if (value > b.p99) return 'high'
  return 'usual'
}

/**
 * For a 0/1 flag whose share the artifact holds: the share of training rows that had this value. A
 * flag's percentiles say little (p1 0 and p99 1 whether it was set in 2% of rows or in 60%): its share says it.
 */
function flagShareOf(feature: string, value: number, b: FeatureBaseline): number | undefined {
  if (!flags.has(feature) || b.mean === undefined) return undefined
  return value === 1 ? b.mean : value === 0 ? 1 - b.mean : undefined
}

/**
 * The value against the part of training it is compared with: p99 (and max, past it) above the usual
 * range, p1 (and min, past it) below it, a flag's share of rows, or the usual range itself for an
 * ordinary value, so that the text is true whatever it is given. A feature that never varied in
 * training says so: "flag 1, training p99 0, max 0" reads like an ordinary spread to an analyst, where
 * the value was in fact never seen.
 */
export function describeFeatureValue(feature: string, value: number, b: FeatureBaseline): string {
  const named = `${feature} ${formatNumber(value)}`
  const share = flagShareOf(feature, value, b)
  const [low, lowAt] = b.p1 === undefined ? ['min', b.min] : ['p1', b.p1]
  switch (standingOf(feature, value, b)) {
    case 'unseen':
      return `${named}, always ${formatNumber(b.min)} in training`
    case 'rare':
      return `${named}, ${value === 1 ? 'set' : 'unset'} in ${rarely(share!)} of training rows`
    case 'high':
      return `${named}, ${beyond('p99', b.p99, 'max', b.max, value > b.max)}`
    case 'low':
      return `${named}, ${beyond(low, lowAt, 'min', b.min, value < b.min)}`
    case 'usual':
      if (b.min === b.max) return `${named}, as in every training row`
      if (share !== undefined) return `${named}, as in ${formatShare(share)} of training rows`
      return `${named}, within training ${low} ${formatNumber(lowAt)} to p99 ${formatNumber(b.p99)}`
  }
}

/** "training p99 x", with the extreme when the value passed it too; just the extreme when the two are one number. */
function beyond(percentile: string, at: number, extreme: string, extremeAt: number, pastExtreme: boolean): string {
  if (!pastExtreme) return `training ${percentile} ${formatNumber(at)}`
  if (at === extremeAt) return `training ${extreme} ${formatNumber(extremeAt)}`
  return `training ${percentile} ${formatNumber(at)}, ${extreme} ${formatNumber(extremeAt)}`
}

/** A minority's share: "only 16%", or "under 0.01%" where "only" goes without saying. */
function rarely(share: number): string {
  const formatted = formatShare(share)
  return formatted.startsWith('under') ? formatted : `only ${formatted}`
}

/** A share as a percentage a person reads at a glance: 12%, 3.4%, 0.05%, under 0.01%. */
function formatShare(share: number): string {
  if (share > 0 && share < 0.0001) return 'under 0.01%'
  return `${Number((share * 100).toPrecision(2))}%`
}

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumSignificantDigits: 3 })

/** Whether `value`, written as explanations write numbers, reads as one of `ends`: it is then not named against them. */
function readsAs(value: number, ...ends: number[]): boolean {
  const written = formatNumber(value)
  return ends.some((end) => formatNumber(end) === written)
}

/** Integers as they are, large numbers compact (12.3K, 5B), others to three significant digits. */
export function formatNumber(v: number): string {
  if (Math.abs(v) >= 10_000) return compact.format(v)
  if (Number.isInteger(v)) return String(v)
  return String(Number(v.toPrecision(3)))
}
