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
/** Wednesday (getUTCDay): the OpenSSH sample's Dec 10 was one in 2025, the year replays read it in before. */
const SAMPLE_WEEKDAY = 3

/**
 * `lines` with their one year-less BSD day (every line starts with it, as the OpenSSH sample's
 * `Dec 10`) moved to the latest Wednesday before today (UTC), 1 to 7 days ago, times of day as they
 * were; null for lines that do not all start with one such day. A year-less date is read in the
 * latest year that puts it at most a day after its arrival: replayed as written, such a sample would
 * be this year's, hours ahead and so dated at its arrival, for a day each year (Dec 9-10 for the
 * OpenSSH sample), while a replay's windows and training split come from the lines' own times. Moved,
 * the lines are recent traffic, as a shipper sends it live, and always a Wednesday's: the day-of-week
 * and business-hours features do not change with the day a test runs.
 */
export function movedToRecentDay(lines: readonly string[], now = Date.now()): string[] | null {
  const days = new Set(lines.map((l) => BSD_DAY.exec(l)?.[0]))
  if (days.size !== 1 || days.has(undefined)) return null
  const target = new Date(now - 86_400_000)
  while (target.getUTCDay() !== SAMPLE_WEEKDAY) target.setUTCDate(target.getUTCDate() - 1)
  const day = `${target.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' })} ${String(target.getUTCDate()).padStart(2, ' ')}`
  return lines.map((l) => l.replace(BSD_DAY, day))
}

/** The lines of a one-day sample (see movedToRecentDay), moved to a recent Wednesday. */
export function readLinesAsRecent(path: string): string[] {
  const moved = movedToRecentDay(readLogLines(path))
  if (!moved) throw new Error(`${path}: not every line starts with the same year-less BSD day`)
  return moved
}
