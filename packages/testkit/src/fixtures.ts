import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from './stack.ts'

/** The real OpenSSH sample from loghub, 2,000 lines (see test/fixtures/loghub/README.md). */
export const OPENSSH_SAMPLE = join(REPO_ROOT, 'test', 'fixtures', 'loghub', 'OpenSSH_2k.log')

/** The non-empty lines of a log file, whatever its line ends (loghub's are CRLF). */
export function readLogLines(path: string): string[] {
  return readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l.length > 0)
}
