import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from './stack.ts'

/** The real OpenSSH sample from loghub, 2,000 lines (see test/fixtures/loghub/README.md). */
export const OPENSSH_SAMPLE = join(REPO_ROOT, 'test', 'fixtures', 'loghub', 'OpenSSH_2k.log')

/** The non-empty lines of a log file, whatever its line ends (loghub's are CRLF). */
export function readLogLines(path: string): string[] {
  return readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l.length > 0)
}

/** A BSD syslog timestamp's day at the start of a line: `Dec 10`, `Jan  2`. */
const BSD_DAY = /^[A-Z][a-z]{2} [ \d]\d(?= \d{2}:\d{2}:\d{2} )/

/**
 * `lines` with their one year-less BSD day (every line starts with it, as the OpenSSH sample's
 * `Dec 10`) moved to yesterday (UTC), times of day as they were; null for lines that do not all
 * start with one such day. A year-less date is read in the latest year that puts it at most a day
 * after its arrival: replayed as written, such a sample would be this year's, hours ahead and so
 * dated at its arrival, for a day each year (Dec 9-10 for the OpenSSH sample), while a replay's
 * windows and training split come from the lines' own times. As yesterday's, the lines are recent
 * traffic, as a shipper sends it live, whatever the date.
 */
export function movedToYesterday(lines: readonly string[]): string[] | null {
  const days = new Set(lines.map((l) => BSD_DAY.exec(l)?.[0]))
  if (days.size !== 1 || days.has(undefined)) return null
  const yesterday = new Date(Date.now() - 86_400_000)
  const day = `${yesterday.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' })} ${String(yesterday.getUTCDate()).padStart(2, ' ')}`
  return lines.map((l) => l.replace(BSD_DAY, day))
}

/** The lines of a one-day sample (see movedToYesterday), moved to yesterday. */
export function readLinesOfYesterday(path: string): string[] {
  const moved = movedToYesterday(readLogLines(path))
  if (!moved) throw new Error(`${path}: not every line starts with the same year-less BSD day`)
  return moved
}
