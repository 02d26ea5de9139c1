/**
 * Exact k-nearest-neighbour search over fixed reference rows (already scaled), for knn-distance.
 * Brute force read every reference row for every query: 5-15k queries/s over 2,000 rows of 31-57
 * features. On the benchmark's sets (bench/models) this reads 3-50% of the rows per query, most for
 * queries far from all of them, and most rows only in part:
 *
 * - A k-d tree (Friedman, Bentley & Finkel, 1977) over the rows' coordinates on their first principal
 *   axes, searched near side first, skips each cell farther than the current k-th neighbour (the
 *   distance to a cell kept incrementally, Arya & Mount, 1993). On principal axes the cells are cut
 *   where the rows spread most.
 * - A row is read in full only when a lower bound passes: its distance along the kept axes plus the
 *   gap between its and the query's distances from their span (Pythagoras: the two parts are
 *   orthogonal). Each cell carries its rows' range of that distance too. A quarter or fewer of the
 *   rows read get past the bound.
 * - Identical reference rows are kept once, with their count (request logs repeat themselves).
 *
 * Distances that decide are computed on the rows as given, so a score is that of brute force up to
 * rounding (1e-15) and ties. With `slack` ε > 0 a cell is also skipped when it could improve on the
 * k-th neighbour by less than a factor 1 + ε (Arya et al., 1998): each neighbour found is then within
 * 1 + ε of the true one of its rank, and nearly all are the true ones.
 */
export interface NeighbourSearch {
  /** reference rows, scaled, row-major, in their original order */
  readonly scaledReference: Float64Array
  /** after `find`: original reference row indices of the neighbours, nearest first */
  readonly index: Int32Array
  /** after `find`: their squared distances to the query, nearest first */
  readonly squaredDistance: Float64Array
  /**
   * Fills `index` and `squaredDistance` with the k reference rows nearest `row` (scaled), leaving out
   * reference row `self` (training compares the reference with itself).
   */
  find(row: ArrayLike<number>, self?: number, slack?: number): void
}

/** Rows per leaf of the tree: fewer means more cells to test, more means more rows read per cell. */
const LEAF_ROWS = 8
/**
 * Principal axes the tree and the lower bound use. More make the bound tighter and each row read
 * dearer; 12 read the fewest numbers per query on the benchmark's sets (14 to 57 features).
 */
const AXES = 12

export function createNeighbourSearch(scaledReference: Float64Array, width: number, k: number): NeighbourSearch {
  const { distinct, copies, copyStart, groupOf } = distinctRows(scaledReference, width)
  const axes = principalAxes(scaledReference, width, AXES)
  const m = axes.count
  const tree = buildTree(rotateRows(axes, scaledReference, distinct), distinct.length, m)
  const { order, splitAxis, splitValue, below, above, start, end } = tree
  const projected = tree.rows
  // Per tree position: the row as given, and its distance from the axes' span (the part they miss).
  const rows = new Float64Array(order.length * width)
  order.forEach((d, p) => rows.set(scaledReference.subarray(distinct[d]! * width, (distinct[d]! + 1) * width), p * width))
  const residual = Float64Array.from(order, (d, p) => residualOf(axes, rows.subarray(p * width, (p + 1) * width), projected, p * m))
  // Per node: the range of its rows' residuals.
  const nodes = splitAxis.length
  const lowResidual = new Float64Array(nodes)
  const highResidual = new Float64Array(nodes)
  for (let node = 0; node < nodes; node++) {
    let low = Infinity
    let high = -Infinity
    for (let p = start[node]!; p < end[node]!; p++) {
      low = Math.min(low, residual[p]!)
      high = Math.max(high, residual[p]!)
    }
    lowResidual[node] = low
    highResidual[node] = high
  }

  const index = new Int32Array(k)
  const squaredDistance = new Float64Array(k)
  // The k best so far, as positions in the tree's row order.
  const bestRow = new Int32Array(k)
  const bestDistance = new Float64Array(k)
  const query = new Float64Array(m)
  let queryResidual = 0
  let row: ArrayLike<number> = query
  const offset = new Float64Array(m)
  const positionOf = new Int32Array(order.length)
  order.forEach((d, p) => (positionOf[d] = p))
  // Per tree position: how many reference rows it stands for, less one while `self` is left out.
  const weight = Int32Array.from(order, (g) => copyStart[g + 1]! - copyStart[g]!)
  let shrink = 1

  const insert = (position: number, d: number, times: number) => {
    for (let c = 0; c < times && d < bestDistance[k - 1]!; c++) {
      let t = k - 1
      while (t > 0 && bestDistance[t - 1]! > d) {
        bestDistance[t] = bestDistance[t - 1]!
        bestRow[t] = bestRow[t - 1]!
        t -= 1
      }
      bestDistance[t] = d
      bestRow[t] = position
    }
  }

  const scanLeaf = (node: number) => {
    for (let p = start[node]!; p < end[node]!; p++) {
      const bound = bestDistance[k - 1]!
      // Pythagoras: the distance along the axes plus the gap between the residuals is a lower bound.
      const r = queryResidual - residual[p]!
      let d = r * r
      const pb = p * m
      for (let a = 0; a < m && d < bound; a++) {
        const diff = query[a]! - projected[pb + a]!
        d += diff * diff
      }
      if (d >= bound) continue
      // Past the bound: the distance itself, on the row as given.
      const base = p * width
      d = 0
      for (let j = 0; j < width && d < bound; j++) {
        const diff = row[j]! - rows[base + j]!
        d += diff * diff
      }
      if (d < bound) insert(p, d, weight[p]!)
    }
  }

  // `cell`: squared distance from the query to the node's cell, offset[a] its part along axis a.
  const visit = (node: number, cell: number): void => {
    const gap = Math.max(0, lowResidual[node]! - queryResidual, queryResidual - highResidual[node]!)
    if (cell + gap * gap >= bestDistance[k - 1]! * shrink) return
    const axis = splitAxis[node]!
    if (axis < 0) return scanLeaf(node)
    const diff = query[axis]! - splitValue[node]!
    const near = diff < 0 ? below[node]! : above[node]!
    const far = diff < 0 ? above[node]! : below[node]!
    visit(near, cell)
    const old = offset[axis]!
    offset[axis] = diff
    visit(far, cell - old * old + diff * diff)
    offset[axis] = old
  }

  return {
    scaledReference,
    index,
    squaredDistance,
    find(given, self = -1, slack = 0) {
      row = given
      rotate(axes, given, query)
      queryResidual = residualOf(axes, given, query, 0)
      bestDistance.fill(Infinity)
      bestRow.fill(-1)
      offset.fill(0)
      shrink = 1 / (1 + slack) ** 2
      const left = self >= 0 ? positionOf[groupOf[self]!]! : -1
      if (left >= 0) weight[left]! -= 1
      try {
        visit(0, 0)
      } finally {
        if (left >= 0) weight[left]! += 1
      }
      for (let t = 0; t < k; t++) {
        const position = bestRow[t]!
        // A group found several times stands for as many of its rows.
        let earlier = 0
        for (let s = 0; s < t; s++) if (bestRow[s] === position) earlier += 1
        index[t] = position < 0 ? -1 : nthCopy(copies, copyStart, order[position]!, earlier, self)
        squaredDistance[t] = bestDistance[t]!
      }
      sortNeighbours(index, squaredDistance)
    },
  }
}

/** The length of the part of `row` (less the mean) that the axes do not span, given its coordinates on them. */
function residualOf(axes: Axes, row: ArrayLike<number>, coordinates: Float64Array, base: number): number {
  let total = 0
  for (let j = 0; j < axes.width; j++) {
    const c = row[j]! - axes.mean[j]!
    total += c * c
  }
  for (let a = 0; a < axes.count; a++) total -= coordinates[base + a]! * coordinates[base + a]!
  return Math.sqrt(Math.max(0, total))
}

/** Insertion sort by distance (k entries); ties keep the lower row index first. */
function sortNeighbours(index: Int32Array, squaredDistance: Float64Array): void {
  for (let t = 1; t < index.length; t++) {
    const d = squaredDistance[t]!
    const o = index[t]!
    let s = t
    while (s > 0 && (squaredDistance[s - 1]! > d || (squaredDistance[s - 1] === d && index[s - 1]! > o))) {
      squaredDistance[s] = squaredDistance[s - 1]!
      index[s] = index[s - 1]!
      s -= 1
    }
    squaredDistance[s] = d
    index[s] = o
  }
}

/**
 * Identical rows grouped: group g holds rows copies[copyStart[g] .. copyStart[g + 1]), ascending, and
 * is represented by its first row, distinct[g]; groupOf[o] is row o's group.
 */
function distinctRows(matrix: Float64Array, width: number) {
  const n = matrix.length / width
  const groups = new Map<string, number[]>()
  const groupOf = new Int32Array(n)
  for (let o = 0; o < n; o++) {
    const key = matrix.subarray(o * width, (o + 1) * width).join(',')
    const group = groups.get(key)
    if (group) group.push(o)
    else groups.set(key, [o])
  }
  const copies = new Int32Array(n)
  const copyStart = new Int32Array(groups.size + 1)
  const distinct = new Int32Array(groups.size)
  let g = 0
  for (const group of groups.values()) {
    distinct[g] = group[0]!
    copies.set(group, copyStart[g]!)
    copyStart[g + 1] = copyStart[g]! + group.length
    for (const o of group) groupOf[o] = g
    g += 1
  }
  return { distinct, copies, copyStart, groupOf }
}

/** The `nth` row (0-based) of group `g` other than `self`. */
function nthCopy(copies: Int32Array, copyStart: Int32Array, g: number, nth: number, self: number): number {
  let left = nth
  for (let c = copyStart[g]!; c < copyStart[g + 1]!; c++) {
    if (copies[c] === self) continue
    if (left === 0) return copies[c]!
    left -= 1
  }
  throw new Error(`group ${g} has fewer than ${nth + 1} rows`)
}

interface Axes {
  width: number
  /** axes kept */
  count: number
  mean: Float64Array
  /** row-major count × width: row a is the a-th principal axis, by decreasing variance */
  basis: Float64Array
}

/** The first `count` principal axes of the rows: eigenvectors of their covariance (cyclic Jacobi), by decreasing eigenvalue. */
function principalAxes(matrix: Float64Array, width: number, count: number): Axes {
  const n = matrix.length / width
  const mean = new Float64Array(width)
  for (let o = 0; o < n; o++) for (let j = 0; j < width; j++) mean[j]! += matrix[o * width + j]!
  for (let j = 0; j < width; j++) mean[j]! /= n
  const a = new Float64Array(width * width)
  const centred = new Float64Array(width)
  for (let o = 0; o < n; o++) {
    for (let j = 0; j < width; j++) centred[j] = matrix[o * width + j]! - mean[j]!
    for (let p = 0; p < width; p++) {
      const cp = centred[p]!
      if (cp === 0) continue
      for (let q = p; q < width; q++) a[p * width + q]! += cp * centred[q]!
    }
  }
  for (let p = 0; p < width; p++) for (let q = 0; q < p; q++) a[p * width + q] = a[q * width + p]!
  const vectors = jacobiEigenvectors(a, width)
  const order = Array.from({ length: width }, (_, i) => i).sort((x, y) => a[y * width + y]! - a[x * width + x]! || x - y)
  const kept = Math.min(width, count)
  const basis = new Float64Array(kept * width)
  order.slice(0, kept).forEach((column, axis) => {
    for (let j = 0; j < width; j++) basis[axis * width + j] = vectors[j * width + column]!
  })
  return { width, count: kept, mean, basis }
}

/** Diagonalises symmetric `a` in place (its diagonal ends as the eigenvalues); returns the eigenvectors as columns. */
function jacobiEigenvectors(a: Float64Array, w: number): Float64Array {
  const v = new Float64Array(w * w)
  for (let i = 0; i < w; i++) v[i * w + i] = 1
  let scale = 0
  for (let i = 0; i < w * w; i++) scale += a[i]! * a[i]!
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0
    for (let p = 0; p < w; p++) for (let q = p + 1; q < w; q++) off += a[p * w + q]! * a[p * w + q]!
    if (!(off > 1e-24 * scale)) break
    for (let p = 0; p < w; p++) {
      for (let q = p + 1; q < w; q++) {
        const apq = a[p * w + q]!
        if (apq === 0) continue
        const theta = (a[q * w + q]! - a[p * w + p]!) / (2 * apq)
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1))
        const c = 1 / Math.sqrt(t * t + 1)
        const s = t * c
        for (let r = 0; r < w; r++) {
          const arp = a[r * w + p]!
          const arq = a[r * w + q]!
          a[r * w + p] = c * arp - s * arq
          a[r * w + q] = s * arp + c * arq
        }
        for (let r = 0; r < w; r++) {
          const apr = a[p * w + r]!
          const aqr = a[q * w + r]!
          a[p * w + r] = c * apr - s * aqr
          a[q * w + r] = s * apr + c * aqr
        }
        for (let r = 0; r < w; r++) {
          const vrp = v[r * w + p]!
          const vrq = v[r * w + q]!
          v[r * w + p] = c * vrp - s * vrq
          v[r * w + q] = s * vrp + c * vrq
        }
      }
    }
  }
  return v
}

function rotate(axes: Axes, row: ArrayLike<number>, out: Float64Array, outBase = 0): void {
  const { width, count, mean, basis } = axes
  for (let a = 0; a < count; a++) {
    const b = a * width
    let s = 0
    for (let j = 0; j < width; j++) s += (row[j]! - mean[j]!) * basis[b + j]!
    out[outBase + a] = s
  }
}

function rotateRows(axes: Axes, matrix: Float64Array, picked: Int32Array): Float64Array {
  const { width, count } = axes
  const out = new Float64Array(picked.length * count)
  picked.forEach((o, i) => rotate(axes, matrix.subarray(o * width, (o + 1) * width), out, i * count))
  return out
}

interface Tree {
  /** the rotated rows in leaf order */
  rows: Float64Array
  /** per position in `rows`: the row it came from (an index into the matrix the tree was built on) */
  order: Int32Array
  /** per node: the axis it splits on, -1 for a leaf */
  splitAxis: Int32Array
  splitValue: Float64Array
  below: Int32Array
  above: Int32Array
  /** per node: its rows are positions [start, end) */
  start: Int32Array
  end: Int32Array
}

/** A k-d tree split at the median of the axis along which the node's rows spread most. */
function buildTree(rotated: Float64Array, n: number, width: number): Tree {
  const order = Int32Array.from({ length: n }, (_, i) => i)
  const splitAxis: number[] = []
  const splitValue: number[] = []
  const below: number[] = []
  const above: number[] = []
  const start: number[] = []
  const end: number[] = []
  const build = (from: number, to: number): number => {
    const node = splitAxis.length
    splitAxis.push(-1)
    splitValue.push(0)
    below.push(-1)
    above.push(-1)
    start.push(from)
    end.push(to)
    if (to - from <= LEAF_ROWS) return node
    let axis = -1
    let widest = 0
    for (let j = 0; j < width; j++) {
      let min = Infinity
      let max = -Infinity
      for (let p = from; p < to; p++) {
        const v = rotated[order[p]! * width + j]!
        if (v < min) min = v
        if (v > max) max = v
      }
      if (max - min > widest) {
        widest = max - min
        axis = j
      }
    }
    if (axis < 0) return node
    const sorted = Array.from(order.subarray(from, to)).sort((x, y) => rotated[x * width + axis]! - rotated[y * width + axis]! || x - y)
    order.set(sorted, from)
    const middle = (from + to) >> 1
    splitAxis[node] = axis
    // Rows before `middle` are at or below the split value, rows from it on at or above it.
    splitValue[node] = rotated[order[middle]! * width + axis]!
    const low = build(from, middle)
    below[node] = low
    above[node] = build(middle, to)
    return node
  }
  build(0, n)
  const rows = new Float64Array(n * width)
  order.forEach((o, p) => rows.set(rotated.subarray(o * width, (o + 1) * width), p * width))
  return {
    rows,
    order,
    splitAxis: Int32Array.from(splitAxis),
    splitValue: Float64Array.from(splitValue),
    below: Int32Array.from(below),
    above: Int32Array.from(above),
    start: Int32Array.from(start),
    end: Int32Array.from(end),
  }
}
