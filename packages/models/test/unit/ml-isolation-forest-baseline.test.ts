import { IsolationForest } from 'ml-isolation-forest'
import { describe, expect, it } from 'vitest'
import { flattenForest, scoreForest } from '../../src/index.ts'

// A deterministic cloud of normal points plus a few far outliers.
function dataset(n: number, seed = 7): number[][] {
  let s = seed
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  return Array.from({ length: n }, () => [rand() * 10, rand() * 10, rand() * 2])
}

describe('the ml-isolation-forest baseline', () => {
  it('scores exactly as ml-isolation-forest does, from the flattened trees alone', () => {
    const rows = dataset(300)
    const library = new IsolationForest({ nEstimators: 20 })
    library.train(rows)
    const probes = [...rows.slice(0, 50), [50, 50, 50], [-5, 3, 1], [5, 5, 1]]
    const ours = scoreForest(flattenForest(library, rows.length), probes)
    const theirs = library.predict(probes)
    ours.forEach((score, i) => expect(score).toBeCloseTo(theirs[i]!, 12))
  })
})
