// The TypeScript half of the models benchmark: every candidate (each ensemble member, the ensemble,
// the ml-isolation-forest baseline) trained and scored on each prepared set in both settings, with
// its scoring throughput. Writes .cache/bench/models/results/vigil.json.
// Run after prepare.ts: npx tsx bench/models/accuracy.ts [dataset ...]
import { loadavg } from 'node:os'
import { candidates, DEFAULT_WEIGHTING, type Scorer } from './candidates.ts'
import { readDataset } from './datasets/dataset-files.ts'
import { DATASET_NAMES } from './datasets/prepare-datasets.ts'
import { detectionMetrics } from '@vigil/models'
import { SETTINGS, writeResults, type CandidateResult, type Setting } from './results.ts'

const SEED = 1
// Scoring is timed over whole passes of the test matrix until both bounds are met.
const MIN_PASSES = 3
const MIN_TIMED_MS = 1000

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : DATASET_NAMES
const results: CandidateResult[] = []
const loadAtStart = loadavg()[0]!
for (const name of names) {
  const { meta, train, test } = readDataset(name)
  for (const setting of Object.keys(SETTINGS) as Setting[]) {
    const trainRows = setting === 'not-flagged' ? train.rows.filter((_, i) => train.labels[i] === 0) : train.rows
    for (const candidate of candidates) {
      const base = { dataset: name, setting, candidate: candidate.name, implementation: 'vigil' as const, trainRows: trainRows.length, testRows: test.rows.length }
      try {
        const started = performance.now()
        const scorer = await candidate.train(trainRows, meta.featureNames, SEED)
        const trainSeconds = (performance.now() - started) / 1000
        const metrics = detectionMetrics(test.labels, await scorer(test.rows))
        results.push({ ...base, ...metrics, trainSeconds, scoreRowsPerSecond: await rowsPerSecond(scorer, test.rows) })
      } catch (err) {
        results.push({ ...base, rocAuc: null, prAuc: null, recallAt1PctFpr: null, trainSeconds: null, scoreRowsPerSecond: null, error: (err as Error).message })
      }
      const r = results.at(-1)!
      console.log(`${name} | ${SETTINGS[setting]} | ${r.candidate}: ${r.error ?? `ROC-AUC ${r.rocAuc!.toFixed(3)}, PR-AUC ${r.prAuc!.toFixed(3)}, ${Math.round(r.scoreRowsPerSecond!)} rows/s`}`)
    }
  }
}
writeResults('vigil.json', {
  implementation: 'vigil',
  runtime: `Node ${process.version}`,
  loadAverage: { start: loadAtStart, end: loadavg()[0]! },
  notes: Object.fromEntries(candidates.map((c) => [c.name, c.note])),
  defaultWeighting: DEFAULT_WEIGHTING,
  results,
})

/** The fastest of repeated whole passes of `rows` through the scorer, in rows/s: other load on the machine only slows passes down. */
async function rowsPerSecond(score: Scorer, rows: number[][]): Promise<number> {
  const rates: number[] = []
  let timed = 0
  while (rates.length < MIN_PASSES || timed < MIN_TIMED_MS) {
    const started = performance.now()
    await score(rows)
    const ms = performance.now() - started
    timed += ms
    rates.push(rows.length / (ms / 1000))
  }
  return Math.max(...rates)
}
