import type { FeatureContribution, FeatureRow } from '../detector.ts'

/**
 * An isolation forest as typed arrays: every tree's nodes in pre-order, trees one after another.
 * Node indices (`left`, `right`, `treeStart`) are forest-wide. An inner node sends a row left when
 * `fround(row[feature]) < threshold`: thresholds are float32 values, so a float32 runtime (ONNX)
 * takes exactly the same paths as this code.
 */
export interface FlatForest {
  /** columns a row must have */
  featureCount: number
  /** ψ: the rows each tree was grown on; c(ψ) normalises the path length */
  sampleSize: number
  /** tree t's nodes are [treeStart[t], treeStart[t + 1]) */
  treeStart: Int32Array
  /** the column an inner node splits on; -1 for a leaf */
  feature: Int32Array
  threshold: Float32Array
  left: Int32Array
  right: Int32Array
  /** training rows (of the tree's subsample) that reached the node */
  size: Int32Array
  /**
   * depth + c(size): for a leaf, the path length h(x) of a row that ends there (Liu et al.'s
   * adjustment for the unbuilt subtree); for an inner node, the expected h(x) of a row reaching it.
   */
  pathLength: Float64Array
}

const EULER_GAMMA = 0.5772156649015329

/**
 * c(n), the average path length of an unsuccessful search in a binary search tree of n points
 * (Liu, Ting & Zhou 2008), as scikit-learn computes it: 2 (ln(n - 1) + γ) - 2 (n - 1) / n.
 */
export function averagePathLengthOf(n: number): number {
  if (n <= 1) return 0
  if (n === 2) return 1
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n
}

export function treeCount(forest: FlatForest): number {
  return forest.treeStart.length - 1
}

/** Each node's depth (root = 0). Children come after their parent, so one forward pass sees every parent first. */
export function nodeDepths(forest: Pick<FlatForest, 'feature' | 'left' | 'right'>): Int32Array {
  const depth = new Int32Array(forest.feature.length)
  forest.feature.forEach((f, i) => {
    if (f >= 0) depth[forest.left[i]!] = depth[forest.right[i]!] = depth[i]! + 1
  })
  return depth
}

/** depth + c(size) for every node: see FlatForest.pathLength. */
export function nodePathLengths(depth: ArrayLike<number>, size: Int32Array): Float64Array {
  return Float64Array.from(size, (n, i) => depth[i]! + averagePathLengthOf(n))
}

/** Rows as one row-major float32 matrix: the rounding both this code and ONNX apply to inputs. */
export function toFloat32Matrix(rows: readonly FeatureRow[], featureCount: number): Float32Array {
  const matrix = new Float32Array(rows.length * featureCount)
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!
    if (row.length !== featureCount) throw new RangeError(`row ${r} has ${row.length} features, the forest takes ${featureCount}`)
    const base = r * featureCount
    for (let f = 0; f < featureCount; f++) matrix[base + f] = row[f]!
  }
  return matrix
}

/**
 * How much each feature's splits on the row's paths shortened its expected path length, averaged
 * over the trees (in path-length units, the quantity the score is a function of), largest first.
 *
 * This is Saabas' path decomposition (as in treeinterpreter) with the node value being the expected
 * path length of a row reaching the node, E(node) = depth + c(size). Along a path those values run
 * from c(ψ) at the root to h(x) at the leaf, so crediting each split with E(parent) - E(child)
 * splits c(ψ) - h(x), how much shorter than average the row's path is, exactly among the splits.
 * A split that cuts the row off from most of the sample earns a large share; one that keeps it
 * with the crowd earns little or a negative share. Unlike an equal split per node, this tells an
 * isolating split from the routine ones before it; unlike DIFFI it needs no per-node imbalance
 * bookkeeping beyond the node sizes the forest already keeps.
 */
export function explainRow(forest: FlatForest, row: FeatureRow): FeatureContribution[] {
  if (row.length !== forest.featureCount) throw new RangeError(`row 0 has ${row.length} features, the forest takes ${forest.featureCount}`)
  const credit = new Float64Array(forest.featureCount)
  const { feature, threshold, left, right, pathLength } = forest
  const trees = treeCount(forest)
  for (let t = 0; t < trees; t++) {
    let node = forest.treeStart[t]!
    for (let f = feature[node]!; f >= 0; f = feature[node]!) {
      // Math.fround: the float32 rounding toFloat32Matrix gives a scored row.
      const child = Math.fround(row[f]!) < threshold[node]! ? left[node]! : right[node]!
      credit[f]! += pathLength[node]! - pathLength[child]!
      node = child
    }
  }
  const contributions: FeatureContribution[] = []
  for (let f = 0; f < credit.length; f++) if (credit[f] !== 0) contributions.push({ feature: f, weight: credit[f]! / trees })
  return contributions.sort((a, b) => b.weight - a.weight)
}

/** A FlatForest as plain JSON: the typed arrays as base64 of their bytes (little-endian on every platform Node runs on), exact and compact. */
export interface FlatForestJSON {
  featureCount: number
  sampleSize: number
  treeStart: string
  feature: string
  threshold: string
  left: string
  right: string
  size: string
}

export function flatForestToJSON(forest: FlatForest): FlatForestJSON {
  const base64 = (a: Int32Array | Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')
  return {
    featureCount: forest.featureCount,
    sampleSize: forest.sampleSize,
    treeStart: base64(forest.treeStart),
    feature: base64(forest.feature),
    threshold: base64(forest.threshold),
    left: base64(forest.left),
    right: base64(forest.right),
    size: base64(forest.size),
  }
}

/** Rebuilds a FlatForest from its JSON, checking that every path ends at a leaf of its own tree. */
export function flatForestFromJSON(json: FlatForestJSON): FlatForest {
  const bytes = (s: string) => {
    const b = Buffer.from(s, 'base64')
    if (b.byteLength % 4 !== 0) throw new RangeError('forest array is not a whole number of 4-byte values')
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)
  }
  const ints = (s: string) => new Int32Array(bytes(s))
  const threshold = new Float32Array(bytes(json.threshold))
  const [treeStart, feature, left, right, size] = [json.treeStart, json.feature, json.left, json.right, json.size].map(ints) as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array]
  const nodes = feature.length
  if (!(Number.isInteger(json.featureCount) && json.featureCount >= 0 && Number.isInteger(json.sampleSize) && json.sampleSize >= 2)) {
    throw new RangeError(`forest featureCount ${json.featureCount} or sampleSize ${json.sampleSize} is malformed`)
  }
  if ([threshold, left, right, size].some((a) => a.length !== nodes)) throw new RangeError('forest arrays differ in length')
  if (treeStart.length < 2 || treeStart[0] !== 0 || treeStart[treeStart.length - 1] !== nodes) throw new RangeError('forest tree offsets do not cover its nodes')
  for (let t = 0; t + 1 < treeStart.length; t++) {
    const end = treeStart[t + 1]!
    if (!(treeStart[t]! < end)) throw new RangeError(`forest tree ${t} has no nodes`)
    for (let i = treeStart[t]!; i < end; i++) {
      // Children after their parent, inside the tree: every walk moves forward and stops at a leaf.
      const ok = feature[i]! < 0 || (feature[i]! < json.featureCount && left[i]! > i && left[i]! < end && right[i]! > i && right[i]! < end)
      if (!ok) throw new RangeError(`forest node ${i} is malformed`)
    }
  }
  const pathLength = nodePathLengths(nodeDepths({ feature, left, right }), size)
  return { featureCount: json.featureCount, sampleSize: json.sampleSize, treeStart, feature, threshold, left, right, size, pathLength }
}
