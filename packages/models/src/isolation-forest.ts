import { IsolationForest } from 'ml-isolation-forest'

/**
 * A trained forest in a form that can be stored and scored without the training set. Trees are
 * flattened in pre-order, three numbers a node: an inner node is `[column, split, rightStart]`,
 * its left child right after it; a leaf is `[-1, size, 0]`, size being the training rows that reached it.
 */
export interface SerializedForest {
  trainingSize: number
  trees: number[][]
}

interface LibraryNode {
  left?: LibraryNode
  right?: LibraryNode
  splitColumn?: number
  splitValue?: number
  trainingSet?: unknown[]
}

/** Trains ml-isolation-forest on `rows` and flattens it. */
export function trainForest(rows: number[][], trees: number): SerializedForest {
  const forest = new IsolationForest({ nEstimators: trees })
  forest.train(rows)
  return flattenForest(forest, rows.length)
}

/** Flattens a forest that ml-isolation-forest trained on `trainingSize` rows. */
export function flattenForest(forest: IsolationForest, trainingSize: number): SerializedForest {
  const library = forest as unknown as { forest: LibraryNode[] }
  return { trainingSize, trees: library.forest.map(flattenTree) }
}

function flattenTree(root: LibraryNode): number[] {
  const out: number[] = []
  const visit = (node: LibraryNode) => {
    if (node.left && node.right) {
      const at = out.length
      out.push(node.splitColumn!, node.splitValue!, 0)
      visit(node.left)
      out[at + 2] = out.length
      visit(node.right)
    } else {
      out.push(-1, node.trainingSet?.length ?? 0, 0)
    }
  }
  visit(root)
  return out
}

/** c(n): the average path length of an unsuccessful search in a binary search tree of n points, as the library computes it. */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0
  if (n === 2) return 1
  return 2 * Math.log(n - 1) + 0.57721 - (2 * (n - 1)) / n
}

/** Scores rows with a flattened forest exactly as ml-isolation-forest's predict does: 2^(-E[h(x)] / c(n)). */
export function scoreForest(forest: SerializedForest, rows: number[][]): number[] {
  const norm = averagePathLength(forest.trainingSize)
  return rows.map((row) => {
    let total = 0
    for (const tree of forest.trees) total += pathLength(tree, row)
    return 2 ** (-(total / forest.trees.length) / norm)
  })
}

function pathLength(tree: number[], row: number[]): number {
  let i = 0
  let depth = 0
  for (;;) {
    const column = tree[i]!
    if (column < 0) return depth + averagePathLength(tree[i + 1]!)
    i = row[column]! < tree[i + 1]! ? i + 3 : tree[i + 2]!
    depth += 1
  }
}
