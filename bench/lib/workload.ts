import { join } from 'node:path'
import type { RawLog } from '@vigil/schemas'
import { OPENSSH_SAMPLE, readLinesAsRecent, readLogLines, REPO_ROOT, spreadOverHosts, toSyslog } from '@vigil/testkit'
import { handleInput } from '../../services/ingestor/src/handle-input.ts'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const DAY_MS = 86_400_000
/** lines of one repeat of the workload: three samples of 2,000 */
export const WORKLOAD_LINES_PER_REPEAT = 6000
/** RFC 3164 lines carry no year: arithmetic runs in this one (not a leap year) and the featurizer infers theirs. */
const BSD_YEAR = 2001
const BSD_TIME = /^([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) /
/** Apache error log: `[Sun Dec 04 04:47:44 2005] [notice] ...` */
const APACHE_TIME = /^\[[A-Z][a-z]{2} ([A-Z][a-z]{2}) (\d\d) (\d\d):(\d\d):(\d\d) (\d{4})\] /

/** One raw-logs record as the ingestor writes it, and its key (the sending host). */
export interface RawLogInput {
  key: string
  record: RawLog
}

/**
 * The real loghub samples (OpenSSH, Linux syslog, Apache error log; 2,000 lines each) as syslog
 * from `hosts` hosts per sample, interleaved, `repeats` times: each repeat comes a sample's span
 * earlier in event time (sent earliest first, so event time only moves forward, and within one
 * inferred year), as a longer log of the same servers would. Apache's lines arrive as rsyslog's
 * imfile forwards them (tag httpd), on the host of their client address or else round robin.
 */
export function buildWorkload(repeats: number, hosts: number): string[] {
  const samples = [
    spreadOverHosts(readLinesAsRecent(OPENSSH_SAMPLE), hosts),
    spreadOverHosts(readLogLines(join(REPO_ROOT, 'test', 'fixtures', 'loghub', 'Linux_2k.log')), hosts),
    apacheAsSyslog(readLogLines(join(REPO_ROOT, 'test', 'fixtures', 'loghub', 'Apache_2k.log')), hosts),
  ]
  const lines: string[] = []
  for (let r = repeats - 1; r >= 0; r--) {
    const shifted = samples.map((sample) => {
      const span = spanDays(sample)
      return sample.map((line) => shiftDays(line, -r * span))
    })
    const longest = Math.max(...shifted.map((s) => s.length))
    for (let i = 0; i < longest; i++) {
      for (const sample of shifted) if (i < sample.length) lines.push(toSyslog(sample[i]!))
    }
  }
  return lines
}

/** The record and key the ingestor makes of a line received over syslog TCP at `receivedAt`. */
export function asIngested(line: string, receivedAt: number): RawLogInput {
  const verdict = handleInput({ bytes: Buffer.from(line), transport: 'syslog-tcp', peer: '127.0.0.1:514', receivedAt })
  if (!verdict.ok) throw new Error(`the ingestor would reject a workload line (${verdict.code}): ${line}`)
  return { key: verdict.key, record: verdict.record }
}

function apacheAsSyslog(lines: string[], hosts: number): string[] {
  return lines.map((line, i) => {
    const m = APACHE_TIME.exec(line)
    if (!m) return line
    const client = /\[client (\d+)\.(\d+)\.(\d+)\.(\d+)\]/.exec(line)
    const host = client ? client.slice(1).reduce((n, octet) => n + Number(octet), 0) % hosts : i % hosts
    const at = new Date(Date.UTC(Number(m[6]), MONTHS.indexOf(m[1]!), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])))
    return `${bsdTime(at)} www-${host} httpd: ${line}`
  })
}

/** Whole days from a sample's first line to its last, plus one: how far apart two repeats lie. */
function spanDays(lines: string[]): number {
  const times = lines.map(bsdDate).filter((d): d is Date => d !== null)
  return Math.floor((times.at(-1)!.getTime() - times[0]!.getTime()) / DAY_MS) + 1
}

function shiftDays(line: string, days: number): string {
  const at = bsdDate(line)
  if (!at || days === 0) return line
  const shifted = new Date(at.getTime() + days * DAY_MS)
  let out = `${bsdTime(shifted)}${line.slice(15)}`
  const apache = APACHE_TIME.exec(line.slice(line.indexOf(': ') + 2))
  if (apache) {
    const year = Number(apache[6])
    const original = new Date(Date.UTC(year, MONTHS.indexOf(apache[1]!), Number(apache[2]), Number(apache[3]), Number(apache[4]), Number(apache[5])))
    const moved = new Date(original.getTime() + days * DAY_MS)
    out = out.replace(apache[0], `[${WEEKDAYS[moved.getUTCDay()]} ${MONTHS[moved.getUTCMonth()]} ${pad(moved.getUTCDate())} ${clock(moved)} ${moved.getUTCFullYear()}] `)
  }
  return out
}

function bsdDate(line: string): Date | null {
  const m = BSD_TIME.exec(line)
  if (!m) return null
  return new Date(Date.UTC(BSD_YEAR, MONTHS.indexOf(m[1]!), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])))
}

/** `Mmm dd hh:mm:ss`, the day space-padded (RFC 3164). */
function bsdTime(at: Date): string {
  return `${MONTHS[at.getUTCMonth()]} ${String(at.getUTCDate()).padStart(2, ' ')} ${clock(at)}`
}

const pad = (n: number) => String(n).padStart(2, '0')
const clock = (at: Date) => `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())}`
