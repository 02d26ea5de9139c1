import { averagePathLengthOf, nodeDepths, treeCount, type FlatForest } from './flat-forest.ts'

/** Scores the rows of a row-major float32 matrix: 2^(-E[h(x)] / c(ψ)), in (0, 1], higher = more anomalous. */
export type ForestScorer = (matrix: Float32Array, rowCount: number) => Float64Array

/** Above this depth the complete-tree layout (2^depth entries a tree) costs more memory than it saves time. */
const MAX_COMPLETE_DEPTH = 12
/** Rows scored against every tree before moving on: 2048 rows of 31 float32 (254 KB) stay in L2 with the trees. */
const BLOCK_ROWS = 2048

/**
 * Builds the scoring kernel for a forest. Trees no deeper than MAX_COMPLETE_DEPTH (all of them
 * with ψ <= 4096) are laid out as complete binary trees, a shallow leaf copied down to the bottom
 * level; then every walk takes exactly `depth` steps and the next node is computed, not branched
 * to: half of the comparisons go each way, and a mispredicted branch per step cost more than twice
 * the time. Eight rows are walked together because each walk is a chain of dependent loads.
 */
export function createForestScorer(forest: FlatForest): ForestScorer {
  const depth = forestDepth(forest)
  const norm = averagePathLengthOf(forest.sampleSize)
  const trees = treeCount(forest)
  const accumulate = depth <= MAX_COMPLETE_DEPTH ? completeTreeKernel(forest, depth) : linkedTreeKernel(forest)
  return (matrix, rowCount) => {
    const totals = new Float64Array(rowCount)
    for (let start = 0; start < rowCount; start += BLOCK_ROWS) accumulate(matrix, start, Math.min(rowCount, start + BLOCK_ROWS), totals)
    for (let r = 0; r < rowCount; r++) totals[r] = 2 ** (-(totals[r]! / trees) / norm)
    return totals
  }
}

/** Adds each tree's path length for rows [start, end) to `totals`. */
type Kernel = (matrix: Float32Array, start: number, end: number, totals: Float64Array) => void

function forestDepth(forest: FlatForest): number {
  const depth = nodeDepths(forest)
  return forest.feature.reduce((deepest, f, i) => (f >= 0 ? Math.max(deepest, depth[i]! + 1) : deepest), 0)
}

function completeTreeKernel(forest: FlatForest, depth: number): Kernel {
  const trees = treeCount(forest)
  const inner = 2 ** depth - 1
  const leaves = 2 ** depth
  const feature = new Int32Array(trees * inner)
  // float32 values held as float64: the same comparisons, without a conversion per step.
  const threshold = new Float64Array(trees * inner)
  const pathLength = new Float64Array(trees * leaves)
  for (let t = 0; t < trees; t++) {
    // Heap order: position k's children are 2k + 1 (below the threshold) and 2k + 2.
    const place = (node: number, k: number) => {
      if (k >= inner) {
        pathLength[t * leaves + k - inner] = forest.pathLength[node]!
        return
      }
      const isLeaf = forest.feature[node]! < 0
      // A copied-down leaf splits on feature 0 at 0: both sides lead to copies of the same leaf.
      feature[t * inner + k] = isLeaf ? 0 : forest.feature[node]!
      threshold[t * inner + k] = isLeaf ? 0 : forest.threshold[node]!
      place(isLeaf ? node : forest.left[node]!, 2 * k + 1)
      place(isLeaf ? node : forest.right[node]!, 2 * k + 2)
    }
    place(forest.treeStart[t]!, 0)
  }
  const width = forest.featureCount
  return (m, start, end, totals) => {
    const end8 = end - ((end - start) % 8)
    for (let t = 0; t < trees; t++) {
      // Nodes are addressed forest-wide: k's children are at 2k + 2 - fo - (x < threshold).
      const fo = t * inner
      const leaf0 = t * leaves - inner - fo
      for (let r = start; r < end8; r += 8) {
        const b0 = r * width
        const b1 = b0 + width
        const b2 = b1 + width
        const b3 = b2 + width
        const b4 = b3 + width
        const b5 = b4 + width
        const b6 = b5 + width
        const b7 = b6 + width
        let i0 = fo
        let i1 = fo
        let i2 = fo
        let i3 = fo
        let i4 = fo
        let i5 = fo
        let i6 = fo
        let i7 = fo
        for (let level = 0; level < depth; level++) {
          // `+(a < b)` compiles to a set-on-compare, not a branch; `| 0` spares V8's overflow checks.
          i0 = (((i0 << 1) + 2 - fo) - +(m[b0 + feature[i0]!]! < threshold[i0]!)) | 0
          i1 = (((i1 << 1) + 2 - fo) - +(m[b1 + feature[i1]!]! < threshold[i1]!)) | 0
          i2 = (((i2 << 1) + 2 - fo) - +(m[b2 + feature[i2]!]! < threshold[i2]!)) | 0
          i3 = (((i3 << 1) + 2 - fo) - +(m[b3 + feature[i3]!]! < threshold[i3]!)) | 0
          i4 = (((i4 << 1) + 2 - fo) - +(m[b4 + feature[i4]!]! < threshold[i4]!)) | 0
          i5 = (((i5 << 1) + 2 - fo) - +(m[b5 + feature[i5]!]! < threshold[i5]!)) | 0
          i6 = (((i6 << 1) + 2 - fo) - +(m[b6 + feature[i6]!]! < threshold[i6]!)) | 0
          i7 = (((i7 << 1) + 2 - fo) - +(m[b7 + feature[i7]!]! < threshold[i7]!)) | 0
        }
        totals[r]! += pathLength[leaf0 + i0]!
        totals[r + 1]! += pathLength[leaf0 + i1]!
        totals[r + 2]! += pathLength[leaf0 + i2]!
        totals[r + 3]! += pathLength[leaf0 + i3]!
        totals[r + 4]! += pathLength[leaf0 + i4]!
        totals[r + 5]! += pathLength[leaf0 + i5]!
        totals[r + 6]! += pathLength[leaf0 + i6]!
        totals[r + 7]! += pathLength[leaf0 + i7]!
      }
      for (let r = end8; r < end; r++) {
        const b = r * width
        let i = fo
        for (let level = 0; level < depth; level++) i = (((i << 1) + 2 - fo) - +(m[b + feature[i]!]! < threshold[i]!)) | 0
        totals[r]! += pathLength[leaf0 + i]!
      }
    }
  }
}

/** For forests too deep for the complete layout: follow the links, one row at a time. */
function linkedTreeKernel(forest: FlatForest): Kernel {
  const { feature, threshold, left, right, pathLength, treeStart, featureCount: width } = forest
  const trees = treeCount(forest)
  return (m, start, end, totals) => {
    for (let t = 0; t < trees; t++) {
      for (let r = start; r < end; r++) {
        const b = r * width
        let node = treeStart[t]!
        for (let f = feature[node]!; f >= 0; f = feature[node]!) node = m[b + f]! < threshold[node]! ? left[node]! : right[node]!
        totals[r]! += pathLength[node]!
      }
    }
  }
}
