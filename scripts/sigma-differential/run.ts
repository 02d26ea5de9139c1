// The Sigma differential test end to end: export our normalized events, run pySigma's SQLite
// backend on them (Python venv under .cache/venv-sigma), run our engine, compare.
// Usage: tsx scripts/sigma-differential/run.ts [rules dir...]   (default: test/fixtures/sigma)
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { REPO_ROOT } from '@vigil/testkit'
import { loadRuleSet } from '../../packages/sigma/src/load-rules.ts'
import { compare, formatComparison, runOurEngine, type Comparison, type ReferenceResult } from './compare.ts'
import { exportEvent, readSampleEvents, SIGMA_RULES } from './export-events.ts'

const HERE = dirname(fileURLToPath(import.meta.url))
const WORK = join(REPO_ROOT, '.cache', 'sigma-differential')

/** Runs the whole comparison; returns it (the integration test asserts on it). */
export async function runDifferential(ruleDirs: readonly string[] = [SIGMA_RULES]): Promise<Comparison> {
  mkdirSync(WORK, { recursive: true })
  const set = loadRuleSet(ruleDirs)
  const fieldsBySource = new Map<string, Set<string>>()
  for (const d of set.detections) {
    for (const c of d.compiled) {
      const names = fieldsBySource.get(c.source.key) ?? new Set<string>()
      for (const f of c.fields.keys()) names.add(f)
      fieldsBySource.set(c.source.key, names)
    }
  }
  const eventsPath = join(WORK, 'events.jsonl')
  const events = await readSampleEvents()
  writeFileSync(eventsPath, events.map((e) => JSON.stringify(exportEvent(e, fieldsBySource))).join('\n') + '\n')

  const python = execFileSync('bash', [join(HERE, 'setup-venv.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim()
  const referencePath = join(WORK, 'pysigma.json')
  execFileSync(python, [join(HERE, 'pysigma_sqlite.py'), eventsPath, referencePath, ...ruleDirs], { stdio: ['ignore', 'inherit', 'inherit'] })
  const reference = JSON.parse(readFileSync(referencePath, 'utf8')) as ReferenceResult

  const ours = await runOurEngine(eventsPath, set)
  return compare(ours, reference, set)
}

if (process.argv[1] && basename(process.argv[1]) === 'run.ts') {
  const dirs = process.argv.slice(2)
  const result = await runDifferential(dirs.length > 0 ? dirs : undefined)
  console.log(formatComparison(result))
}
