import { isIPv6 } from 'node:net'

/** Why a line is not syslog we can read. */
export type SyslogErrorCode = 'NO_PRI' | 'BAD_PRI' | 'BAD_STRUCTURED_DATA' | 'BAD_HEADER'

/** One RFC 5424 SD-ELEMENT: `[id name="value" ...]`, values unescaped. A repeated PARAM-NAME keeps its last value. */
export interface SdElement {
  id: string
  params: Record<string, string>
}

/** The header fields of a syslog line, RFC 5424 or RFC 3164, in one shape. */
export interface SyslogHeader {
  format: 'RFC5424' | 'RFC3164'
  /** from PRI */
  facility: number
  /** from PRI */
  severity: number
  /** exactly as written in the line (NILVALUE → null); see {@link parseSyslogTimestamp} */
  timestamp: string | null
  hostname: string | null
  /** RFC 3164: the TAG */
  appName: string | null
  /** RFC 3164: the PID in `TAG[PID]` */
  procId: string | null
  /** always null for RFC 3164 */
  msgId: string | null
  /** [] for RFC 3164 or NILVALUE */
  structuredData: SdElement[]
  /** the MSG part (a leading BOM stripped for RFC 5424) */
  message: string
}

export type SyslogParseResult =
  | { ok: true; header: SyslogHeader }
  | { ok: false; code: SyslogErrorCode; reason: string }

const LT = 0x3c
const GT = 0x3e
const SP = 0x20
const LBRACKET = 0x5b
const RBRACKET = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c
const EQUALS = 0x3d
const COLON = 0x3a
const NIL = '-'
const BOM = '\uFEFF'

const MAX_SD_NAME = 32
// RFC 5424 6.2: field name and its maximum length, in header order after VERSION and TIMESTAMP.
const HEADER_FIELDS = [
  ['HOSTNAME', 255],
  ['APP-NAME', 48],
  ['PROCID', 128],
  ['MSGID', 32],
] as const
// RFC 3164 says 32; rsyslog and journald forward longer program names.
const MAX_TAG = 128
const MAX_PID = 64

// RFC 5424 TIMESTAMP (RFC 3339 with uppercase T and Z). Up to 9 fraction digits: the RFC allows 6,
// but nanosecond senders (RFC3339Nano) are common and the extra digits are harmless.
const RFC5424_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/
// Timestamps accepted at the start of an RFC 3164 header: BSD `Mmm dd hh:mm:ss` (day padded with a
// space, zero or nothing; optional year and fraction as Cisco sends), or RFC 3339 as rsyslog can send.
const BSD_TIMESTAMP_AT = /(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?: \d|\d{1,2})(?: \d{4})? \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?= |$)/iy
const ISO_TIMESTAMP_AT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?(?= |$)/y

const ISO_PARTS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/
const BSD_PARTS = /^([A-Za-z]{3}) {1,2}(\d{1,2})(?: (\d{4}))? (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

const DAY_MS = 86_400_000
// How far ahead of its arrival a year-less BSD timestamp may be and still count as this year: the
// line has no zone, and a sender's wall clock may be up to 14 h ahead of UTC, plus drift. Any more,
// and it is last year's line replayed: the featurizer dates a line more than 5 minutes ahead at its
// arrival (FUTURE_TOLERANCE_MS), so a year-less line read as days ahead would lose its own time.
// This was 7 days: last December's sample, replayed in the first days of December, was all dated
// at its arrival.
const MAX_FUTURE_MS = DAY_MS

type Failure = { ok: false; code: SyslogErrorCode; reason: string }

/**
 * Parses one syslog line, RFC 5424 or RFC 3164 (BSD), told apart by what follows PRI: `VERSION SP`
 * means RFC 5424. RFC 5424 is parsed strictly; RFC 3164 liberally, as real senders write it (missing
 * hostname or TAG, space-padded day, RFC 3339 timestamp). Never throws: a line it cannot read comes
 * back as `{ ok: false, code, reason }`, the reason naming the column where it broke.
 */
export function parseSyslog(line: string): SyslogParseResult {
  if (line.charCodeAt(0) !== LT) return fail('NO_PRI', `line does not start with "<PRI>" (found ${describeAt(line, 0)})`)
  let end = 1
  while (end < line.length && end <= 4 && isDigit(line.charCodeAt(end))) end++
  if (end === 1) return fail('NO_PRI', `expected PRI digits after "<" at column 2, found ${describeAt(line, 1)}`)
  if (end > 4) return fail('BAD_PRI', 'PRI has more than 3 digits')
  if (line.charCodeAt(end) !== GT) return fail('BAD_PRI', `expected ">" to close PRI at column ${end + 1}, found ${describeAt(line, end)}`)
  const pri = Number(line.slice(1, end))
  if (pri > 191) return fail('BAD_PRI', `PRI ${pri} is out of range 0..191`)
  const facility = pri >> 3
  const severity = pri & 7

  const start = end + 1
  let digits = start
  while (digits < line.length && digits - start < 4 && isDigit(line.charCodeAt(digits))) digits++
  if (digits > start && digits - start <= 3 && line.charCodeAt(digits) === SP) {
    const version = line.slice(start, digits)
    if (version !== '1') return fail('BAD_HEADER', `unsupported VERSION ${version} at column ${start + 1} (only 1 is defined)`)
    return parse5424(line, digits + 1, facility, severity)
  }
  return parse3164(line, start, facility, severity)
}

function parse5424(line: string, start: number, facility: number, severity: number): SyslogParseResult {
  let pos = start
  const tsField = readField(line, pos, 'TIMESTAMP')
  if (typeof tsField !== 'string') return tsField
  if (tsField !== NIL && !isValidRfc5424Timestamp(tsField)) {
    return fail('BAD_HEADER', `invalid TIMESTAMP ${JSON.stringify(clip(tsField))} at column ${pos + 1} (want YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm) or "-")`)
  }
  pos += tsField.length + 1

  const values: (string | null)[] = []
  for (const [name, maxLength] of HEADER_FIELDS) {
    const value = readField(line, pos, name)
    if (typeof value !== 'string') return value
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i)
      if (c < 33 || c > 126) return fail('BAD_HEADER', `${name} has ${describeAt(value, i)} at column ${pos + i + 1}; only printable ASCII is allowed`)
    }
    if (value.length > maxLength) return fail('BAD_HEADER', `${name} at column ${pos + 1} is ${value.length} characters, more than ${maxLength}`)
    values.push(value === NIL ? null : value)
    pos += value.length + 1
  }

  const structuredData: SdElement[] = []
  if (pos >= line.length) return fail('BAD_STRUCTURED_DATA', `missing STRUCTURED-DATA at column ${pos + 1} (use "-" for none)`)
  if (line.charCodeAt(pos) === 0x2d /* - */) {
    pos++
  } else if (line.charCodeAt(pos) === LBRACKET) {
    const sd = parseStructuredData(line, pos, structuredData)
    if (typeof sd !== 'number') return sd
    pos = sd
  } else {
    return fail('BAD_STRUCTURED_DATA', `expected "[" or "-" for STRUCTURED-DATA at column ${pos + 1}, found ${describeAt(line, pos)}`)
  }

  let message = ''
  if (pos < line.length) {
    if (line.charCodeAt(pos) !== SP) {
      return fail('BAD_STRUCTURED_DATA', `expected a space or the end of the line after STRUCTURED-DATA at column ${pos + 1}, found ${describeAt(line, pos)}`)
    }
    message = line.slice(line.startsWith(BOM, pos + 1) ? pos + 2 : pos + 1)
  }

  return {
    ok: true,
    header: {
      format: 'RFC5424',
      facility,
      severity,
      timestamp: tsField === NIL ? null : tsField,
      hostname: values[0] ?? null,
      appName: values[1] ?? null,
      procId: values[2] ?? null,
      msgId: values[3] ?? null,
      structuredData,
      message,
    },
  }
}

/** The header field starting at `pos`, which must be followed by a space (STRUCTURED-DATA comes last). */
function readField(line: string, pos: number, name: string): string | Failure {
  if (pos >= line.length) return fail('BAD_HEADER', `line ends before ${name} at column ${pos + 1}`)
  const stop = line.indexOf(' ', pos)
  if (stop === pos) return fail('BAD_HEADER', `empty ${name} at column ${pos + 1} (fields are separated by exactly one space)`)
  if (stop === -1) return fail('BAD_HEADER', `line ends after ${name} at column ${line.length + 1}; the fields after it are missing`)
  return line.slice(pos, stop)
}

function isValidRfc5424Timestamp(ts: string): boolean {
  return RFC5424_TIMESTAMP.test(ts) && parseIso(ts) !== null
}

/** Parses SD-ELEMENTs from `pos` (at "[") into `out`; returns the position after the last "]". */
function parseStructuredData(line: string, pos: number, out: SdElement[]): number | Failure {
  while (pos < line.length && line.charCodeAt(pos) === LBRACKET) {
    const elementStart = pos
    pos++
    const id = readSdName(line, pos)
    if (id.length === 0) return badSdName(line, pos, 'SD-ID')
    if (id.length > MAX_SD_NAME) return fail('BAD_STRUCTURED_DATA', `SD-ID at column ${pos + 1} is longer than ${MAX_SD_NAME} characters`)
    pos += id.length
    const params: Record<string, string> = {}
    for (;;) {
      if (pos >= line.length) {
        return fail('BAD_STRUCTURED_DATA', `unterminated SD-ELEMENT [${clip(id)} opened at column ${elementStart + 1}: the line ends before "]"`)
      }
      const c = line.charCodeAt(pos)
      if (c === RBRACKET) {
        pos++
        break
      }
      if (c !== SP) {
        return fail('BAD_STRUCTURED_DATA', `unexpected ${describeAt(line, pos)} at column ${pos + 1} in SD-ELEMENT [${clip(id)}; expected a space or "]"${pos > 0 && line.charCodeAt(pos - 1) === QUOTE ? ' (unescaped \'"\' in a PARAM-VALUE?)' : ''}`)
      }
      pos++
      const name = readSdName(line, pos)
      if (name.length === 0) return badSdName(line, pos, 'PARAM-NAME')
      if (name.length > MAX_SD_NAME) return fail('BAD_STRUCTURED_DATA', `PARAM-NAME at column ${pos + 1} is longer than ${MAX_SD_NAME} characters`)
      pos += name.length
      if (line.charCodeAt(pos) !== EQUALS) {
        return fail('BAD_STRUCTURED_DATA', `expected "=" after PARAM-NAME ${clip(name)} at column ${pos + 1}, found ${describeAt(line, pos)}`)
      }
      pos++
      if (line.charCodeAt(pos) !== QUOTE) {
        return fail('BAD_STRUCTURED_DATA', `PARAM-VALUE of ${clip(name)} at column ${pos + 1} must be in double quotes, found ${describeAt(line, pos)}`)
      }
      const valueStart = pos
      pos++
      let value = ''
      let runStart = pos
      for (;;) {
        if (pos >= line.length) {
          return fail('BAD_STRUCTURED_DATA', `unterminated PARAM-VALUE of ${clip(name)} opened at column ${valueStart + 1}: no closing '"'`)
        }
        const v = line.charCodeAt(pos)
        if (v === QUOTE) break
        if (v === RBRACKET) {
          return fail('BAD_STRUCTURED_DATA', `unescaped "]" at column ${pos + 1} in PARAM-VALUE of ${clip(name)} (write "\\]")`)
        }
        if (v === BACKSLASH) {
          const next = line.charCodeAt(pos + 1)
          // RFC 5424 6.3.3: only \" \\ \] are escapes; any other backslash is a literal backslash.
          if (next === QUOTE || next === BACKSLASH || next === RBRACKET) {
            value += line.slice(runStart, pos)
            runStart = pos + 1
            pos += 2
            continue
          }
        }
        pos++
      }
      value += line.slice(runStart, pos)
      pos++ // closing quote
      // defineProperty so a PARAM-NAME of "__proto__" is an ordinary key, not a prototype change.
      if (name === '__proto__') Object.defineProperty(params, name, { value, enumerable: true, writable: true, configurable: true })
      else params[name] = value
    }
    out.push({ id, params })
  }
  return pos
}

/** SD-NAME: printable ASCII except "=", SP, "]" and '"'. */
function readSdName(line: string, pos: number): string {
  let end = pos
  while (end < line.length && end - pos <= MAX_SD_NAME) {
    const c = line.charCodeAt(end)
    if (c < 33 || c > 126 || c === EQUALS || c === RBRACKET || c === QUOTE) break
    end++
  }
  return line.slice(pos, end)
}

function badSdName(line: string, pos: number, what: string): Failure {
  if (pos >= line.length) return fail('BAD_STRUCTURED_DATA', `unterminated SD-ELEMENT: the line ends where ${what} should be (column ${pos + 1})`)
  return fail('BAD_STRUCTURED_DATA', `expected ${what} at column ${pos + 1}, found ${describeAt(line, pos)} (an SD-NAME is printable ASCII without '=', ' ', ']' or '"')`)
}

function parse3164(line: string, start: number, facility: number, severity: number): SyslogParseResult {
  let pos = start
  let timestamp: string | null = null
  const tsEnd = matchAt(BSD_TIMESTAMP_AT, line, pos) ?? matchAt(ISO_TIMESTAMP_AT, line, pos)
  if (tsEnd !== null) {
    timestamp = line.slice(pos, tsEnd)
    pos = skipSpaces(line, tsEnd)
  }

  // Only a line with a timestamp has a HOSTNAME (RFC 3164 4.1.2). It may still be missing: a first
  // word that looks like a TAG (`sshd[1]:` or `sshd:`) is the TAG.
  let hostname: string | null = null
  if (timestamp !== null && pos < line.length) {
    let stop = line.indexOf(' ', pos)
    if (stop === -1) stop = line.length
    const word = line.slice(pos, stop)
    if (!word.includes('[') && !word.endsWith(':')) {
      hostname = word
      pos = skipSpaces(line, stop)
    }
  }

  let appName: string | null = null
  let procId: string | null = null
  const tag = matchTag(line, pos)
  if (tag !== null) {
    appName = tag.name
    procId = tag.pid
    pos = tag.end
  }

  return {
    ok: true,
    header: {
      format: 'RFC3164',
      facility,
      severity,
      timestamp,
      hostname,
      appName,
      procId,
      msgId: null,
      structuredData: [],
      message: line.slice(pos),
    },
  }
}

/**
 * Whether the word at `pos` is an IPv6 address: `2001:db8::1 - - [...] "GET ..."`, an access-log
 * line sent without a header, would otherwise read as TAG `2001` and MSG `db8::1 ...`.
 */
function startsWithIPv6(line: string, pos: number): boolean {
  const space = line.indexOf(' ', pos)
  return isIPv6(line.slice(pos, space === -1 ? line.length : space))
}

/**
 * `TAG:` or `TAG[PID]:` at `pos` (also `TAG[PID]` followed by a space, as some old senders write).
 * A word not followed by ":" is message text, not a TAG. `end` is where MSG starts, after one space.
 */
function matchTag(line: string, pos: number): { name: string; pid: string | null; end: number } | null {
  let i = pos
  while (i < line.length && i - pos <= MAX_TAG) {
    const c = line.charCodeAt(i)
    if (c === SP || c === LBRACKET || c === COLON) break
    i++
  }
  if (i === pos || i - pos > MAX_TAG || i >= line.length) return null
  const name = line.slice(pos, i)
  const c = line.charCodeAt(i)
  if (c === COLON) return line.charCodeAt(i + 1) !== SP && startsWithIPv6(line, pos) ? null : { name, pid: null, end: skipOneSpace(line, i + 1) }
  if (c !== LBRACKET) return null

  let j = i + 1
  while (j < line.length && j - i <= MAX_PID) {
    const p = line.charCodeAt(j)
    if (p === RBRACKET || p === SP) break
    j++
  }
  if (line.charCodeAt(j) !== RBRACKET || j === i + 1) return null
  const pid = line.slice(i + 1, j)
  const after = j + 1
  if (after >= line.length) return { name, pid, end: after }
  const next = line.charCodeAt(after)
  if (next === COLON) return { name, pid, end: skipOneSpace(line, after + 1) }
  if (next === SP) return { name, pid, end: after + 1 }
  return null
}

/**
 * The event time of a parsed line, in ms since the epoch, or null when the timestamp is missing or
 * not a real date. RFC 3339 timestamps are exact (a missing offset means UTC). A BSD `Mmm dd hh:mm:ss`
 * has no zone and no year: it is read as UTC, in the latest year that puts it no more than a day
 * after `receivedAt` (ms since the epoch), so a `Dec 10` line received on Dec 5 is from last year
 * and a `Jan 1` line received on Dec 31 is from next year.
 */
export function parseSyslogTimestamp(header: Pick<SyslogHeader, 'timestamp'>, receivedAt: number): number | null {
  const ts = header.timestamp
  if (ts === null) return null
  if (ISO_PARTS.test(ts)) return parseIso(ts)
  const m = BSD_PARTS.exec(ts)
  if (m === null) return null
  const month = MONTHS.indexOf(m[1]!.toLowerCase())
  if (month < 0) return null
  const day = Number(m[2])
  const hour = Number(m[4])
  const minute = Number(m[5])
  const second = Number(m[6])
  const ms = fractionMs(m[7])
  if (m[3] !== undefined) return utcMs(Number(m[3]), month, day, hour, minute, second, ms)
  if (!Number.isFinite(receivedAt)) return null
  const year = new Date(receivedAt).getUTCFullYear()
  // From next year back: the first real date not too far in the future. Going back up to 8 years
  // finds a leap year for Feb 29.
  for (let y = year + 1; y >= year - 8; y--) {
    const t = utcMs(y, month, day, hour, minute, second, ms)
    if (t !== null && t - receivedAt <= MAX_FUTURE_MS) return t
  }
  return null
}

/** Whether a header's timestamp is a BSD one, which names no zone (parseSyslogTimestamp reads it as UTC). */
export function isZonelessSyslogTimestamp(timestamp: string): boolean {
  return BSD_PARTS.test(timestamp)
}

function parseIso(ts: string): number | null {
  const m = ISO_PARTS.exec(ts)
  if (m === null) return null
  const t = utcMs(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), fractionMs(m[7]))
  if (t === null) return null
  const zone = m[8]
  if (zone === undefined || zone === 'Z') return t
  const hours = Number(zone.slice(1, 3))
  const minutes = Number(zone.slice(4, 6))
  if (hours > 23 || minutes > 59) return null
  const offset = (hours * 60 + minutes) * 60_000
  return zone[0] === '+' ? t - offset : t + offset
}

/** Epoch ms for a UTC date-time, or null when a field is out of range (Feb 30, 24:00:00, ...). */
function utcMs(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number): number | null {
  if (month < 0 || month > 11 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null
  const d = new Date(0)
  // setUTCFullYear, unlike Date.UTC, does not map years 0..99 to 1900..1999.
  d.setUTCFullYear(year, month, day)
  if (d.getUTCDate() !== day) return null
  d.setUTCHours(hour, minute, second, ms)
  return d.getTime()
}

function fractionMs(fraction: string | undefined): number {
  return fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'))
}

/** End of a sticky-regex match at `pos`, or null. */
function matchAt(re: RegExp, line: string, pos: number): number | null {
  re.lastIndex = pos
  return re.test(line) ? re.lastIndex : null
}

function skipSpaces(line: string, pos: number): number {
  while (line.charCodeAt(pos) === SP) pos++
  return pos
}

function skipOneSpace(line: string, pos: number): number {
  return line.charCodeAt(pos) === SP ? pos + 1 : pos
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

function describeAt(s: string, i: number): string {
  return i >= s.length ? 'the end of the line' : JSON.stringify(s[i])
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s
}

function fail(code: SyslogErrorCode, reason: string): Failure {
  return { ok: false, code, reason }
}
