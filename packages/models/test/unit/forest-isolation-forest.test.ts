import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../src/detector.ts'
import { averagePathLengthOf, nodeDepths, treeCount } from '../../src/forest/flat-forest.ts'
import { isolationForest, type TrainedIsolationForest } from '../../src/forest/isolation-forest.ts'
import { loadFlowFeatures } from '../../../../test/fixtures/onnx/flow-features.ts'

const flows = loadFlowFeatures()
const benign = flows.rows.filter((_, i) => flows.labels[i] === 0)
const malicious = flows.rows.filter((_, i) => flows.labels[i] === 1)

function train(rows: readonly number[][], seed = 1, params = isolationForest.defaults): TrainedIsolationForest {
  return isolationForest.train(rows, params, seed)
}

/** Share of (positive, negative) pairs the scores order correctly: the ROC AUC. */
function auc(positives: Float64Array, negatives: Float64Array): number {
  let wins = 0
  for (const p of positives) for (const n of negatives) wins += p > n ? 1 : p === n ? 0.5 : 0
  return wins / (positives.length * negatives.length)
}

describe('isolation forest', () => {
  it('grows the same forest from the same seed and rows, and another from another seed', () => {
    const a = train(flows.rows, 7)
    expect(train(flows.rows, 7).toJSON()).toEqual(a.toJSON())
    expect(train(flows.rows, 8).toJSON()).not.toEqual(a.toJSON())
  })

  it('grows trees as Liu et al. do: ψ rows each, height limit ceil(log2 ψ), splits inside the node range', () => {
    const { forest } = train(flows.rows, 3, { trees: 20, sampleSize: 64 })
    const depth = nodeDepths(forest)
    expect(treeCount(forest)).toBe(20)
    expect(forest.sampleSize).toBe(64)
    for (let t = 0; t < 20; t++) {
      const root = forest.treeStart[t]!
      expect(forest.size[root]).toBe(64)
      let leafRows = 0
      for (let i = root; i < forest.treeStart[t + 1]!; i++) {
        expect(depth[i]).toBeLessThanOrEqual(6)
        if (forest.feature[i]! < 0) {
          leafRows += forest.size[i]!
          expect(forest.pathLength[i]).toBeCloseTo(depth[i]! + averagePathLengthOf(forest.size[i]!), 12)
        } else {
          // Both sides non-empty: the split value lies strictly above the node's minimum.
          expect(forest.size[forest.left[i]!]).toBeGreaterThan(0)
          expect(forest.size[forest.right[i]!]).toBeGreaterThan(0)
          expect(forest.size[forest.left[i]!]! + forest.size[forest.right[i]!]!).toBe(forest.size[i])
          expect(Math.fround(forest.threshold[i]!)).toBe(forest.threshold[i])
        }
      }
      expect(leafRows).toBe(64)
    }
    // Fewer rows than ψ: each tree takes them all.
    expect(train(flows.rows.slice(0, 40), 3).forest.sampleSize).toBe(40)
  })

  it('trained on the host\'s benign flows, ranks the external attacks above held-out benign flows', () => {
    const model = train(benign.filter((_, i) => i % 2 === 0), 11)
    const heldOut = model.score(benign.filter((_, i) => i % 2 === 1))
    const attacks = model.score(malicious)
    expect(auc(attacks, heldOut)).toBeGreaterThan(0.9)
    for (const s of [...heldOut, ...attacks]) expect(s > 0 && s <= 1).toBe(true)
  })

  it('scores a far-off row near 1 and a row of the bulk below 0.5', () => {
    const model = train(benign, 5)
    const typical = benign[0]!.map((_, f) => median(benign.map((r) => r[f]!)))
    const farOff = typical.map((v) => v * 1000 + 1e6)
    const [inside, outside] = model.score([typical, farOff])
    expect(inside).toBeLessThan(0.5)
    expect(outside).toBeGreaterThan(0.75)
  })

  it('gives every row 2^-1 = 0.5 when all training rows are equal (no split possible)', () => {
    const same = Array.from({ length: 50 }, () => [1, 2, 3])
    const model = train(same, 1, { trees: 5, sampleSize: 256 })
    expect(model.forest.feature.every((f) => f < 0)).toBe(true)
    expect([...model.score([[1, 2, 3], [100, -5, 0]])]).toEqual([0.5, 0.5])
  })

  it('survives toJSON, a JSON round trip and load with the same scores and explanations', () => {
    const model = train(flows.rows, 9)
    const loaded = isolationForest.load(JSON.parse(JSON.stringify(model.toJSON())))
    const probes = [...flows.rows.filter((_, i) => i % 13 === 0), [Infinity, -Infinity, 0, -0, 1e300, -1e-300, 5e-324, 3]]
    expect(loaded.score(probes)).toEqual(model.score(probes))
    expect(loaded.explain!(probes[3]!)).toEqual(model.explain(probes[3]!))
    expect(loaded.toJSON()).toEqual(model.toJSON())
  })

  it('refuses a state that is not a well-formed forest', () => {
    const json = train(flows.rows.slice(0, 300), 2, { trees: 3, sampleSize: 64 }).toJSON()
    expect(() => isolationForest.load({ ...json, kind: 'hbos' })).toThrow(/not an isolation-forest/)
    const bytes = Buffer.from(json.right, 'base64')
    const right = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice()
    right[right.findIndex((r) => r > 0)] = 0 // a child pointing back at the root: a walk that never ends
    expect(() => isolationForest.load({ ...json, right: Buffer.from(right.buffer).toString('base64') })).toThrow(/malformed/)
    expect(() => isolationForest.load({ ...json, size: json.size.slice(0, 16) })).toThrow(/differ in length/)
  })

  it('scores in batches of any size the same as row by row', () => {
    const model = train(flows.rows, 4)
    const rows = flows.rows.slice(0, 2051) // past one 2048-row block, and not a multiple of 8
    const batch = model.score(rows)
    rows.forEach((row, i) => expect(model.score([row])[0]).toBe(batch[i]))
  })

  it('scores forests too deep for the complete-tree layout (ψ > 4096) the same way', () => {
    const random = seededRandom(3)
    const rows = Array.from({ length: 6000 }, () => [random(), random() * random(), Math.floor(random() * 4)])
    const model = train(rows, 1, { trees: 4, sampleSize: 6000 })
    expect(Math.max(...nodeDepths(model.forest))).toBeGreaterThan(12)
    const probes = rows.slice(0, 200)
    // Reference: walk the linked trees directly.
    const expected = probes.map((row) => {
      const { forest } = model
      let total = 0
      for (let t = 0; t < 4; t++) {
        let node = forest.treeStart[t]!
        while (forest.feature[node]! >= 0) node = Math.fround(row[forest.feature[node]!]!) < forest.threshold[node]! ? forest.left[node]! : forest.right[node]!
        total += forest.pathLength[node]!
      }
      return 2 ** (-(total / 4) / averagePathLengthOf(6000))
    })
    expect([...model.score(probes)]).toEqual(expected)
  })

  it('refuses fewer than two rows, rows of the wrong width and NaN', () => {
    expect(() => train([[1, 2]])).toThrow(/at least 2/)
    expect(() => train([[1, 2], [3]])).toThrow(/row 1 has 1 features/)
    expect(() => train([[1, 2], [NaN, 3]])).toThrow(/NaN/)
    expect(() => train(flows.rows).score([[1, 2]])).toThrow(/row 0 has 2 features/)
  })

  it('explains a row made anomalous in one feature by that feature first', () => {
    const model = train(benign, 21)
    const typical = benign[0]!.map((_, f) => median(benign.map((r) => r[f]!)))
    for (const name of ['events_in_window', 'distinct_destinations', 'bytes', 'duration_seconds']) {
      const f = flows.names.indexOf(name)
      const column = benign.map((r) => r[f]!)
      const perturbed = [...typical]
      perturbed[f] = Math.max(...column) * 3 + 10
      const explanation = model.explain(perturbed)
      expect(explanation[0]!.feature, name).toBe(f)
      expect(explanation[0]!.weight).toBeGreaterThan(0)
      // Contributions add up to how much shorter than c(ψ) the mean path is (the quantity the score is a function of).
      const total = explanation.reduce((s, c) => s + c.weight, 0)
      const meanPath = -Math.log2(model.score([perturbed])[0]!) * averagePathLengthOf(model.forest.sampleSize)
      expect(total).toBeCloseTo(averagePathLengthOf(model.forest.sampleSize) - meanPath, 9)
      for (let i = 1; i < explanation.length; i++) expect(explanation[i]!.weight).toBeLessThanOrEqual(explanation[i - 1]!.weight)
    }
  })
})

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}
