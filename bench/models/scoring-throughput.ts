// Scoring throughput (events/s) of Vigil's models on the TypeScript kernels beside onnxruntime, on a
// set's test matrix (default stratosphere-zeek: Vigil's own 31 features), at batch sizes 1 and 512:
// the isolation forest member alone (its ONNX export through createOnnxDetector), and the ensemble
// as the trainer builds it and the scorer loads it (FOREST_RUNTIME typescript or onnx; EXPLAIN alerts,
// the scorer's default, or none). All in one process, in interleaved rounds whose order rotates, so
// the shared machine's load meets every case alike; onnxruntime runs with the scorer's session
// options (one thread), and the cores-busy figure shows any other thread at work. Prints the table and writes
// .cache/bench/models/results/scoring-throughput.json for report.ts.
// Run: npx tsx bench/models/scoring-throughput.ts [dataset]   (prepares the set if it is missing)
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import {
  attachOnnxExports, createOnnxDetector, ensembleRegistry, forestToOnnx, isolationForest, loadEnsemble, trainEnsemble,
  type FeatureRow, type ForestRuntime,
} from '@vigil/models'
import { stackFromEnv, startNativeStack } from '@vigil/testkit'
import { Config as TrainerConfig } from '../../services/trainer/src/config.ts'
import { ensembleSettings } from '../../services/trainer/src/training/ensemble-settings.ts'
import { printTable } from '../lib/stats.ts'
import { DATASETS_DIR, readDataset } from './datasets/dataset-files.ts'
import { prepareDatasets } from './datasets/prepare-datasets.ts'
import { scoringThroughputTable, writeScoringThroughput, type ScoringCase, type ScoringThroughputResult } from './results.ts'

const DATASET = process.argv[2] ?? 'stratosphere-zeek'
const ROUNDS = 11
/** a timed pass scores the test matrix as many times as take this long, at least once */
const MIN_PASS_SECONDS = 0.25
const BATCH_SIZES = [1, 512]
const EXPLAIN = ['alerts', 'none'] as const
const RUNTIMES: ForestRuntime[] = ['typescript', 'onnx']
/** The forest's ONNX export computes in float32; the TypeScript kernel sums in float64. */
const FOREST_TOLERANCE = 1e-5

/** One timed case: a model on a runtime, scoring one batch of rows. */
interface Case extends Omit<ScoringCase, 'rowsPerSecond' | 'coresBusy'> {
  score(rows: readonly FeatureRow[]): Promise<unknown>
}

const { meta, train, test } = await readOrPrepare(DATASET)
const settings = ensembleSettings(trainerDefaults(), meta.featureNames)
const forest = isolationForest.train(train.rows, isolationForest.defaults, settings.seed)
const onnxForest = await createOnnxDetector({ bytes: forestToOnnx(forest.forest), inputFeatures: meta.featureNames, direction: 'higher-is-anomalous' })
const artifact = attachOnnxExports(await trainEnsemble(train.rows, meta.featureNames, settings, ensembleRegistry('typescript')))
const ensembles = Object.fromEntries(await Promise.all(RUNTIMES.map(async (r) => [r, await loadEnsemble(artifact, ensembleRegistry(r))] as const)))

const cases: Case[] = []
for (const batch of BATCH_SIZES) {
  for (const runtime of RUNTIMES) {
    cases.push({ model: 'isolation-forest', explain: null, batch, runtime, score: async (rows) => (runtime === 'onnx' ? onnxForest.score(rows) : forest.score(rows)) })
    for (const explain of EXPLAIN) cases.push({ model: 'ensemble', explain, batch, runtime, score: (rows) => ensembles[runtime]!.score(rows, { explain }) })
  }
}
const { agreement, alertingRows } = await compareRuntimes(test.rows)
const passes = await timeInterleaved(cases, test.rows)
await Promise.all([onnxForest.close(), ...Object.values(ensembles).map((e) => e.close())])

const result: ScoringThroughputResult = {
  dataset: DATASET, features: meta.featureNames.length, testRows: test.rows.length, trainRows: train.rows.length, rounds: ROUNDS, minPassSeconds: MIN_PASS_SECONDS,
  members: settings.members.map((m) => `${m.kind}:${m.weight ?? 1}`).join(','),
  alertingRows,
  agreement,
  cases: cases.map(({ score: _score, ...c }, i) => ({ ...c, ...summarize(passes[i]!) })),
}
writeScoringThroughput(result)
printResult(result)

/** The prepared set, preparing it first (the featurized sets need Redis: REDIS_URL, else the stack) when it is missing. */
async function readOrPrepare(name: string): Promise<ReturnType<typeof readDataset>> {
  if (!existsSync(join(DATASETS_DIR, name, 'meta.json'))) {
    await prepareDatasets([name], () => process.env.REDIS_URL ?? (stackFromEnv() ?? startNativeStack()).REDIS_URL)
  }
  return readDataset(name)
}

/** The trainer's defaults (TRAIN_MEMBERS, TRAIN_SEED, MODEL_TARGET_ALERT_RATE); its connections are never opened. */
function trainerDefaults(): TrainerConfig {
  return TrainerConfig.parse({ KAFKA_BROKERS: 'unused:9092', PG_URL: 'postgres://unused' })
}

/** Both runtimes must score the test matrix alike, or the timings compare different work. */
async function compareRuntimes(rows: readonly FeatureRow[]): Promise<Pick<ScoringThroughputResult, 'agreement' | 'alertingRows'>> {
  const forestDiff = maxDifference(forest.score(rows), await onnxForest.score(rows))
  if (!(forestDiff <= FOREST_TOLERANCE)) throw new Error(`the forest's ONNX export differs from the TypeScript kernel by ${forestDiff} (tolerance ${FOREST_TOLERANCE})`)
  const [ts, onnx] = await Promise.all(RUNTIMES.map((r) => ensembles[r]!.score(rows, { explain: 'none' })))
  return {
    agreement: { forestMaxScoreDifference: forestDiff, ensembleMaxScoreDifference: maxDifference(ts!.score, onnx!.score) },
    alertingRows: ts!.score.filter((s) => s >= artifact.threshold).length,
  }
}

/** A pass per case and round: the test matrix scored in batches, as many times as fill MIN_PASS_SECONDS. */
interface Pass {
  rows: number
  wall: number
  cpu: number
}

/**
 * Times every case in ROUNDS rounds, each starting one case later than the one before. Two warm-up
 * passes first (JIT, onnxruntime's first runs); the second one sizes the case's pass, so that short
 * passes do not leave the figures to the timer and the scheduler.
 */
async function timeInterleaved(timed: Case[], rows: readonly FeatureRow[]): Promise<Pass[][]> {
  const batchesOf = new Map(BATCH_SIZES.map((size) => [size, Array.from({ length: Math.ceil(rows.length / size) }, (_, i) => rows.slice(i * size, (i + 1) * size))]))
  const pass = async (c: Case, repeats: number): Promise<Pass> => {
    const cpuStart = process.cpuUsage()
    const started = performance.now()
    for (let r = 0; r < repeats; r++) for (const batch of batchesOf.get(c.batch)!) await c.score(batch)
    const wall = (performance.now() - started) / 1000
    const { user, system } = process.cpuUsage(cpuStart)
    return { rows: repeats * rows.length, wall, cpu: (user + system) / 1e6 }
  }
  const repeats: number[] = []
  for (const c of timed) {
    await pass(c, 1)
    repeats.push(Math.max(1, Math.ceil(MIN_PASS_SECONDS / (await pass(c, 1)).wall)))
  }
  const passes = timed.map((): Pass[] => [])
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < timed.length; k++) {
      const i = (round + k) % timed.length
      passes[i]!.push(await pass(timed[i]!, repeats[i]!))
    }
  }
  return passes
}

function summarize(passes: Pass[]): Pick<ScoringCase, 'rowsPerSecond' | 'coresBusy'> {
  const rates = passes.map((p) => p.rows / p.wall)
  return { rowsPerSecond: { median: median(rates), best: Math.max(...rates) }, coresBusy: median(passes.map((p) => p.cpu / p.wall)) }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!))
  return max
}

function printResult(r: ScoringThroughputResult): void {
  console.log(`${r.dataset}: ${r.testRows} test rows × ${r.features} features, ensemble ${r.members} trained on ${r.trainRows} rows `
    + `(${r.alertingRows} test rows at or above its threshold), ${r.rounds} interleaved rounds; `
    + `ONNX vs TypeScript max |Δ score|: forest ${r.agreement.forestMaxScoreDifference.toExponential(1)}, ensemble ${r.agreement.ensembleMaxScoreDifference.toExponential(1)}`)
  const { headers, rows } = scoringThroughputTable(r)
  printTable(headers, rows)
}
