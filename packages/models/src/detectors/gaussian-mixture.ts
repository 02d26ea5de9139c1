import { seededRandom, type DetectorKind, type FeatureContribution, type FeatureRow, type TrainedDetector } from '../detector.ts'
import { checkScaling, featureCount, fitColumnScaling, positiveContributions, sampleIndices, scaleRow, scaleRows, type ColumnScaling } from './columns.ts'

/**
 * A mixture of Gaussians with diagonal covariances, fitted by EM on scaled columns (log1p where heavy
 * tailed, then standardised), the number of components chosen by BIC. A row's score is its negative
 * log-likelihood. Unlike per-feature histograms, a component ties features together: a row whose
 * values are each common but never occur in one cluster scores high.
 */
export const GAUSSIAN_MIXTURE = 'gaussian-mixture'

export interface GaussianMixtureParams {
  /** the component counts tried; the lowest BIC wins */
  components: number[]
  maxIterations: number
  /** EM stops when the mean log-likelihood per row improves by less than this */
  tolerance: number
  /**
   * lowest variance of a component on a feature, in standardised units. Feature columns are discrete
   * (flags, counts): without a floor a component sitting on one value has unbounded likelihood and
   * BIC rewards it; 0.01 (a tenth of the column's spread as standard deviation) is the resolution
   * below which two values count as the same.
   */
  varianceFloor: number
  /** EM runs on a seeded sample of at most this many rows */
  maxRows: number
}

interface GaussianMixtureState {
  scaling: ColumnScaling
  /** per component */
  weights: number[]
  /** per component, per feature */
  means: number[][]
  variances: number[][]
  /** per feature: its mean conditional negative log-likelihood over the training sample (see explain) */
  meanConditional: number[]
}

export const gaussianMixture: DetectorKind<GaussianMixtureParams> = {
  kind: GAUSSIAN_MIXTURE,
  defaults: { components: [1, 2, 3, 4, 6, 8], maxIterations: 100, tolerance: 1e-4, varianceFloor: 0.01, maxRows: 5000 },
  train(rows, params, seed) {
    featureCount(rows)
    if (params.components.length === 0 || params.components.some((k) => !(k >= 1))) throw new Error(`gaussian-mixture needs component counts >= 1, got ${params.components}`)
    const random = seededRandom(seed)
    const sample = sampleIndices(rows.length, params.maxRows, random)
    const picked = Array.from(sample, (i) => rows[i]!)
    const scaling = fitColumnScaling(picked)
    const x = scaleRows(scaling, picked)
    // Log data repeats rows: with fewer distinct rows than components, the extra components would
    // be copies of others (k-means++ finds no row to start them on), so fewer are tried.
    const distinct = distinctRowCount(picked, Math.max(...params.components))
    const tried = [...new Set(params.components.map((k) => Math.min(k, distinct)))]
    let best: { bic: number; fit: Mixture } | undefined
    for (const k of tried) {
      const fit = fitMixture(x, scaling.center.length, k, params, random)
      const freeParameters = k * 2 * scaling.center.length + (k - 1)
      const bic = -2 * fit.logLikelihood + freeParameters * Math.log(picked.length)
      if (!best || bic < best.bic) best = { bic, fit }
    }
    const { weights, means, variances } = best!.fit
    const width = scaling.center.length
    const conditional = createConditional({ weights, means, variances })
    const meanConditional = new Array<number>(width).fill(0)
    for (let i = 0; i < picked.length; i++) {
      const out = conditional(x.subarray(i * width, (i + 1) * width))
      for (let j = 0; j < width; j++) meanConditional[j]! += out[j]! / picked.length
    }
    return createGaussianMixture({ scaling, weights, means, variances, meanConditional })
  },
  load: (state) => createGaussianMixture(checkState(state)),
}

interface Mixture {
  weights: number[]
  means: number[][]
  variances: number[][]
  logLikelihood: number
}

/** The number of distinct rows, counted up to `atMost`. */
function distinctRowCount(rows: readonly FeatureRow[], atMost: number): number {
  const seen = new Set<string>()
  for (const row of rows) {
    seen.add(Array.from(row).join(','))
    if (seen.size >= atMost) break
  }
  return seen.size
}

/** EM from a k-means++ start; `x` is row-major, n × width. At most `components` components, fewer if k-means++ runs out of distinct rows. */
function fitMixture(x: Float64Array, width: number, components: number, params: GaussianMixtureParams, random: () => number): Mixture {
  const n = x.length / width
  const means = kMeansPlusPlus(x, width, components, random)
  const k = means.length
  const variances = Array.from({ length: k }, () => new Array<number>(width).fill(1))
  const weights = new Array<number>(k).fill(1 / k)
  const resp = new Float64Array(n * k)
  const logDensity = new Float64Array(k)
  let previous = -Infinity
  let logLikelihood = -Infinity
  for (let iteration = 0; iteration < params.maxIterations; iteration++) {
    // E step: responsibilities, in log space for stability
    const components = prepare({ weights, means, variances })
    logLikelihood = 0
    for (let i = 0; i < n; i++) {
      const row = x.subarray(i * width, (i + 1) * width)
      const total = logSumExp(componentLogDensities(components, row, logDensity))
      logLikelihood += total
      for (let c = 0; c < k; c++) resp[i * k + c] = Math.exp(logDensity[c]! - total)
    }
    // M step, with the variance floor
    for (let c = 0; c < k; c++) {
      let mass = 0
      const mean = new Array<number>(width).fill(0)
      for (let i = 0; i < n; i++) {
        const r = resp[i * k + c]!
        mass += r
        for (let j = 0; j < width; j++) mean[j]! += r * x[i * width + j]!
      }
      if (mass < 1e-9) {
        weights[c] = 0
        continue
      }
      const variance = new Array<number>(width).fill(0)
      for (let j = 0; j < width; j++) mean[j]! /= mass
      for (let i = 0; i < n; i++) {
        const r = resp[i * k + c]!
        for (let j = 0; j < width; j++) {
          const d = x[i * width + j]! - mean[j]!
          variance[j]! += r * d * d
        }
      }
      for (let j = 0; j < width; j++) variance[j] = Math.max(params.varianceFloor, variance[j]! / mass)
      weights[c] = mass / n
      means[c] = mean
      variances[c] = variance
    }
    if (logLikelihood / n - previous / n < params.tolerance) break
    previous = logLikelihood
  }
  const kept = weights.map((w, c) => (w > 0 ? c : -1)).filter((c) => c >= 0)
  return { weights: kept.map((c) => weights[c]!), means: kept.map((c) => means[c]!), variances: kept.map((c) => variances[c]!), logLikelihood }
}

function kMeansPlusPlus(x: Float64Array, width: number, k: number, random: () => number): number[][] {
  const n = x.length / width
  const rowAt = (i: number) => Array.from(x.subarray(i * width, (i + 1) * width))
  const centres = [rowAt(Math.floor(random() * n))]
  const nearest = new Float64Array(n).fill(Infinity)
  while (centres.length < k) {
    const last = centres[centres.length - 1]!
    let total = 0
    for (let i = 0; i < n; i++) {
      let d = 0
      for (let j = 0; j < width; j++) {
        const diff = x[i * width + j]! - last[j]!
        d += diff * diff
      }
      if (d < nearest[i]!) nearest[i] = d
      total += nearest[i]!
    }
    // All rows sit on the centres already: further components would be copies.
    if (total === 0) break
    let target = random() * total
    let pick = n - 1
    for (let i = 0; i < n; i++) {
      target -= nearest[i]!
      if (target < 0) {
        pick = i
        break
      }
    }
    centres.push(rowAt(pick))
  }
  return centres
}

/** Per component: ln(weight) - ½Σ ln(2π variance), and 1/variance, for fast densities. */
interface PreparedComponents {
  logNorm: Float64Array
  means: Float64Array[]
  inverseVariances: Float64Array[]
}

function prepare(m: Pick<Mixture, 'weights' | 'means' | 'variances'>): PreparedComponents {
  const logNorm = new Float64Array(m.weights.length)
  m.weights.forEach((w, c) => {
    let s = Math.log(w)
    for (const v of m.variances[c]!) s -= 0.5 * Math.log(2 * Math.PI * v)
    logNorm[c] = s
  })
  return {
    logNorm,
    means: m.means.map((mean) => Float64Array.from(mean)),
    inverseVariances: m.variances.map((variance) => Float64Array.from(variance, (v) => 1 / v)),
  }
}

/** ln(weight · density) of each component at `row`, written into `out`. */
function componentLogDensities(p: PreparedComponents, row: ArrayLike<number>, out: Float64Array): Float64Array {
  const width = row.length
  for (let c = 0; c < p.logNorm.length; c++) {
    const mean = p.means[c]!
    const inverse = p.inverseVariances[c]!
    let q = 0
    for (let j = 0; j < width; j++) {
      const d = row[j]! - mean[j]!
      q += d * d * inverse[j]!
    }
    out[c] = p.logNorm[c]! - 0.5 * q
  }
  return out
}

function logSumExp(values: Float64Array): number {
  let max = -Infinity
  for (let c = 0; c < values.length; c++) if (values[c]! > max) max = values[c]!
  if (max === -Infinity) return max
  let sum = 0
  for (let c = 0; c < values.length; c++) sum += Math.exp(values[c]! - max)
  return max + Math.log(sum)
}

/**
 * -ln p(x_j | x_-j) for every feature j of a scaled row: -ln p(x) + ln p(x_-j), where leaving feature
 * j out of a diagonal mixture drops its term from every component. Returns a buffer reused between calls.
 */
function createConditional(m: Pick<Mixture, 'weights' | 'means' | 'variances'>): (scaledRow: ArrayLike<number>) => Float64Array {
  const k = m.weights.length
  const width = m.means[0]!.length
  const prepared = prepare(m)
  const halfLogVariance = m.variances.map((v) => Float64Array.from(v, (x) => 0.5 * Math.log(2 * Math.PI * x)))
  const terms = new Float64Array(k * width)
  const joint = new Float64Array(k)
  const without = new Float64Array(k)
  const out = new Float64Array(width)
  return (row) => {
    for (let c = 0; c < k; c++) {
      let total = Math.log(m.weights[c]!)
      for (let j = 0; j < width; j++) {
        const d = row[j]! - prepared.means[c]![j]!
        // ln N(x_j; mean, variance) of component c
        const term = -halfLogVariance[c]![j]! - 0.5 * d * d * prepared.inverseVariances[c]![j]!
        terms[c * width + j] = term
        total += term
      }
      joint[c] = total
    }
    const logJoint = logSumExp(joint)
    for (let j = 0; j < width; j++) {
      for (let c = 0; c < k; c++) without[c] = joint[c]! - terms[c * width + j]!
      out[j] = logSumExp(without) - logJoint
    }
    return out
  }
}

function createGaussianMixture(state: GaussianMixtureState): TrainedDetector {
  const width = state.scaling.center.length
  const prepared = prepare(state)
  const scaled = new Float64Array(width)
  const logDensity = new Float64Array(state.weights.length)
  const conditionalOf = createConditional(state)
  return {
    kind: GAUSSIAN_MIXTURE,
    score(rows) {
      const out = new Float64Array(rows.length)
      for (let i = 0; i < rows.length; i++) {
        out[i] = -logSumExp(componentLogDensities(prepared, scaleRow(state.scaling, rows[i]!, scaled), logDensity))
      }
      return out
    },
    /**
     * Per feature, its negative log-likelihood given all the other features, -ln p(x_j | x_-j), less its
     * training mean. Blaming features under the single most responsible component fails exactly when
     * it matters: one feature pushed far out moves the row to another component, under which the
     * row's ordinary features look wrong. Given the rest, the pushed feature alone is improbable.
     */
    explain(row): FeatureContribution[] {
      const conditional = conditionalOf(scaleRow(state.scaling, row, scaled))
      const excess = new Float64Array(width)
      for (let j = 0; j < width; j++) excess[j] = conditional[j]! - state.meanConditional[j]!
      return positiveContributions(excess)
    },
    toJSON: () => state,
  }
}

function checkState(state: unknown): GaussianMixtureState {
  const s = state as GaussianMixtureState
  if (!s || !s.scaling || !Array.isArray(s.weights) || s.weights.length === 0) throw new Error('not a gaussian-mixture state')
  const width = checkScaling(s.scaling, s.scaling.center.length).center.length
  const k = s.weights.length
  if (s.means.length !== k || s.variances.length !== k || s.meanConditional?.length !== width || [...s.means, ...s.variances].some((v) => v.length !== width) || s.variances.flat().some((v) => !(v > 0))) {
    throw new Error('gaussian-mixture state has malformed components')
  }
  return s
}
