import { seededRandom, type FeatureRow } from '../detector.ts'
import { calibrate, CALIBRATION_POINTS, fitCalibration, surprisalOf, thresholdForAlertRate } from './calibration.ts'
import { checkEnsembleArtifact, ENSEMBLE, type EnsembleArtifact, type EnsembleArtifactMember } from './ensemble-artifact.ts'
import { combineSurprisals } from './combination.ts'
import { trainingBaselines } from './explanation.ts'
import { checkFeatureRows, closeAll } from './load-ensemble.ts'
import { ensembleMembers, memberKindOf, type DetectorRegistry } from './registry.ts'

export interface EnsembleMemberConfig {
  kind: string
  /** relative say in the combined score (default 1) */
  weight?: number
  /** overlaid on the kind's defaults */
  params?: Record<string, unknown>
}

export interface EnsembleConfig {
  members: EnsembleMemberConfig[]
  seed: number
  /** alert when score >= threshold; when absent it is chosen for `targetAlertRate` on the held-out rows */
  threshold?: number
  /** share of held-out training rows at or above the threshold (default 0.001) */
  targetAlertRate?: number
  /** share of the rows held out from member training for calibration (default 0.2) */
  calibrationShare?: number
  /** at most this many held-out rows (default 20000) */
  maxCalibrationRows?: number
  /** quantiles kept per calibration (default 2048) */
  calibrationPoints?: number
  /**
   * per row: 0 leaves the row out (e.g. an entity under investigation); unequal positive weights are
   * honoured by seeded weighted resampling of the rows, so members need no notion of weights
   */
  rowWeights?: ArrayLike<number>
}

/** Rows below this cannot be split into member training and calibration. */
const MIN_ROWS = 10

/**
 * Trains each member on the same rows (bar a held-out share), calibrates each on the held-out rows it
 * never saw (so that in-sample optimism, e.g. knn-distance's reference rows lying at distance 0 from
 * themselves, does not skew its percentiles), then calibrates the combination and sets the threshold
 * on the same rows.
 */
export async function trainEnsemble(
  rows: readonly FeatureRow[],
  featureNames: readonly string[],
  config: EnsembleConfig,
  registry: DetectorRegistry = ensembleMembers,
): Promise<EnsembleArtifact> {
  checkFeatureRows(rows, featureNames.length)
  const random = seededRandom(config.seed)
  const { used, excludedRows, weighted } = applyRowWeights(rows, config.rowWeights, random)
  if (used.length < MIN_ROWS) throw new Error(`need at least ${MIN_ROWS} training rows, got ${used.length}`)
  const { training, held } = holdOut(used, config.calibrationShare ?? 0.2, config.maxCalibrationRows ?? 20_000, random)
  const points = config.calibrationPoints ?? CALIBRATION_POINTS

  const weights = config.members.map((m) => m.weight ?? 1)
  if (!weights.some((w) => w > 0) || weights.some((w) => !(w >= 0 && Number.isFinite(w)))) {
    throw new Error(`member weights must be finite and >= 0, one of them positive; got [${weights.join(', ')}]`)
  }
  const members: EnsembleArtifactMember[] = []
  const heldSurprisals: Float64Array[] = []
  for (const [i, member] of config.members.entries()) {
    const kind = memberKindOf(registry, member.kind)
    const params = { ...kind.defaults, ...member.params }
    const seed = memberSeed(config.seed, i)
    const detector = await kind.train(training, params as never, seed)
    let raw: Float64Array
    let state: unknown
    try {
      raw = await detector.score(held)
      // The state as it will be read back, so that this artifact and its decoded bytes are the same.
      state = JSON.parse(JSON.stringify(detector.toJSON()))
    } finally {
      await closeAll([detector])
    }
    const calibration = fitCalibration(raw, points)
    members.push({ kind: member.kind, weight: weights[i]!, params, state, calibration, seed })
    heldSurprisals.push(raw.map((r) => surprisalOf(calibration, r)))
  }
  const combined = combineSurprisals(heldSurprisals, members.map((m) => m.weight), held.length)
  const combination = fitCalibration(combined, points)
  const targetAlertRate = config.targetAlertRate ?? 0.001
  // The final score is calibrated (the share of held-out rows scoring lower, with a fitted tail), so
  // 1 - rate flags that rate by construction; the held-out rows set it directly when they are enough.
  const heldRowsShort = targetAlertRate * combined.length < 1
  const threshold = config.threshold ?? (heldRowsShort
    ? 1 - targetAlertRate
    : thresholdForAlertRate(combined.map((s) => calibrate(combination, s)), targetAlertRate))

  const artifact: EnsembleArtifact = {
    format: 2,
    algorithm: ENSEMBLE,
    featureNames: [...featureNames],
    members,
    combination,
    baselines: trainingBaselines(used, featureNames.length),
    threshold,
    training: {
      rows: rows.length,
      excludedRows,
      weighted,
      trainingRows: training.length,
      calibrationRows: held.length,
      seed: config.seed,
      threshold: config.threshold !== undefined ? { given: config.threshold } : heldRowsShort ? { targetAlertRate, heldRowsShort } : { targetAlertRate },
    },
  }
  checkEnsembleArtifact(artifact)
  return artifact
}

/** Member i's seed: distinct per position, fixed by the ensemble's seed. */
function memberSeed(seed: number, i: number): number {
  return (seed + Math.imul(i + 1, 0x9e3779b9)) >>> 0
}

function applyRowWeights(rows: readonly FeatureRow[], weights: ArrayLike<number> | undefined, random: () => number) {
  if (!weights) return { used: rows, excludedRows: 0, weighted: false }
  if (weights.length !== rows.length) throw new Error(`${weights.length} row weights for ${rows.length} rows`)
  const kept: number[] = []
  for (let i = 0; i < rows.length; i++) {
    const w = weights[i]!
    if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`row weight ${i} is ${w}; weights must be finite and >= 0`)
    if (w > 0) kept.push(i)
  }
  const excludedRows = rows.length - kept.length
  const first = kept.length > 0 ? weights[kept[0]!]! : 0
  if (kept.every((i) => weights[i] === first)) return { used: kept.map((i) => rows[i]!), excludedRows, weighted: false }
  // Systematic resampling: as many rows as kept, each drawn in proportion to its weight.
  let total = 0
  for (const i of kept) total += weights[i]!
  const step = total / kept.length
  let next = random() * step
  let cumulative = 0
  const used: FeatureRow[] = []
  for (const i of kept) {
    cumulative += weights[i]!
    while (next < cumulative && used.length < kept.length) {
      used.push(rows[i]!)
      next += step
    }
  }
  return { used, excludedRows, weighted: true }
}

/** A seeded split: `held` for calibration, the rest for member training. */
function holdOut(rows: readonly FeatureRow[], share: number, maxHeld: number, random: () => number) {
  if (!(share > 0 && share < 1)) throw new Error(`calibrationShare must be in (0,1), got ${share}`)
  const order = Array.from(rows.keys())
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  const heldCount = Math.max(1, Math.min(maxHeld, Math.round(share * rows.length)))
  const held = order.slice(0, heldCount).sort((a, b) => a - b).map((i) => rows[i]!)
  const training = order.slice(heldCount).sort((a, b) => a - b).map((i) => rows[i]!)
  return { training, held }
}
