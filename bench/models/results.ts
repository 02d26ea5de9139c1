import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
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
