import { closeSync, openSync, readFileSync, readSync } from 'node:fs'
import { basename } from 'node:path'
import { gunzipSync } from 'node:zlib'

/** A Zeek log file as a Zeek host streams it over TCP, and how many records it holds. */
export interface ZeekStream {
  bytes: Buffer
  /** data lines: what the ingestor turns into raw-logs records (header lines and blank lines are not) */
  records: number
}

const NEWLINE = 0x0a
const CR = 0x0d
const HASH = 0x23
const OPEN_BRACE = 0x7b
const BOM = '\ufeff'
// Fields only Zeek's JSON records have, whichever log: a connection's uid or endpoints (dotted names),
// a file's fuid, a notice's note, a weird's or stats' peer, known_hosts' and software's host.
const ZEEK_JSON_FIELDS = ['uid', 'fuid', 'note', 'peer', 'host']
// Zeek's logs by file name (conn.log, dns.04:00:00-05:00:00.log.gz, conn.json): a JSON log whose first
// record carries none of the fields above (a weird not tied to a connection) is still Zeek's by its name.
const ZEEK_LOG_NAMES = new Set([
  'conn', 'dns', 'http', 'ssl', 'ssh', 'notice', 'weird', 'files', 'x509', 'smtp', 'ftp', 'rdp', 'smb_files', 'smb_mapping', 'dce_rpc',
  'kerberos', 'ntlm', 'dhcp', 'ntp', 'snmp', 'sip', 'tunnel', 'dpd', 'software', 'known_hosts', 'known_services', 'known_certs', 'pe',
  'ocsp', 'modbus', 'rfb', 'mysql', 'radius', 'irc', 'socks', 'analyzer', 'capture_loss', 'stats', 'reporter', 'packet_filter',
])

/**
 * Reads a Zeek log (`.gz` too, as Zeek archives its logs) as a Zeek host streams it, or returns null
 * for a file that is not Zeek output: TSV with its `#` headers as it is; JSON lines with their log
 * type announced first (`#path conn`, from the file name up to its first dot: Zeek's JSON lines
 * carry no `_path` by default). Decided on the first line: a `#separator` header, or a JSON record
 * naming its log (`_path`), or with Zeek's `ts` and a field only Zeek's records have, or any JSON
 * record in a file named as a Zeek log is. (An application's JSON log with `ts` and a dotted name,
 * or named like a Zeek log, would be taken for Zeek's: the listener then reads what it can of it.)
 */
export function readZeekStream(file: string): ZeekStream | null {
  const log = basename(file).split('.')[0]!
  const gzipped = file.endsWith('.gz')
  // A plain file is told by its head: a syslog sample, which npm start reads next, is not read twice.
  if (!gzipped && firstRecordAt(readHead(file), log) === null) return null
  let bytes = gzipped ? gunzipSync(readFileSync(file)) : readFileSync(file)
  // A byte-order mark is no part of the first line (an editor's save of a log).
  if (bytes.subarray(0, 3).toString('utf8') === BOM) bytes = bytes.subarray(3)
  const start = firstRecordAt(bytes, log)
  if (start === null) return null
  const announce = bytes[start] === OPEN_BRACE ? `#path\t${log}\n` : ''
  return { bytes: Buffer.concat([Buffer.from(announce), bytes]), records: dataLines(bytes) }
}

const HEAD_BYTES = 128 * 1024

function readHead(file: string): Buffer {
  const fd = openSync(file, 'r')
  try {
    const head = Buffer.alloc(HEAD_BYTES)
    return head.subarray(0, readSync(fd, head, 0, HEAD_BYTES, 0))
  } finally {
    closeSync(fd)
  }
}

/** Where the first line that is not blank starts, when it says the file is Zeek's (see readZeekStream); else null. */
function firstRecordAt(bytes: Buffer, log: string): number | null {
  let start = bytes.subarray(0, 3).toString('utf8') === BOM ? 3 : 0
  while (start < bytes.length && WHITESPACE.has(bytes[start]!)) start++
  const first = firstLine(bytes, start)
  const zeek = first.startsWith('#') ? first.startsWith('#separator') : isZeekJson(first, ZEEK_LOG_NAMES.has(log))
  return zeek ? start : null
}

const WHITESPACE = new Set([0x20, 0x09, CR, NEWLINE])

function firstLine(bytes: Buffer, start: number): string {
  const end = bytes.indexOf(NEWLINE, start)
  return bytes.subarray(start, Math.min(end === -1 ? bytes.length : end, start + 64 * 1024)).toString('utf8').trim()
}

function isZeekJson(line: string, namedAsZeekLog: boolean): boolean {
  if (!line.startsWith('{')) return false
  let record: unknown
  try {
    record = JSON.parse(line)
  } catch {
    return false
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return false
  if (namedAsZeekLog) return true
  const keys = Object.keys(record)
  // json-streaming-logs names the log in every record; Zeek's own JSON writer does not.
  return keys.includes('_path') || (keys.includes('ts') && keys.some((k) => ZEEK_JSON_FIELDS.includes(k) || k.includes('.')))
}

/** Lines that are neither headers nor blank (a trailing CR is the line's end, as the ingestor splits them), counted on the bytes: a log may be larger than a string can be. */
function dataLines(bytes: Buffer): number {
  let count = 0
  for (let start = 0; start < bytes.length;) {
    let end = bytes.indexOf(NEWLINE, start)
    if (end === -1) end = bytes.length
    const last = end > start && bytes[end - 1] === CR ? end - 1 : end
    if (last > start && bytes[start] !== HASH) count++
    start = end + 1
  }
  return count
}
