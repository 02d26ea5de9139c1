// Refreshes the alerter's default SigmaHQ rules (services/alerter/rules/sigmahq) from the
// repository's copy of SigmaHQ (test/fixtures/sigma): every rule of `rules` and
// `rules-emerging-threats` that loads for our event sources, byte for byte, with the license.
// Threat-hunting rules are left out: they find leads for a hunt, too broad to alert on.
// Usage: npx tsx services/alerter/src/rules/cli/copy-sigmahq-rules.ts
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadRuleSet } from '@vigil/sigma'

const FIXTURE = fileURLToPath(new URL('../../../../../test/fixtures/sigma', import.meta.url))
const TARGET = fileURLToPath(new URL('../../../rules/sigmahq', import.meta.url))
const COLLECTIONS = ['rules', 'rules-emerging-threats']
const LICENSE_FILES = ['LICENSE', 'LICENSE.Detection.Rules.md']

const set = loadRuleSet(COLLECTIONS.map((c) => join(FIXTURE, c)))
const selected = [...new Set(set.detections.map((d) => relative(FIXTURE, d.rule.attribution.file)))].sort()

const stale = listYaml(TARGET).filter((f) => !selected.includes(f))
for (const f of stale) rmSync(join(TARGET, f))
for (const f of [...selected, ...LICENSE_FILES]) {
  mkdirSync(dirname(join(TARGET, f)), { recursive: true })
  copyFileSync(join(FIXTURE, f), join(TARGET, f))
}
console.log(`${selected.length} rules copied to ${relative(process.cwd(), TARGET)}, ${stale.length} no longer selected removed`)

function listYaml(dir: string, root = dir): string[] {
  let entries
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
  return entries.flatMap((e) => (e.isDirectory() ? listYaml(join(dir, e.name), root) : /\.ya?ml$/.test(e.name) ? [relative(root, join(dir, e.name))] : []))
}
