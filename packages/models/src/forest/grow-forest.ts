import { nodePathLengths, type FlatForest } from './flat-forest.ts'

const FLOAT32_MAX = 3.4028234663852886e38

/**
 * Grows an isolation forest as Liu, Ting & Zhou (2008) and scikit-learn do: each tree on ψ rows
 * drawn without replacement (all rows if fewer), to at most ceil(log2 ψ) levels; a node splits on a
 * feature drawn uniformly from those not constant in its sample, at a value drawn uniformly between
 * that feature's min and max there. Values are rounded to float32 first, and a row goes left when
 * its value is below the threshold, so the forest scores identically in float32 (ONNX).
 */
export function growForest(matrix: Float32Array, rowCount: number, featureCount: number, trees: number, sampleSize: number, random: () => number): FlatForest {
  // With ψ = 1 every path has length 0 and c(1) = 0: the score would be 0/0.
  if (rowCount < 2) throw new RangeError(`an isolation forest needs at least 2 training rows, got ${rowCount}`)
  if (!(Number.isInteger(trees) && trees >= 1)) throw new RangeError(`trees must be a positive integer, got ${trees}`)
  if (!(Number.isInteger(sampleSize) && sampleSize >= 2)) throw new RangeError(`sampleSize must be an integer >= 2, got ${sampleSize}`)
  const psi = Math.min(sampleSize, rowCount)
  const heightLimit = Math.ceil(Math.log2(Math.max(psi, 2)))
  const nodes = new NodeList()
  const treeStart = [0]
  const rowIds = new Int32Array(rowCount)
  for (let t = 0; t < trees; t++) {
    const sample = drawWithoutReplacement(rowIds, psi, random)
    growTree({ matrix, featureCount, heightLimit, random, nodes }, sample, 0)
    treeStart.push(nodes.length)
  }
  return nodes.toForest(featureCount, psi, Int32Array.from(treeStart))
}

/** Training values with infinities clamped to the float32 range, so that min, max and split points stay finite. */
export function toTrainingMatrix(matrix: Float32Array): Float32Array {
  for (let i = 0; i < matrix.length; i++) {
    const v = matrix[i]!
    if (Number.isNaN(v)) throw new RangeError(`training value ${i} is NaN`)
    if (v > FLOAT32_MAX) matrix[i] = FLOAT32_MAX
    else if (v < -FLOAT32_MAX) matrix[i] = -FLOAT32_MAX
  }
  return matrix
}

interface Growth {
  matrix: Float32Array
  featureCount: number
  heightLimit: number
  random: () => number
  nodes: NodeList
}

/** Partial Fisher-Yates over `ids`: the first `k` entries of the returned view are a uniform sample of 0..ids.length-1. */
function drawWithoutReplacement(ids: Int32Array, k: number, random: () => number): Int32Array {
  for (let i = 0; i < ids.length; i++) ids[i] = i
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (ids.length - i))
    const swap = ids[i]!
    ids[i] = ids[j]!
    ids[j] = swap
  }
  return ids.slice(0, k)
}

/** Appends the subtree over `rows` in pre-order and returns its root's index. */
function growTree(g: Growth, rows: Int32Array, depth: number): number {
  const node = g.nodes.push(depth, rows.length)
  if (rows.length <= 1 || depth >= g.heightLimit) return node
  const split = drawSplit(g, rows)
  if (!split) return node
  const { feature, threshold } = split
  // Partition in place: rows below the threshold first.
  let below = 0
  for (let i = 0; i < rows.length; i++) {
    const id = rows[i]!
    if (g.matrix[id * g.featureCount + feature]! < threshold) {
      rows[i] = rows[below]!
      rows[below++] = id
    }
  }
  const left = growTree(g, rows.subarray(0, below), depth + 1)
  const right = growTree(g, rows.subarray(below), depth + 1)
  g.nodes.setSplit(node, feature, threshold, left, right)
  return node
}

/**
 * Features are drawn in random order until one is not constant on `rows` (scikit-learn's random
 * splitter does the same), which picks uniformly among the non-constant ones without scanning all.
 */
function drawSplit(g: Growth, rows: Int32Array): { feature: number; threshold: number } | undefined {
  const order = Array.from({ length: g.featureCount }, (_, f) => f)
  for (let drawn = 0; drawn < order.length; drawn++) {
    const pick = drawn + Math.floor(g.random() * (order.length - drawn))
    const feature = order[pick]!
    order[pick] = order[drawn]!
    order[drawn] = feature
    let min = Infinity
    let max = -Infinity
    for (let i = 0; i < rows.length; i++) {
      const v = g.matrix[rows[i]! * g.featureCount + feature]!
      if (v < min) min = v
      if (v > max) max = v
    }
    if (min < max) {
      // Rounding to float32 can land on min, which would leave the left side empty: the next float32 up still splits.
      let threshold = Math.fround(min + g.random() * (max - min))
      if (threshold <= min) threshold = nextFloat32Up(min)
      return { feature, threshold }
    }
  }
  return undefined
}

const bits = new Float32Array(1)
const bitsAsInt = new Int32Array(bits.buffer)

/** The smallest float32 greater than the finite float32 `v`. */
export function nextFloat32Up(v: number): number {
  if (v === 0) return 2 ** -149
  bits[0] = v
  bitsAsInt[0]! += v > 0 ? 1 : -1
  return bits[0]!
}

/** Nodes as they are grown, turned into typed arrays once the forest is complete. */
class NodeList {
  private readonly depth: number[] = []
  private readonly size: number[] = []
  private readonly feature: number[] = []
  private readonly threshold: number[] = []
  private readonly left: number[] = []
  private readonly right: number[] = []

  get length(): number {
    return this.depth.length
  }

  push(depth: number, size: number): number {
    this.depth.push(depth)
    this.size.push(size)
    this.feature.push(-1)
    this.threshold.push(0)
    this.left.push(-1)
    this.right.push(-1)
    return this.depth.length - 1
  }

  setSplit(node: number, feature: number, threshold: number, left: number, right: number): void {
    this.feature[node] = feature
    this.threshold[node] = threshold
    this.left[node] = left
    this.right[node] = right
  }

  toForest(featureCount: number, sampleSize: number, treeStart: Int32Array): FlatForest {
    return {
      featureCount,
      sampleSize,
      treeStart,
      feature: Int32Array.from(this.feature),
      threshold: Float32Array.from(this.threshold),
      left: Int32Array.from(this.left),
      right: Int32Array.from(this.right),
      size: Int32Array.from(this.size),
      pathLength: nodePathLengths(this.depth, Int32Array.from(this.size)),
    }
  }
}
