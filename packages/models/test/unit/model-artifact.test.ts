import { IsolationForest } from 'ml-isolation-forest'
import { describe, expect, it } from 'vitest'
import { decodeArtifact, encodeArtifact, flattenForest, loadModel, scoreForest, trainModel } from '../../src/index.ts'

// A deterministic cloud of normal points plus a few far outliers.
function dataset(n: number, seed = 7): number[][] {
  let s = seed
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  return Array.from({ length: n }, () => [rand() * 10, rand() * 10, rand() * 2])
}

describe('isolation forest artifact', () => {
  it('scores exactly as ml-isolation-forest does, from the flattened trees alone', () => {
    const rows = dataset(300)
    const library = new IsolationForest({ nEstimators: 20 })
    library.train(rows)
    const probes = [...rows.slice(0, 50), [50, 50, 50], [-5, 3, 1], [5, 5, 1]]
    const ours = scoreForest(flattenForest(library, rows.length), probes)
    const theirs = library.predict(probes)
    ours.forEach((score, i) => expect(score).toBeCloseTo(theirs[i]!, 12))
  })

  it('ranks far points above the training cloud and calibrates to [0,1]', () => {
    const rows = dataset(500)
    const model = loadModel(trainModel(rows, ['a', 'b', 'c'], { trees: 50 }))
    const [inside, outside] = model.score([[5, 5, 1], [60, -40, 9]])
    expect(outside!.raw).toBeGreaterThan(inside!.raw)
    expect(outside!.calibrated).toBe(1)
    expect(inside!.calibrated).toBeLessThan(0.9)
  })

  it('survives encoding with the same scores and a stable sha256', () => {
    const artifact = trainModel(dataset(200), ['a', 'b', 'c'], { trees: 10 })
    const { bytes, sha256 } = encodeArtifact(artifact)
    expect(encodeArtifact(decodeArtifact(bytes)).sha256).toBe(sha256)
    const probes = dataset(30, 99)
    expect(loadModel(decodeArtifact(bytes)).score(probes)).toEqual(loadModel(artifact).score(probes))
  })
})

