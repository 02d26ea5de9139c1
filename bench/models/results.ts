import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { DATASETS_DIR } from './datasets/dataset-files.ts'

/**
 * What the models are trained on: every training row ("trained on everything": attacks common in
 * the window are learnt as normal), or the training rows not labeled attack ("trained on what was not
 * flagged": simulates leaving out what Sigma hits and analyst verdicts flagged before training).
 */
export const SETTINGS = {
  everything: 'trained on everything',
  'not-flagged': 'trained on what was not flagged',
} as const
export type Setting = keyof typeof SETTINGS

/** One candidate on one set in one setting. Written by accuracy.ts (vigil.json) and sklearn_peers.py (scikit-learn.json) with these keys. */
export interface CandidateResult {
  dataset: string
  setting: Setting
  candidate: string
  implementation: 'vigil' | 'scikit-learn'
  trainRows: number
  testRows: number
  rocAuc: number | null
  prAuc: number | null
  recallAt1PctFpr: number | null
  trainSeconds: number | null
  /** test rows scored per second, one thread: the fastest of at least 3 passes (and 1 s) over the test matrix */
  scoreRowsPerSecond: number | null
  /** set when the candidate failed: its error message */
  error?: string
}

export interface ResultsFile {
  implementation: CandidateResult['implementation']
  /** what ran: runtime and library versions */
  runtime: string
  /** the machine's 1-minute load average when the half started and ended: the machine is shared */
  loadAverage: { start: number; end: number }
  /** per candidate: what differs from its defaults */
  notes: Record<string, string>
  /** Vigil's half only: the TRAIN_MEMBERS the 'ensemble' candidate ran with (the trainer's default then) */
  defaultWeighting?: string
  results: CandidateResult[]
}

export const RESULTS_DIR = join(DATASETS_DIR, 'results')

export function writeResults(file: string, results: ResultsFile): void {
  const path = join(RESULTS_DIR, file)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`)
}

export function readResults(file: string): ResultsFile {
  return JSON.parse(readFileSync(join(RESULTS_DIR, file), 'utf8')) as ResultsFile
}

/** One set's interleaved throughput figures (throughput.ts): rows/s, the fastest of `rounds` passes, and the median for the spread. */
export interface ThroughputResult {
  dataset: string
  testRows: number
  rounds: number
  rowsPerSecond: Record<'vigil isolation-forest' | 'vigil ensemble' | 'sklearn IsolationForest', { fastest: number; median: number }>
}

export function writeThroughput(results: ThroughputResult[]): void {
  mkdirSync(RESULTS_DIR, { recursive: true })
  writeFileSync(join(RESULTS_DIR, 'throughput.json'), `${JSON.stringify(results, null, 2)}\n`)
}

export function readThroughput(): ThroughputResult[] {
  return JSON.parse(readFileSync(join(RESULTS_DIR, 'throughput.json'), 'utf8')) as ThroughputResult[]
}

/** One case of scoring-throughput.ts: a model on one runtime, at one batch size. */
export interface ScoringCase {
  model: 'isolation-forest' | 'ensemble'
  /** the ensemble's explain option; null for the forest alone, which explains nothing */
  explain: 'alerts' | 'none' | null
  /** rows per score call */
  batch: number
  runtime: 'typescript' | 'onnx'
  /** test rows scored per second: the median and the best of the rounds */
  rowsPerSecond: { median: number; best: number }
  /** CPU seconds per wall second of the process, median of the rounds: onnxruntime may use more than one core */
  coresBusy: number
}

/** TypeScript kernels beside onnxruntime on one set (scoring-throughput.ts). */
export interface ScoringThroughputResult {
  dataset: string
  features: number
  trainRows: number
  testRows: number
  rounds: number
  /** each timed pass scores the test matrix as many times as take at least this long */
  minPassSeconds: number
  /** the ensemble's members as kind:weight (the trainer's TRAIN_MEMBERS default) */
  members: string
  /** test rows the ensemble scores at or above its threshold: those explain 'alerts' explains */
  alertingRows: number
  /** the largest difference between the two runtimes' scores of one test row */
  agreement: { forestMaxScoreDifference: number; ensembleMaxScoreDifference: number }
  cases: ScoringCase[]
}

const SCORING_THROUGHPUT_FILE = 'scoring-throughput.json'

export function writeScoringThroughput(result: ScoringThroughputResult): void {
  mkdirSync(RESULTS_DIR, { recursive: true })
  writeFileSync(join(RESULTS_DIR, SCORING_THROUGHPUT_FILE), `${JSON.stringify(result, null, 2)}\n`)
}

/** null when scoring-throughput.ts has not run */
export function readScoringThroughput(): ScoringThroughputResult | null {
  const path = join(RESULTS_DIR, SCORING_THROUGHPUT_FILE)
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as ScoringThroughputResult) : null
}

/** The comparison as printed and as in REPORT.md: one line per model, explain setting and batch size, both runtimes side by side. */
export function scoringThroughputTable(r: ScoringThroughputResult): { headers: string[]; rows: string[][] } {
  const headers = ['model', 'explain', 'batch', 'TypeScript rows/s, median (best)', 'ONNX rows/s, median (best)', 'ONNX / TypeScript (median)', 'cores busy TS / ONNX', 'ONNX / TypeScript per CPU second']
  const rate = (c: ScoringCase) => `${thousands(c.rowsPerSecond.median)} (${thousands(c.rowsPerSecond.best)})`
  const rows = r.cases.filter((c) => c.runtime === 'typescript').map((ts) => {
    const onnx = r.cases.find((c) => c.runtime === 'onnx' && c.model === ts.model && c.explain === ts.explain && c.batch === ts.batch)!
    return [ts.model, ts.explain ?? '-', String(ts.batch), rate(ts), rate(onnx), `${(onnx.rowsPerSecond.median / ts.rowsPerSecond.median).toFixed(2)}x`,
      `${ts.coresBusy.toFixed(2)} / ${onnx.coresBusy.toFixed(2)}`, `${((onnx.rowsPerSecond.median / onnx.coresBusy) / (ts.rowsPerSecond.median / ts.coresBusy)).toFixed(2)}x`]
  })
  return { headers, rows }
}

function thousands(x: number): string {
  return Math.round(x).toLocaleString('en-US')
}
