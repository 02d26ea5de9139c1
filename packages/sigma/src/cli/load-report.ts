// Which rules of a corpus load, which are skipped and why.
// Usage: tsx packages/sigma/src/cli/load-report.ts [dir or file...] [--details]
// Without a path: the repository's copy of the SigmaHQ linux/web/zeek rules (test/fixtures/sigma).
import { fileURLToPath } from 'node:url'
import { loadRuleSet } from '../load-rules.ts'
import { formatLoadReport, loadReport } from '../load-report.ts'

const SIGMAHQ_FIXTURE = fileURLToPath(new URL('../../../../test/fixtures/sigma', import.meta.url))

const args = process.argv.slice(2)
const details = args.includes('--details')
const paths = args.filter((a) => a !== '--details')
const set = loadRuleSet(paths.length > 0 ? paths : [SIGMAHQ_FIXTURE])
console.log(formatLoadReport(loadReport(set)))
if (details) {
  console.log('\nskipped rules:')
  for (const s of set.skipped) console.log(`  ${s.file}\t${s.code}\t${s.reason}`)
}
