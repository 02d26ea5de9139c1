import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../src/detector.ts'
import { createNeighbourSearch } from '../../src/detectors/neighbour-search.ts'

/**
 * Reference rows shaped like scaled feature rows: a few correlated clusters, flags that are mostly 0,
 * and repeated rows (a quarter of them copies of earlier ones).
 */
function referenceRows(n: number, width: number, seed: number): Float64Array {
  const random = seededRandom(seed)
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  const centres = Array.from({ length: 4 }, () => Array.from({ length: width }, () => 3 * normal()))
  const out = new Float64Array(n * width)
  for (let o = 0; o < n; o++) {
    if (o > 0 && random() < 0.25) {
      const copy = Math.floor(random() * o)
      out.copyWithin(o * width, copy * width, (copy + 1) * width)
      continue
    }
    const centre = centres[Math.floor(random() * centres.length)]!
    const shared = normal()
    for (let j = 0; j < width; j++) {
      out[o * width + j] = j % 5 === 4 ? (random() < 0.1 ? 2.5 : -0.3) : centre[j]! + shared * (j % 3) + 0.5 * normal()
    }
  }
  return out
}

/** Queries near the reference, on it, and far from all of it. */
function queries(reference: Float64Array, width: number, seed: number): Float64Array[] {
  const random = seededRandom(seed)
  const n = reference.length / width
  return Array.from({ length: 150 }, (_, q) => {
    const row = Float64Array.from(reference.subarray(Math.floor(random() * n) * width).subarray(0, width))
    if (q % 3 === 1) for (let j = 0; j < width; j++) row[j]! += random() - 0.5
    if (q % 3 === 2) for (let j = 0; j < width; j++) row[j]! += (random() - 0.5) * 40
    return row
  })
}

/** Every reference row's squared distance to `row`, ascending, `self` left out. */
function bruteForce(reference: Float64Array, width: number, row: ArrayLike<number>, self = -1): number[] {
  const out: number[] = []
  for (let o = 0; o * width < reference.length; o++) {
    if (o === self) continue
    let d = 0
    for (let j = 0; j < width; j++) d += (row[j]! - reference[o * width + j]!) ** 2
    out.push(d)
  }
  return out.sort((a, b) => a - b)
}

describe('neighbour search', () => {
  describe.each([
    [2, 300, 1],
    [14, 2000, 5],
    [31, 1000, 5],
    [57, 800, 3],
  ])('%i features, %i rows, k = %i', (width, n, k) => {
    const reference = referenceRows(n, width, width)
    const search = createNeighbourSearch(reference, width, k)

    const near = queries(reference, width, 1).map((row) => ({ row, truth: bruteForce(reference, width, row).slice(0, k) }))

    it('finds the k nearest rows that brute force finds, nearest first, at their distances', () => {
      for (const { row, truth } of near) {
        search.find(row)
        for (let t = 0; t < k; t++) {
          expect(search.squaredDistance[t]).toBeCloseTo(truth[t]!, 9)
          const o = search.index[t]!
          expect(bruteForce(reference.subarray(o * width, (o + 1) * width), width, row)[0]).toBe(search.squaredDistance[t])
        }
      }
    })

    it('leaves out the row itself once, so a copy of it is still at distance 0', () => {
      for (let o = 0; o < n; o += 17) {
        const row = reference.subarray(o * width, (o + 1) * width)
        search.find(row, o)
        expect(Array.from(search.index)).not.toContain(o)
        const truth = bruteForce(reference, width, row, o).slice(0, k)
        for (let t = 0; t < k; t++) expect(search.squaredDistance[t]).toBeCloseTo(truth[t]!, 9)
      }
    })

    it('with slack ε, finds each neighbour within 1 + ε of the true one of its rank', () => {
      for (const slack of [0.5, 1, 3]) {
        for (const { row, truth } of near) {
          search.find(row, -1, slack)
          for (let t = 0; t < k; t++) {
            expect(search.squaredDistance[t]).toBeGreaterThanOrEqual(truth[t]! * (1 - 1e-12))
            expect(search.squaredDistance[t]).toBeLessThanOrEqual(truth[t]! * (1 + slack) ** 2 * (1 + 1e-12) + 1e-12)
          }
        }
      }
    })
  })

  it('finds each copy of a repeated row, and leaves out only the one asked', () => {
    const row = [1, 2, 3]
    const reference = Float64Array.from([...row, 10, 10, 10, ...row, ...row, -5, 0, 5])
    const search = createNeighbourSearch(reference, 3, 4)
    search.find(row)
    expect(Array.from(search.index)).toEqual([0, 2, 3, 4])
    expect(Array.from(search.squaredDistance)).toEqual([0, 0, 0, 36 + 4 + 4])
    search.find(row, 2)
    expect(Array.from(search.index)).toEqual([0, 3, 4, 1])
    expect(Array.from(search.squaredDistance)).toEqual([0, 0, 44, 81 + 64 + 49])
  })
})
