import { readFileSync } from 'node:fs'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { isolationForest } from '../../src/forest/isolation-forest.ts'
import { createOnnxDetector, onnxDetectorKind, type OnnxDetector, type OnnxMemberJSON } from '../../src/onnx/onnx-member.ts'
import { loadFlowFeatures } from '../../../../test/fixtures/onnx/flow-features.ts'
import { ensureSklearnModels, type SklearnModels } from '../../../../test/fixtures/onnx/sklearn-models.ts'

// Models that scikit-learn trained and skl2onnx exported (test/fixtures/onnx/make_sklearn_models.py).
let sklearn: SklearnModels
beforeAll(() => {
  sklearn = ensureSklearnModels()
}, 600_000)

// skl2onnx writes an IsolationForest as ~25 nodes a tree; onnxruntime takes about a second to load it.
const OPEN_FOREST_MS = 30_000

const opened: OnnxDetector[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.close()))
})
async function open(config: Parameters<typeof createOnnxDetector>[0]): Promise<OnnxDetector> {
  const detector = await createOnnxDetector(config)
  opened.push(detector)
  return detector
}

function expectClose(actual: Float64Array, expected: number[], tolerance: number) {
  expect(actual.length).toBe(expected.length)
  const worst = expected.reduce((max, e, i) => Math.max(max, Math.abs(actual[i]! - e)), 0)
  expect(worst).toBeLessThan(tolerance)
}

describe('ONNX ensemble member', () => {
  it("scores with a scikit-learn IsolationForest as scikit-learn's decision_function does, turned so that higher is anomalous", async () => {
    const detector = await open({ file: sklearn.isolationForestFile, inputFeatures: sklearn.features, direction: 'lower-is-anomalous' })
    // The default output is the first floating-point one: `scores`, not the int64 `label`.
    expect(detector.output).toBe('scores')
    expectClose(await detector.score(sklearn.probes), sklearn.decisionFunction.map((d) => -d), 1e-4)
  }, OPEN_FOREST_MS)

  it("scores with a classifier's probability of the malicious class", async () => {
    const malicious = sklearn.classes.indexOf(1)
    const detector = await open({
      file: sklearn.classifierFile,
      inputFeatures: sklearn.features,
      output: 'probabilities',
      outputColumn: malicious,
      direction: 'higher-is-anomalous',
    })
    expectClose(await detector.score(sklearn.probes), sklearn.probabilities.map((p) => p[malicious]!), 1e-4)
  })

  it('refuses a model whose input width differs from the configured features, saying both', async () => {
    const config = { file: sklearn.isolationForestFile, inputFeatures: sklearn.features.slice(0, 7), direction: 'lower-is-anomalous' } as const
    await expect(createOnnxDetector(config)).rejects.toMatchObject({
      code: 'ONNX_INPUT_WIDTH_MISMATCH',
      message: "isolation-forest.onnx: input 'X' has shape [?, 8], but 7 input features are configured (7 columns expected)",
    })
  }, OPEN_FOREST_MS)

  it('refuses an output it cannot score with: unknown, not floating-point, or [N, k] without a column', async () => {
    const base = { file: sklearn.classifierFile, inputFeatures: sklearn.features, direction: 'higher-is-anomalous' } as const
    await expect(createOnnxDetector({ ...base, output: 'proba' })).rejects.toMatchObject({ code: 'ONNX_OUTPUT_UNKNOWN' })
    await expect(createOnnxDetector({ ...base, output: 'label' })).rejects.toMatchObject({ code: 'ONNX_OUTPUT_UNKNOWN' })
    await expect(createOnnxDetector({ ...base, output: 'probabilities' })).rejects.toMatchObject({
      code: 'ONNX_OUTPUT_SHAPE',
      message: expect.stringContaining('set outputColumn to one of 0..1'),
    })
  })

  it('scores in batches the same as in one call', async () => {
    const config = { file: sklearn.classifierFile, inputFeatures: sklearn.features, output: 'probabilities', outputColumn: 1, direction: 'higher-is-anomalous' } as const
    const whole = await (await open(config)).score(sklearn.probes)
    // Bit for bit: a session has one thread, so onnxruntime sums the trees in one order whatever the batch.
    expect(await (await open({ ...config, batchRows: 7 })).score(sklearn.probes)).toEqual(whole)
  })

  it('rebuilds from its JSON (model embedded) with the same scores, and refuses an altered model', async () => {
    const detector = await open({ file: sklearn.classifierFile, inputFeatures: sklearn.features, output: 'probabilities', outputColumn: 1, direction: 'higher-is-anomalous' })
    const json = JSON.parse(JSON.stringify(detector.toJSON())) as OnnxMemberJSON
    expect(json).toMatchObject({ kind: 'onnx', source: 'classifier.onnx', output: 'probabilities', outputColumn: 1 })
    expect(Buffer.from(json.model, 'base64').equals(readFileSync(sklearn.classifierFile))).toBe(true)
    const loaded = await onnxDetectorKind.load(json)
    opened.push(loaded)
    expect(await loaded.score(sklearn.probes)).toEqual(await detector.score(sklearn.probes))
    expect(loaded.toJSON()).toEqual(json)
    const altered = Buffer.from(json.model, 'base64')
    altered[altered.length - 1]! ^= 1
    await expect(onnxDetectorKind.load({ ...json, model: altered.toString('base64') })).rejects.toMatchObject({ code: 'ONNX_STATE_INVALID' })
  })

  it("our isolation forest agrees with scikit-learn's on the same data (different random draws, same algorithm)", () => {
    const flows = loadFlowFeatures()
    expect(flows.names).toEqual(sklearn.features)
    const ours = isolationForest.train(flows.rows, isolationForest.defaults, 1).score(sklearn.probes)
    // scikit-learn's score with 300 trees, close to its expectation over forests; ours has 100.
    const theirs = sklearn.referenceScores
    const meanAbsolute = theirs.reduce((s, t, i) => s + Math.abs(ours[i]! - t), 0) / theirs.length
    expect(meanAbsolute).toBeLessThan(0.015)
    expect(correlation([...ours], theirs)).toBeGreaterThan(0.97)
  })
})

function correlation(a: number[], b: number[]): number {
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length
  const [ma, mb] = [mean(a), mean(b)]
  let ab = 0
  let aa = 0
  let bb = 0
  a.forEach((x, i) => {
    ab += (x - ma) * (b[i]! - mb)
    aa += (x - ma) ** 2
    bb += (b[i]! - mb) ** 2
  })
  return ab / Math.sqrt(aa * bb)
}
