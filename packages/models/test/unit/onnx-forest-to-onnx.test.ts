import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../src/detector.ts'
import { isolationForest, type TrainedIsolationForest } from '../../src/forest/isolation-forest.ts'
import { nextFloat32Up } from '../../src/forest/grow-forest.ts'
import { FOREST_ONNX_INPUT, FOREST_ONNX_OUTPUT, forestToOnnx } from '../../src/onnx/forest-to-onnx.ts'
import { createOnnxDetector } from '../../src/onnx/onnx-member.ts'
import { loadFlowFeatures } from '../../../../test/fixtures/onnx/flow-features.ts'

const flows = loadFlowFeatures()

/** Rows that sit on, just beside and far from the forest's split values, plus infinities, zeros and subnormals. */
function edgeRows(model: TrainedIsolationForest, count: number, seed: number): number[][] {
  const { forest } = model
  const random = seededRandom(seed)
  const splits: number[][] = Array.from({ length: forest.featureCount }, () => [])
  forest.feature.forEach((f, i) => f >= 0 && splits[f]!.push(forest.threshold[i]!))
  const specials = [Infinity, -Infinity, 0, -0, 5e-324, 1e-45, -1e-45, 3.4e38, 1e300, -1e300]
  return Array.from({ length: count }, () =>
    splits.map((values) => {
      const t = values[Math.floor(random() * values.length)] ?? 0
      const pick = random()
      if (pick < 0.3) return t // exactly on a split: must go right in both
      if (pick < 0.45) return nextFloat32Down(t)
      if (pick < 0.55) return t * (1 - 1e-12) // a double that rounds to the split value in float32
      if (pick < 0.65) return nextFloat32Up(t)
      if (pick < 0.75) return specials[Math.floor(random() * specials.length)]!
      return t * (random() * 4 - 1)
    }),
  )
}

function nextFloat32Down(v: number): number {
  return -nextFloat32Up(-v)
}

async function onnxScores(bytes: Uint8Array, rows: number[][]): Promise<Float64Array> {
  const detector = await createOnnxDetector({
    bytes,
    inputFeatures: Array.from({ length: rows[0]!.length }, (_, f) => `f${f}`),
    output: FOREST_ONNX_OUTPUT,
    direction: 'higher-is-anomalous',
    batchRows: 1000,
  })
  try {
    return await detector.score(rows)
  } finally {
    await detector.close()
  }
}

function maxDifference(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length)
  return a.reduce((max, v, i) => Math.max(max, Math.abs(v - b[i]!)), 0)
}

describe('forestToOnnx', () => {
  it('gives the TypeScript scores under onnxruntime, within 1e-5, on real rows and on rows at the split values', async () => {
    const model = isolationForest.train(flows.rows, isolationForest.defaults, 17)
    const bytes = forestToOnnx(model.forest, { featureNames: flows.names })
    const rows = [...flows.rows, ...edgeRows(model, 4000, 1)]
    expect(maxDifference(await onnxScores(bytes, rows), model.score(rows))).toBeLessThan(1e-5)
  })

  it('does so for 31 features and for a forest deeper than the complete-tree layout', async () => {
    const random = seededRandom(5)
    const wide = Array.from({ length: 3000 }, () => Array.from({ length: 31 }, (_, f) => (f % 4 === 0 ? Math.floor(random() * 3) : random() ** 3 * 1000)))
    for (const params of [{ trees: 100, sampleSize: 256 }, { trees: 5, sampleSize: 3000 }]) {
      const model = isolationForest.train(wide, params, 2)
      const rows = [...wide.slice(0, 1000), ...edgeRows(model, 2000, 2)]
      expect(maxDifference(await onnxScores(forestToOnnx(model.forest), rows), model.score(rows)), JSON.stringify(params)).toBeLessThan(1e-5)
    }
  })

  it('declares features float32 [N, F] in and score float32 [N, 1] out', async () => {
    const model = isolationForest.train(flows.rows, { trees: 3, sampleSize: 32 }, 1)
    const session = await ort.InferenceSession.create(forestToOnnx(model.forest))
    try {
      expect(session.inputMetadata).toEqual([{ name: FOREST_ONNX_INPUT, isTensor: true, type: 'float32', shape: ['N', flows.names.length] }])
      expect(session.outputMetadata).toEqual([{ name: FOREST_ONNX_OUTPUT, isTensor: true, type: 'float32', shape: ['N', 1] }])
    } finally {
      await session.release()
    }
  })
})
