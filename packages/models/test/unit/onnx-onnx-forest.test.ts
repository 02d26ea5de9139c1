import { afterAll, describe, expect, it } from 'vitest'
import type { FeatureRow } from '../../src/detector.ts'
import { loadEnsemble, trainEnsemble, type EnsembleConfig, type EnsembleScores, type LoadedEnsemble } from '../../src/ensemble/index.ts'
import { attachOnnxExports, ensembleRegistry } from '../../src/onnx/onnx-forest.ts'
import { attacks, featureNames, inliers } from './detectors-fixture.ts'

const names = [...featureNames]
const forestOnly: EnsembleConfig = { seed: 1, members: [{ kind: 'isolation-forest' }] }
// The trainer's default TRAIN_MEMBERS.
const defaultMembers: EnsembleConfig = { seed: 1, members: [{ kind: 'isolation-forest' }, { kind: 'gaussian-mixture' }, { kind: 'knn-distance', weight: 4 }] }

/** `distinct` ordinary rows, repeated unevenly (row i about i + 1 times) to `total` rows, as log features repeat. */
function repeated(distinct: number, total: number, seed: number): { vectors: number[][]; rows: number[][] } {
  const vectors = inliers(distinct, seed)
  const rows: number[][] = []
  for (let i = 0; rows.length < total; i = (i + 1) % distinct) for (let copy = 0; copy <= i && rows.length < total; copy++) rows.push(vectors[i]!)
  return { vectors, rows }
}

const opened: LoadedEnsemble[] = []
afterAll(() => Promise.all(opened.map((e) => e.close())))

/** Trains as the trainer does (TypeScript members, ONNX exports attached), then scores on both forest runtimes. */
async function bothRuntimes(rows: readonly FeatureRow[], config: EnsembleConfig, probes: readonly FeatureRow[]) {
  const artifact = attachOnnxExports(await trainEnsemble(rows, names, config, ensembleRegistry('typescript')))
  const [onnx, typescript] = await Promise.all([loadEnsemble(artifact, ensembleRegistry('onnx')), loadEnsemble(artifact, ensembleRegistry('typescript'))])
  opened.push(onnx, typescript)
  const forestState = artifact.members[0]!.state
  const [onnxForest, typescriptForest] = await Promise.all([ensembleRegistry('onnx')['isolation-forest']!.load(forestState), ensembleRegistry('typescript')['isolation-forest']!.load(forestState)])
  const raw = { onnx: await onnxForest.score(probes), typescript: await typescriptForest.score(probes) }
  await onnxForest.close?.()
  return { raw, onnx: await onnx.score(probes, { explain: 'none' }), typescript: await typescript.score(probes, { explain: 'none' }) }
}

function maxDifference(a: EnsembleScores, b: EnsembleScores): number {
  const pairs: [Float64Array, Float64Array][] = [[a.score, b.score], ...a.members.map((m, i): [Float64Array, Float64Array] => [m, b.members[i]!])]
  let max = 0
  for (const [x, y] of pairs) x.forEach((v, i) => (max = Math.max(max, Math.abs(v - y[i]!))))
  return max
}

describe('forests scored by onnxruntime', () => {
  it('give the TypeScript calibrated scores for rows that repeat training rows, though their raw float32 scores differ', async () => {
    const { vectors, rows } = repeated(3, 200, 11)
    const scored = await bothRuntimes(rows, forestOnly, vectors)
    // The case this guards: onnxruntime's float32 scores miss the float64 calibration points.
    expect(scored.raw.onnx).not.toEqual(scored.raw.typescript)
    expect(scored.onnx.score).toEqual(scored.typescript.score)
    expect(scored.onnx.members).toEqual(scored.typescript.members)
  })

  it('give the TypeScript scores in the default ensemble, on repeated, fresh and attack rows', async () => {
    const { vectors, rows } = repeated(60, 3000, 12)
    const probes = [...vectors, ...inliers(300, 13), ...attacks().map((a) => a.row)]
    const scored = await bothRuntimes(rows, defaultMembers, probes)
    expect(scored.raw.onnx).not.toEqual(scored.raw.typescript)
    // Rows repeating training rows get the same bits; fresh rows miss every point and move with the raw score, by far less than this.
    expect(scored.onnx.score.subarray(0, vectors.length)).toEqual(scored.typescript.score.subarray(0, vectors.length))
    expect(maxDifference(scored.onnx, scored.typescript)).toBeLessThan(1e-6)
  })

  it('give an event the same score whatever batch it is scored in, as a re-delivered event is', async () => {
    const training = inliers(3000, 14)
    const artifact = attachOnnxExports(await trainEnsemble(training, names, defaultMembers, ensembleRegistry('typescript')))
    const ensemble = await loadEnsemble(artifact, ensembleRegistry('onnx'))
    opened.push(ensemble)
    const probes = [...inliers(300, 15), ...attacks().map((a) => a.row)]
    const whole = await ensemble.score(probes, { explain: 'none' })
    for (const size of [1, 2, 7, 50]) {
      for (let start = 0; start < probes.length; start += size) {
        const part = await ensemble.score(probes.slice(start, start + size), { explain: 'none' })
        expect(part.score, `rows ${start}.. in batches of ${size}`).toEqual(whole.score.slice(start, start + size))
        expect(part.members.map((m) => [...m]), `rows ${start}.. in batches of ${size}`).toEqual(whole.members.map((m) => [...m.slice(start, start + size)]))
      }
    }
  })
})
