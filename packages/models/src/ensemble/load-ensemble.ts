import type { FeatureContribution, FeatureRow } from '../detector.ts'
import { surprisalOf } from './calibration.ts'
import { combineSurprisals } from './combination.ts'
import { checkEnsembleArtifact, type EnsembleArtifact, type EnsembleArtifactMember } from './ensemble-artifact.ts'
import { topFeatures, type MemberExplanation, type TopFeature } from './explanation.ts'
import { ensembleMembers, memberKindOf, type DetectorRegistry, type EnsembleMember } from './registry.ts'

/** A batch's verdicts, column by column (one typed array per quantity, no object per row). */
export interface EnsembleScores {
  /** per row, in [0,1]: the share of held-out training rows whose combined score was lower */
  score: Float64Array
  /** per row, -ln(1 - score) without rounding: still orders rows whose score rounds to 1 */
  surprisal: Float64Array
  /** per member (artifact order), per row: the member's calibrated score in [0,1] */
  members: Float64Array[]
  /**
   * per row, for the rows the `explain` option asked for: the top 3 features whose values left their
   * usual training range or lay far beyond the training rows nearest the row, or where none did, that
   * lay in an outer tenth of training (topFeatures); fewer, or none, when fewer did (the alerter then
   * names the members instead)
   */
  topFeatures: (TopFeature[] | undefined)[]
}

export interface ScoreOptions {
  /** which rows get top features: those that alert (default), all, or none */
  explain?: 'alerts' | 'all' | 'none'
  /** a threshold the alerts are raised at instead of the model's (the alerter's ALERT_SCORE_THRESHOLD): `alerts` explains from the lower of the two */
  alertThreshold?: number | undefined
}

export interface LoadedEnsemble {
  readonly featureNames: readonly string[]
  readonly threshold: number
  readonly members: readonly { kind: string; weight: number }[]
  /** Scores rows (columns in featureNames order). Throws on a row of the wrong width or with a non-finite value. */
  score(rows: readonly FeatureRow[], options?: ScoreOptions): Promise<EnsembleScores>
  /** The top 3 features of one row, as in `EnsembleScores.topFeatures`. */
  explain(row: FeatureRow): Promise<TopFeature[]>
  /** Releases the members' resources (ONNX sessions); once, however often it is called. */
  close(): Promise<void>
}

/** Builds a scorer from an artifact; member kinds come from `registry`. */
export async function loadEnsemble(artifact: EnsembleArtifact, registry: DetectorRegistry = ensembleMembers): Promise<LoadedEnsemble> {
  checkEnsembleArtifact(artifact)
  const { featureNames, baselines, combination, threshold } = artifact
  const width = featureNames.length
  const specs = artifact.members
  const detectors = await loadMembers(artifact, registry)
  const weights = specs.map((m) => m.weight)
  let total = 0
  for (const w of weights) total += w

  const score = async (rows: readonly FeatureRow[], options: ScoreOptions = {}): Promise<EnsembleScores> => {
    checkFeatureRows(rows, width)
    const n = rows.length
    const raw = await Promise.all(detectors.map((d) => d.score(rows)))
    const memberSurprisals = raw.map((r, m) => surprisalsOf(r, specs[m]!, n))
    // The weighted mean of the members' surprisals, before it is calibrated: what an explanation weighs each member's part against.
    const combined = combineSurprisals(memberSurprisals, weights, n)
    const surprisal = new Float64Array(n)
    const final = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      const s = surprisalOf(combination, combined[i]!)
      surprisal[i] = s
      final[i] = -Math.expm1(-s)
    }
    const explain = options.explain ?? 'alerts'
    const explainFrom = Math.min(threshold, options.alertThreshold ?? threshold)
    const topFeaturesOf: (TopFeature[] | undefined)[] = new Array(n).fill(undefined)
    if (explain !== 'none') {
      for (let i = 0; i < n; i++) {
        if (explain !== 'all' && final[i]! < explainFrom) continue
        const top = explainRow(rows[i]!, memberSurprisals, combined[i]!, i)
        topFeaturesOf[i] = top instanceof Promise ? await top : top
      }
    }
    return { score: final, surprisal, members: memberSurprisals.map(calibratedOf), topFeatures: topFeaturesOf }
  }

  // Members that have a say in explanations.
  const explaining = detectors.flatMap((d, m) => (d.explain && weights[m]! > 0 ? [m] : []))
  /** Synchronous unless a member explains asynchronously: an await per row adds up over a batch of alerts. */
  const explainRow = (row: FeatureRow, memberSurprisals: readonly Float64Array[], combined: number, i: number): TopFeature[] | Promise<TopFeature[]> => {
    const explained = explaining.map((m) => detectors[m]!.explain!(row))
    const rank = (contributions: readonly FeatureContribution[][]) => {
      const members: MemberExplanation[] = contributions.map((c, e) => ({ contributions: c, carried: (weights[explaining[e]!]! * memberSurprisals[explaining[e]!]![i]!) / total }))
      let carried = 0
      for (const m of members) carried += m.carried
      return topFeatures(row, members, featureNames, baselines, { explainedPart: explainedPartOf(carried, combined) })
    }
    return explained.some((c) => c instanceof Promise) ? Promise.all(explained).then(rank) : rank(explained as FeatureContribution[][])
  }

  let closed: Promise<void> | undefined
  return {
    featureNames,
    threshold,
    members: specs.map(({ kind, weight }) => ({ kind, weight })),
    score,
    explain: async (row) => (await score([row], { explain: 'all' })).topFeatures[0]!,
    close: () => (closed ??= closeAll(detectors)),
  }
}

/**
 * The part of a row's combined surprisal the explaining members carried: all of it where they
 * overflowed, none where only the others did (Infinity / Infinity would be NaN), all of a row no
 * member found surprising.
 */
export function explainedPartOf(carried: number, combined: number): number {
  if (carried === Infinity) return 1
  if (combined === Infinity) return 0
  return combined > 0 ? carried / combined : 1
}

/** A member's raw scores as surprisals under its calibration. */
function surprisalsOf(raw: Float64Array, member: EnsembleArtifactMember, n: number): Float64Array {
  const { calibration, kind } = member
  if (raw.length !== n) throw new Error(`member ${kind} gave ${raw.length} scores for ${n} rows`)
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const r = raw[i]!
    // A NaN would calibrate as the most ordinary score there is.
    if (Number.isNaN(r)) throw new Error(`member ${kind} gave NaN for row ${i}`)
    out[i] = surprisalOf(calibration, r)
  }
  return out
}

/** Surprisals back to scores in [0,1]. */
function calibratedOf(surprisals: Float64Array): Float64Array {
  const out = new Float64Array(surprisals.length)
  for (let i = 0; i < out.length; i++) out[i] = -Math.expm1(-surprisals[i]!)
  return out
}

/** Closes every member, even when one fails; the first failure is rethrown. */
export async function closeAll(members: readonly EnsembleMember[]): Promise<void> {
  const results = await Promise.allSettled(members.map(async (m) => m.close?.()))
  const failed = results.find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
}

/** Loads every member; if one fails, those already loaded are closed before the error goes on. */
async function loadMembers(artifact: EnsembleArtifact, registry: DetectorRegistry): Promise<EnsembleMember[]> {
  const results = await Promise.allSettled(artifact.members.map(async (m) => memberKindOf(registry, m.kind).load(m.state)))
  const failed = results.find((r) => r.status === 'rejected')
  if (!failed) return results.map((r) => (r as PromiseFulfilledResult<EnsembleMember>).value)
  await closeAll(results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))).catch(() => {})
  throw failed.reason
}

/** Throws unless every row has `width` finite values: a NaN would otherwise calibrate as the most ordinary score. */
export function checkFeatureRows(rows: readonly FeatureRow[], width: number): void {
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    if (row.length !== width) throw new Error(`row ${i} has ${row.length} features, the model takes ${width}`)
    for (let j = 0; j < width; j++) if (!Number.isFinite(row[j]!)) throw new Error(`row ${i} feature ${j} is ${row[j]}`)
  }
}
