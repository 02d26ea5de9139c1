import { isIP } from 'node:net'
import type { EventOutcome, ParsedFields } from '../ecs-event.ts'
import type { FamilyParser } from './family-parser.ts'

/** What the access-log parser fills in; the caller adds @timestamp, message and the envelope's fields. */
export type WebAccessFields = Pick<ParsedFields, 'event' | 'source' | 'destination' | 'user' | 'url' | 'http' | 'user_agent'>

/** Programs that log access lines through syslog. */
export const WEB_PROGRAMS: ReadonlySet<string> = new Set(['nginx', 'apache2', 'apache', 'httpd'])

const SPACE = 0x20
const QUOTE = 0x22
const BACKSLASH = 0x5c
const DASH = '-'
const DASH_CODE = 0x2d
// Apache's request line is capped at 8190 bytes by default; referrer and user agent add as much again.
const MAX_LINE_CHARS = 32768
// A host name or address is at most 255 characters (253 for DNS, plus a port).
const MAX_HOST_CHARS = 262
// Real formats add a handful of fields after the user agent; past this many, the rest is not read.
const MAX_EXTRA_FIELDS = 32

/**
 * Reads one nginx or Apache access-log line: Common or Combined Log Format, optionally after a
 * virtual host (`%v:%p ` or `%v `) and optionally followed by more fields (a request time, `%I %O`,
 * quoted headers). Returns null when the line is not in that shape. A request line that is not
 * `METHOD URI [HTTP/x.y]` (a TLS handshake sent to a plain port, `-`, empty) still makes an event,
 * without url and method.
 */
export function parseWebAccess(message: string): WebAccessFields | null {
  if (message.length > MAX_LINE_CHARS) return null
  const open = message.indexOf(' [')
  if (open <= 0) return null
  const who = readWho(message, open)
  if (who === null) return null

  // The time: `[10/Oct/2000:13:55:36 -0700]`, or whatever %{format}t wrote, without `]`.
  const close = message.indexOf(']', open + 2)
  if (close === -1 || message.charCodeAt(close + 1) !== SPACE || message.charCodeAt(close + 2) !== QUOTE) return null
  const requestEnd = closingQuote(message, close + 2, afterRequest)
  if (requestEnd === -1) return null
  const request = unescape(message.slice(close + 3, requestEnd))

  let pos = requestEnd + 2
  const statusEnd = tokenEnd(message, pos)
  const status = message.slice(pos, statusEnd)
  if (status !== DASH && !isDigits(status, 3, 3)) return null
  pos = statusEnd + 1
  const bytesEnd = tokenEnd(message, pos)
  const bytes = message.slice(pos, bytesEnd)
  if (bytes !== DASH && !isDigits(bytes, 1, 15)) return null
  pos = bytesEnd

  let referrer: string | undefined
  let agent: string | undefined
  if (message.charCodeAt(pos) === SPACE && message.charCodeAt(pos + 1) === QUOTE) {
    const end = closingQuote(message, pos + 1, afterReferrer)
    if (end === -1) return null
    referrer = unescape(message.slice(pos + 2, end))
    pos = end + 1
    if (message.charCodeAt(pos) === SPACE && message.charCodeAt(pos + 1) === QUOTE) {
      const uaEnd = closingQuote(message, pos + 1, afterField)
      if (uaEnd === -1) return null
      agent = unescape(message.slice(pos + 2, uaEnd))
      pos = uaEnd + 1
    }
  }
  if (pos < message.length && message.charCodeAt(pos) !== SPACE) return null
  const extra = readExtra(message, pos)

  const code = status === DASH ? undefined : Number(status)
  const outcome: EventOutcome = code === undefined ? 'unknown' : code < 400 ? 'success' : 'failure'
  const fields: WebAccessFields = {
    event: { category: ['web'], type: ['access'], action: 'http_request', outcome, dataset: 'web.access' },
  }
  if (isIP(who.client) !== 0) fields.source = { ip: who.client }
  else if (who.client !== DASH) fields.source = { domain: who.client }
  if (extra.durationNs !== undefined) fields.event.duration = extra.durationNs
  if (who.user !== DASH && who.user !== '') fields.user = { name: who.user }
  if (who.vhost !== undefined) {
    const { host, port } = splitHostPort(who.vhost)
    if (host !== '') fields.destination = { ...(isIP(host) !== 0 ? { ip: host } : { domain: host }), ...(port !== undefined && { port }) }
  }

  const http: HttpFields = {
    response: { ...(code !== undefined && { status_code: code }), bytes: bytes === DASH ? 0 : Number(bytes) },
  }
  const httpRequest: NonNullable<HttpFields['request']> = {}
  const line = parseRequestLine(request)
  if (line !== null) {
    httpRequest.method = line.method
    if (line.version !== undefined) http.version = line.version
    const url = line.url
    const vhostDomain = fields.destination?.domain
    if (url.domain === undefined && vhostDomain) url.domain = vhostDomain
    fields.url = url
  }
  if (referrer !== undefined && referrer !== DASH && referrer !== '') httpRequest.referrer = referrer
  if (extra.requestBytes !== undefined) httpRequest.bytes = extra.requestBytes
  if (Object.keys(httpRequest).length > 0) http.request = httpRequest
  fields.http = http
  if (agent !== undefined && agent !== DASH && agent !== '') fields.user_agent = { original: agent }
  return fields
}

/**
 * The registry entry: lines that look like an access log, header-less or from nginx/Apache; from
 * another program (nginx's syslog `tag=nginx_access`, an rsyslog imfile Tag, a proxy writing the
 * combined format) only when they parse, so that a line that merely looks alike stays generic.
 */
export const webAccessParser: FamilyParser = {
  family: 'web',
  claims: (input) => {
    if (input.zeek !== null || !looksLikeAccessLog(input.message)) return false
    return input.appName === null || WEB_PROGRAMS.has(input.appName) || parseWebAccess(input.message) !== null
  },
  parse: (input) => parseWebAccess(input.message),
  eventTime: (input) => webAccessTimestamp(input.message),
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const ACCESS_TIME = /\[(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? ([+-])(\d{2})(\d{2})\]/y

/**
 * The time of an access-log line (`[10/Oct/2000:13:55:36 -0700]`, the first ` [` of the line), in
 * ms since the epoch, or null when the line has none or it is not a real date.
 */
export function webAccessTimestamp(line: string): number | null {
  const open = line.indexOf(' [')
  if (open <= 0) return null
  ACCESS_TIME.lastIndex = open + 1
  const m = ACCESS_TIME.exec(line)
  if (m === null) return null
  const month = MONTHS.indexOf(m[2]!)
  if (month === -1) return null
  const [day, year, hour, minute, second] = [m[1], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number]
  const ms = m[7] === undefined ? 0 : Math.floor(Number(m[7].padEnd(6, '0')) / 1000)
  const utc = Date.UTC(year, month, day, hour, minute, second, ms)
  const check = new Date(utc)
  if (check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 60) return null
  const offset = (Number(m[9]) * 60 + Number(m[10])) * 60_000
  return m[8] === '+' ? utc - offset : utc + offset
}

/**
 * The cheap claim check: a first word that can be a host or address (and not a syslog TAG, which
 * ends in `:`), then somewhere `] "`, the end of the time and the start of the request.
 */
function looksLikeAccessLog(message: string): boolean {
  const limit = Math.min(message.length, MAX_HOST_CHARS)
  let i = 0
  for (; i < limit; i++) {
    const c = message.charCodeAt(i)
    if (c === SPACE) break
    if (!isHostChar(c)) return false
  }
  if (i === 0 || i === limit || message.charCodeAt(i - 1) === 0x3a) return false
  return message.indexOf('] "', i) !== -1
}

/** `client ident user` or `vhost client ident user` before `end`; ident is `-` on every server we know of, which tells them apart. */
function readWho(message: string, end: number): { vhost?: string; client: string; user: string } | null {
  const s1 = message.indexOf(' ')
  const s2 = s1 === -1 ? -1 : message.indexOf(' ', s1 + 1)
  if (s1 <= 0 || s2 === -1 || s2 >= end) return null
  const s3 = message.indexOf(' ', s2 + 1)
  const identIsDash = s2 === s1 + 2 && message.charCodeAt(s1 + 1) === DASH_CODE
  if (identIsDash || s3 === -1 || s3 >= end) return { client: message.slice(0, s1), user: message.slice(s2 + 1, end) }
  const s4 = message.indexOf(' ', s3 + 1)
  const secondIsDash = s3 === s2 + 2 && message.charCodeAt(s2 + 1) === DASH_CODE
  if (secondIsDash || s4 === -1 || s4 >= end) return { vhost: message.slice(0, s1), client: message.slice(s1 + 1, s2), user: message.slice(s3 + 1, end) }
  return null
}

/** What may follow the closing quote of each quoted field; how an unescaped `"` inside it is told from the end. */
type After = (s: string, i: number) => boolean
const afterRequest: After = (s, i) => s.charCodeAt(i) === SPACE && (isDigitAt(s, i + 1) || s.charCodeAt(i + 1) === 0x2d)
const afterReferrer: After = (s, i) => i === s.length || (s.charCodeAt(i) === SPACE && s.charCodeAt(i + 1) === QUOTE)
const afterField: After = (s, i) => i === s.length || s.charCodeAt(i) === SPACE

/**
 * The index of the `"` that closes the quoted field opening at `open`. Apache (2.0.46+) and nginx
 * escape `"` inside fields; older Apache did not, so a quote also has to be followed by what comes
 * after the field to count as its end.
 */
function closingQuote(s: string, open: number, after: After): number {
  for (let i = s.indexOf('"', open + 1); i !== -1; i = s.indexOf('"', i + 1)) {
    // Escaped when an odd number of backslashes precede it (`\\"` is an escaped backslash, then the end).
    let backslashes = 0
    while (i - backslashes - 1 > open && s.charCodeAt(i - backslashes - 1) === BACKSLASH) backslashes++
    if (backslashes % 2 === 0 && after(s, i + 1)) return i
  }
  return -1
}

/** Apache writes `\"` and `\\`; `\xHH` (nginx's and Apache's form for other bytes) is kept as written. */
function unescape(s: string): string {
  if (!s.includes('\\')) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    const next = s[i + 1]
    if (c === '\\' && (next === '"' || next === '\\')) {
      out += next
      i++
    } else {
      out += c
    }
  }
  return out
}

type UrlFields = NonNullable<WebAccessFields['url']>
type HttpFields = NonNullable<WebAccessFields['http']>

/**
 * An HTTP request line, `METHOD URI [HTTP/x.y]`, as its method, version and URL fields; null when
 * the method is not a token (a binary handshake, `-`, an empty line).
 */
export function parseRequestLine(request: string): { method: string; version?: string; url: UrlFields } | null {
  const space = request.indexOf(' ')
  if (space <= 0) return null
  const method = request.slice(0, space)
  if (!isMethod(method)) return null
  const last = request.lastIndexOf(' ')
  if (last > space && request.startsWith('HTTP/', last + 1)) {
    const uri = request.slice(space + 1, last)
    return uri === '' ? null : { method, version: request.slice(last + 6), url: readUrl(uri, method) }
  }
  const uri = request.slice(space + 1)
  return uri === '' ? null : { method, url: readUrl(uri, method) }
}

/** Origin form (`/p?q`), absolute form (`http://host/p?q`, proxy requests) or CONNECT's authority form (`host:port`). */
function readUrl(uri: string, method: string): UrlFields {
  const url: UrlFields = { original: uri }
  if (method === 'CONNECT') {
    const { host } = splitHostPort(uri)
    if (host !== '') url.domain = host
    return url
  }
  let rest = uri
  const scheme = uri.indexOf('://')
  if (scheme > 0 && scheme < 16 && uri.charCodeAt(0) !== 0x2f) {
    const authorityStart = scheme + 3
    let authorityEnd = authorityStart
    while (authorityEnd < uri.length && !'/?#'.includes(uri[authorityEnd]!)) authorityEnd++
    const authority = uri.slice(authorityStart, authorityEnd)
    const host = splitHostPort(authority.slice(authority.lastIndexOf('@') + 1)).host
    if (host !== '') url.domain = host
    rest = uri.slice(authorityEnd)
    if (rest === '') return url
  }
  const q = rest.indexOf('?')
  url.path = q === -1 ? rest : rest.slice(0, q)
  if (q !== -1 && q < rest.length - 1) url.query = rest.slice(q + 1)
  return url
}

/**
 * The fields after the user agent. Their meaning depends on the LogFormat, which the line does not
 * carry, so this reads the common ones: a decimal number is nginx's `$request_time` (seconds); a
 * lone integer is Apache's `%D` (microseconds, far more common than `%T`); two integers are
 * `%I %O` (combinedio). `rt=` and `request_time=` are nginx seconds by name.
 */
function readExtra(s: string, pos: number): { durationNs?: number; requestBytes?: number } {
  let seconds: string | undefined
  let firstInteger: string | undefined
  let integers = 0
  for (let fields = 0; pos < s.length && fields < MAX_EXTRA_FIELDS; fields++) {
    while (s.charCodeAt(pos) === SPACE) pos++
    if (pos >= s.length) break
    if (s.charCodeAt(pos) === QUOTE) {
      const end = closingQuote(s, pos, afterField)
      if (end === -1) break
      pos = end + 1
      continue
    }
    const end = tokenEnd(s, pos)
    let value = s.slice(pos, end)
    const eq = value.indexOf('=')
    if (eq !== -1) {
      const key = value.slice(0, eq)
      value = key === 'rt' || key === 'request_time' ? value.slice(eq + 1) : ''
      if (seconds === undefined && isDecimal(value)) seconds = value
    } else if (seconds === undefined && isDecimal(value) && value.includes('.')) {
      seconds = value
    } else if (isDigits(value, 1, 15)) {
      firstInteger ??= value
      integers++
    }
    pos = end
  }
  // Avro longs travel as JS numbers: a duration past 2^53 ns (104 days) is not a real one.
  const durationNs = seconds !== undefined ? Math.round(Number(seconds) * 1e9) : integers === 1 ? Number(firstInteger) * 1000 : undefined
  if (durationNs !== undefined) return Number.isSafeInteger(durationNs) ? { durationNs } : {}
  if (integers === 2) return { requestBytes: Number(firstInteger) }
  return {}
}

/** `host`, `host:port`, `[v6]:port` or a bare IPv6 address. */
export function splitHostPort(s: string): { host: string; port?: number } {
  if (s.charCodeAt(0) === 0x5b) {
    const close = s.indexOf(']')
    if (close === -1) return { host: s }
    const host = s.slice(1, close)
    const port = s.charCodeAt(close + 1) === 0x3a ? s.slice(close + 2) : ''
    return isDigits(port, 1, 5) ? { host, port: Number(port) } : { host }
  }
  const colon = s.lastIndexOf(':')
  if (colon === -1 || s.indexOf(':') !== colon) return { host: s }
  const port = s.slice(colon + 1)
  return isDigits(port, 1, 5) ? { host: s.slice(0, colon), port: Number(port) } : { host: s }
}

function tokenEnd(s: string, pos: number): number {
  const end = s.indexOf(' ', pos)
  return end === -1 ? s.length : end
}

// RFC 9110 token characters, as methods are; scanners' binary handshakes fail here.
function isMethod(s: string): boolean {
  if (s.length > 32) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2e)) return false
  }
  return true
}

function isHostChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x3a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x5b || c === 0x5d || c === 0x25
}

function isDigitAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i)
  return c >= 0x30 && c <= 0x39
}

function isDigits(s: string, min: number, max: number): boolean {
  if (s.length < min || s.length > max) return false
  for (let i = 0; i < s.length; i++) if (!isDigitAt(s, i)) return false
  return true
}

function isDecimal(s: string): boolean {
  const dot = s.indexOf('.')
  if (dot === -1) return isDigits(s, 1, 15)
  return isDigits(s.slice(0, dot), 1, 9) && isDigits(s.slice(dot + 1), 1, 9)
}
