// Scoring throughput of Vigil's forest and ensemble beside scikit-learn's IsolationForest
// score_samples, on each set's test matrix (models trained on everything). The machine is shared,
// so the three are timed in interleaved rounds (a Vigil forest pass, a Vigil ensemble pass, a
// scikit-learn pass served by sklearn_peers.py --serve-throughput), all on one thread, and each
// keeps its fastest pass. Writes .cache/bench/models/results/throughput.json.
// Run after prepare.ts: BENCH_PYTHON=<venv python> npx tsx bench/models/throughput.ts [dataset ...]
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { REPO_ROOT } from '@vigil/testkit'
import { candidates, type Scorer } from './candidates.ts'
import { readDataset } from './datasets/dataset-files.ts'
import { DATASET_NAMES } from './datasets/prepare-datasets.ts'
import { writeThroughput, type ThroughputResult } from './results.ts'

const SEED = 1
const ROUNDS = 5
const PYTHON = process.env.BENCH_PYTHON ?? join(REPO_ROOT, '.cache', 'venv', 'bin', 'python')
const TIMED = ['isolation-forest', 'ensemble'] as const

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : DATASET_NAMES
const results: ThroughputResult[] = []
for (const name of names) {
  const { meta, train, test } = readDataset(name)
  const scorers = new Map<string, Scorer>()
  for (const kind of TIMED) {
    const scorer = await candidates.find((c) => c.name === kind)!.train(train.rows, meta.featureNames, SEED)
    await scorer(test.rows) // warm-up, as the accuracy pass is
    scorers.set(kind, scorer)
  }
  const peer = await startPeer(name)
  const passes: Record<string, number[]> = { 'vigil isolation-forest': [], 'vigil ensemble': [], 'sklearn IsolationForest': [] }
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of TIMED) {
        const started = performance.now()
        await scorers.get(kind)!(test.rows)
        passes[`vigil ${kind}`]!.push((performance.now() - started) / 1000)
      }
      passes['sklearn IsolationForest']!.push(await peer.pass())
    }
  } finally {
    peer.close()
  }
  const summary = (seconds: number[]) => {
    const rates = seconds.map((s) => test.rows.length / s).sort((a, b) => a - b)
    return { fastest: rates.at(-1)!, median: rates[Math.floor(rates.length / 2)]! }
  }
  const result: ThroughputResult = {
    dataset: name, testRows: test.rows.length, rounds: ROUNDS,
    rowsPerSecond: {
      'vigil isolation-forest': summary(passes['vigil isolation-forest']!),
      'vigil ensemble': summary(passes['vigil ensemble']!),
      'sklearn IsolationForest': summary(passes['sklearn IsolationForest']!),
    },
  }
  results.push(result)
  console.log(`${name}: ${Object.entries(result.rowsPerSecond).map(([k, v]) => `${k} ${Math.round(v.fastest)} rows/s`).join(', ')}`)
}
writeThroughput(results)

/** sklearn_peers.py serving timed score_samples passes over the set's test matrix, one per request. */
async function startPeer(name: string): Promise<{ pass(): Promise<number>; close(): void }> {
  const child = spawn(PYTHON, [join(REPO_ROOT, 'bench', 'models', 'sklearn_peers.py'), '--serve-throughput', name], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const next = async () => {
    const { value, done } = await lines.next()
    if (done) throw new Error(`sklearn_peers.py --serve-throughput ${name} ended early (exit code ${child.exitCode})`)
    return value as string
  }
  const ready = await next()
  if (ready !== 'ready') throw new Error(`sklearn_peers.py said '${ready}' instead of ready`)
  return {
    async pass() {
      child.stdin.write('pass\n')
      return Number(await next())
    },
    close() {
      child.stdin.end('quit\n')
    },
  }
}
