import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const FIXTURES = fileURLToPath(new URL('../../../../../test/fixtures/', import.meta.url))

/** Every Zeek log of the test fixtures (Stratosphere's and WRCCDC's, TSV and JSON). */
export function zeekSampleFiles(): string[] {
  const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? files(p) : /\.(log|json|labeled)$/.test(n) ? [p] : []
  })
  return [...files(join(FIXTURES, 'stratosphere-zeek')), ...files(join(FIXTURES, 'zeek-wrccdc2018'))]
}
