import { isIP } from 'node:net'
import { MAX_PID, type EventOutcome, type ParsedFields } from '../ecs-event.ts'
import type { FamilyParser } from './family-parser.ts'
import { parseRequestLine, splitHostPort, WEB_PROGRAMS } from './web-access.ts'

/** What the error-log parser fills in; the caller adds @timestamp, message and the envelope's fields. */
export type WebErrorFields = Pick<ParsedFields, 'event' | 'source' | 'user' | 'url' | 'http' | 'process' | 'log'>

/** Apache and nginx levels as syslog severities (RFC 5424: 0 emergency … 7 debug); Apache's trace1-8 are debug. */
const SEVERITY: ReadonlyMap<string, number> = new Map([
  ['emerg', 0], ['alert', 1], ['crit', 2], ['error', 3], ['warn', 4], ['notice', 5], ['info', 6], ['debug', 7],
  ['trace1', 7], ['trace2', 7], ['trace3', 7], ['trace4', 7], ['trace5', 7], ['trace6', 7], ['trace7', 7], ['trace8', 7],
])
const ERROR_SEVERITY = 3

const LBRACKET = 0x5b
const SPACE = 0x20
const MAX_LINE_CHARS = 32768

// `[Sun Dec 04 04:47:44 2005] ` (Apache 2.2) or `[Wed Oct 11 14:32:52.123456 2000] ` (2.4).
const APACHE_TIME = /\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? (\d{4})\] ?/y
// `2024/01/01 12:00:00 [error] 1234#0: *5 ` (the `*N` connection number is absent before a connection exists).
const NGINX_HEAD = /(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2}) \[([a-z]+)\] (\d+)#\d+: (?:\*\d+ )?/y

/**
 * Reads one Apache (2.2 or 2.4) or nginx error-log line into ECS fields: the level as
 * `event.severity` and `log.level`, the client as `source`, and for nginx the request's method, URL
 * and host. The message itself stays in the event's message. Under a syslog header (`appName`
 * httpd, apache2 or nginx) Apache's line comes without its time, and that is read too. Returns null
 * when the line is not in one of these shapes.
 */
export function parseWebError(message: string): WebErrorFields | null {
  if (message.length > MAX_LINE_CHARS) return null
  if (message.charCodeAt(0) === LBRACKET) return parseApache(message)
  NGINX_HEAD.lastIndex = 0
  const head = NGINX_HEAD.exec(message)
  return head === null ? null : parseNginx(message, head)
}

/** The registry entry: header-less lines, or lines from nginx/Apache, that start like an error log. */
export const webErrorParser: FamilyParser = {
  family: 'web',
  claims: (input) => {
    if (input.zeek !== null) return false
    const m = input.message
    if (input.appName === null) return startsWithApacheTime(m) || startsWithNginxTime(m)
    if (!WEB_PROGRAMS.has(input.appName)) return false
    return m.charCodeAt(0) === LBRACKET || startsWithNginxTime(m)
  },
  parse: (input) => parseWebError(input.message),
  eventTime: (input) => webErrorTimestamp(input.message),
  eventTimeIsWallClock: true,
}

/**
 * The time at the start of an error-log line, Apache's `[Sun Dec 04 04:47:44 2005]` or nginx's
 * `2024/01/01 12:00:00`, in ms since the epoch. Both servers write local time without a zone; it is
 * read as UTC, and the featurizer moves it to the sender's zone (source-time-zones.ts). Null when the
 * line does not start with one, or it is not a real date.
 */
export function webErrorTimestamp(line: string): number | null {
  APACHE_TIME.lastIndex = 0
  const apache = APACHE_TIME.exec(line)
  if (apache !== null) {
    const month = MONTHS.indexOf(apache[1]!)
    const fraction = apache[6] === undefined ? 0 : Math.floor(Number(apache[6].padEnd(6, '0')) / 1000)
    return utcOf(Number(apache[7]), month, Number(apache[2]), Number(apache[3]), Number(apache[4]), Number(apache[5]), fraction)
  }
  NGINX_HEAD.lastIndex = 0
  const nginx = NGINX_HEAD.exec(line)
  if (nginx !== null) {
    return utcOf(Number(nginx[1]), Number(nginx[2]) - 1, Number(nginx[3]), Number(nginx[4]), Number(nginx[5]), Number(nginx[6]), 0)
  }
  return null
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

function utcOf(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number): number | null {
  if (month < 0 || month > 11 || day < 1 || hour > 23 || minute > 59 || second > 60) return null
  const utc = Date.UTC(year, month, day, hour, minute, second, ms)
  return new Date(utc).getUTCDate() === day ? utc : null
}

/**
 * `[time] [level] [client 1.2.3.4] message` (2.2) or
 * `[time] [module:level] [pid N:tid N] (errno)Reason: [client 1.2.3.4:port] AH00128: message` (2.4).
 */
function parseApache(message: string): WebErrorFields | null {
  APACHE_TIME.lastIndex = 0
  let pos = APACHE_TIME.exec(message) === null ? 0 : APACHE_TIME.lastIndex
  const level = readBracket(message, pos)
  if (level === null) return null
  const colon = level.text.indexOf(':')
  const levelName = colon === -1 ? level.text : level.text.slice(colon + 1)
  const severity = SEVERITY.get(levelName)
  if (severity === undefined) return null
  // 2.4 writes `module:level` and adds the port to the client address; 2.2 writes neither.
  const withPort = colon !== -1
  pos = skipSpaces(message, level.end)

  const fields = baseFields(levelName, severity)
  let bracket = readBracket(message, pos)
  if (bracket !== null && bracket.text.startsWith('pid ')) {
    const pid = readDigits(bracket.text, 'pid '.length, 10)
    if (pid !== null && pid.value <= MAX_PID && (pid.end === bracket.text.length || bracket.text.charCodeAt(pid.end) === 0x3a)) fields.process = { pid: pid.value }
    pos = skipSpaces(message, bracket.end)
    // Apache's own text may come between pid and client: an OS error (`(13)Permission denied: `) or,
    // at trace levels, the source line (`ssl_engine_io.c(2261): `).
    if (message.charCodeAt(pos) !== LBRACKET) {
      const before = message.indexOf(': [', pos)
      if (before !== -1 && before - pos < 256) pos = before + 2
    }
    bracket = readBracket(message, pos)
  }
  if (bracket !== null && (bracket.text.startsWith('client ') || bracket.text.startsWith('remote '))) {
    const address = readClient(bracket.text.slice(7), withPort)
    if (address !== null) fields.source = address
    pos = bracket.end
  }
  const referrer = message.lastIndexOf(', referer: ')
  if (referrer !== -1 && referrer >= pos) {
    const value = message.slice(referrer + ', referer: '.length)
    if (value !== '') fields.http = { request: { referrer: value } }
  }
  return fields
}

/** `... message, client: 1.2.3.4, server: example.com, request: "GET /x HTTP/1.1", host: "example.com", referrer: "..."` */
function parseNginx(message: string, head: RegExpExecArray): WebErrorFields | null {
  const levelName = head[7]!
  const severity = SEVERITY.get(levelName)
  if (severity === undefined) return null
  const fields = baseFields(levelName, severity)
  const pid = Number(head[8])
  if (pid <= MAX_PID) fields.process = { pid }

  // nginx appends its context after the message, starting with the client. The message can quote
  // request data (a path), so the first `, client: ` followed by an address and `, server: ` is
  // taken: the shape nginx writes, which a path in the message would have to forge exactly.
  let at = message.indexOf(', client: ', NGINX_HEAD.lastIndex)
  let context = -1
  while (at !== -1) {
    const start = at + ', client: '.length
    const end = message.indexOf(', ', start)
    const client = message.slice(start, end === -1 ? message.length : end)
    if (isIP(client) !== 0 && (end === -1 || message.startsWith(', server: ', end))) {
      fields.source = { ip: client }
      context = end === -1 ? message.length : end
      break
    }
    at = message.indexOf(', client: ', start)
  }
  if (context === -1) return fields

  const request = quotedAfter(message, ', request: "', context)
  const line = request === undefined ? null : parseRequestLine(request)
  if (line !== null) {
    fields.http = { request: { method: line.method }, ...(line.version !== undefined && { version: line.version }) }
    fields.url = line.url
  }
  const host = quotedAfter(message, ', host: "', context)
  if (host !== undefined && host !== '' && !fields.url?.domain) {
    const domain = splitHostPort(host).host
    if (domain !== '') fields.url = { ...fields.url, domain }
  }
  const referrer = quotedAfter(message, ', referrer: "', context)
  if (referrer !== undefined && referrer !== '') fields.http = { ...fields.http, request: { ...fields.http?.request, referrer } }
  return fields
}

function baseFields(levelName: string, severity: number): WebErrorFields {
  const failed = severity <= ERROR_SEVERITY
  const outcome: EventOutcome = failed ? 'failure' : 'unknown'
  return {
    event: { category: ['web'], type: [failed ? 'error' : 'info'], action: 'http_error', outcome, dataset: 'web.error', severity },
    log: { level: levelName },
  }
}

/** `"value"` after `key` (searched from `from`): up to the next `", ` or the closing quote at the end of the line. */
function quotedAfter(message: string, key: string, from: number): string | undefined {
  const at = message.indexOf(key, from)
  if (at === -1) return undefined
  const start = at + key.length
  const end = message.indexOf('", ', start)
  if (end !== -1) return message.slice(start, end)
  return message.endsWith('"') && message.length - 1 >= start ? message.slice(start, message.length - 1) : undefined
}

/** `1.2.3.4`, or with 2.4's port `1.2.3.4:5678` / `2001:db8::1:5678` (no brackets), or a host name. */
function readClient(value: string, withPort: boolean): WebErrorFields['source'] | null {
  if (!withPort) return isIP(value) !== 0 ? { ip: value } : value === '' ? null : { domain: value }
  const colon = value.lastIndexOf(':')
  if (colon > 0) {
    const host = value.slice(0, colon)
    const port = readDigits(value, colon + 1, 5)
    if (port !== null && port.end === value.length && port.value <= 65535 && isIP(host) !== 0) return { ip: host, port: port.value }
  }
  return isIP(value) !== 0 ? { ip: value } : null
}

function readBracket(s: string, pos: number): { text: string; end: number } | null {
  if (s.charCodeAt(pos) !== LBRACKET) return null
  const close = s.indexOf(']', pos + 1)
  if (close === -1 || close - pos > 256) return null
  return { text: s.slice(pos + 1, close), end: close + 1 }
}

function skipSpaces(s: string, pos: number): number {
  while (s.charCodeAt(pos) === SPACE) pos++
  return pos
}

function readDigits(s: string, start: number, maxDigits: number): { value: number; end: number } | null {
  let end = start
  while (end < s.length && end - start < maxDigits && s.charCodeAt(end) >= 0x30 && s.charCodeAt(end) <= 0x39) end++
  return end === start ? null : { value: Number(s.slice(start, end)), end }
}

function startsWithApacheTime(m: string): boolean {
  return m.charCodeAt(0) === LBRACKET && m.charCodeAt(4) === SPACE && m.charCodeAt(8) === SPACE && m.charCodeAt(11) === SPACE
}

function startsWithNginxTime(m: string): boolean {
  return m.charCodeAt(4) === 0x2f && m.charCodeAt(7) === 0x2f && m.charCodeAt(10) === SPACE && m.charCodeAt(19) === SPACE && m.charCodeAt(20) === LBRACKET
}
