import { isIP } from 'node:net'
import type { EcsEvent } from '@vigil/schemas'
import type { EventOutcome, ParsedFields } from '../ecs-event.ts'
import type { ParserInput } from './family-parser.ts'

/** What the Zeek parser fills in; the caller adds @timestamp (see `zeekTimestamp`), message (see `zeekMessage`), kind, module and original. */
export type ZeekFields = ParsedFields

/** Logs Zeek and its common packages write. A JSON line wrapped in one of these names (`{"conn": {...}}`) is Zeek's. */
export const ZEEK_LOGS: ReadonlySet<string> = new Set([
  'conn', 'dns', 'http', 'ssh', 'ssl', 'notice', 'weird', 'files', 'x509', 'dpd', 'ftp', 'smtp', 'pop3', 'imap', 'irc',
  'smb_files', 'smb_mapping', 'smb_cmd', 'dce_rpc', 'kerberos', 'ntlm', 'rdp', 'rfb', 'sip', 'snmp', 'ntp', 'modbus',
  'dnp3', 'mysql', 'radius', 'tunnel', 'software', 'known_hosts', 'known_services', 'known_certs', 'known_modbus', 'pe',
  'ocsp', 'syslog', 'dhcp', 'socks', 'ldap', 'ldap_search', 'analyzer', 'quic', 'websocket', 'mqtt_connect',
  'mqtt_publish', 'mqtt_subscribe', 'intel', 'signatures', 'traceroute', 'notice_alarm', 'netcontrol', 'openflow',
  'capture_loss', 'stats', 'loaded_scripts', 'packet_filter', 'reporter', 'cluster', 'broker', 'print', 'telemetry',
  'conn_long', 'unknown_protocols',
])

/** One Zeek record, whatever its encoding; every getter returns null for an unset, absent or ill-typed field. */
interface ZeekRecord {
  log: string
  str(name: string): string | null
  num(name: string): number | null
  bool(name: string): boolean | null
  list(name: string): string[] | null
  /** `ts` in epoch ms */
  time(name: string): number | null
}

// A log name from the wire: letters, digits, `_`, `-` and `.`; anything else is not a Zeek path.
const LOG_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/
// `{"conn": {` at the start of the line: Zeek's Kafka writer with tag_json.
const WRAPPER = /^\s*\{\s*"([a-z0-9_]{1,40})"\s*:\s*\{/

/**
 * Whether the line is Zeek output: the ingestor said so (it came with Zeek context), or its message
 * is a JSON object with a `_path` field or a single key naming a known Zeek log.
 */
export function claimsZeek(input: ParserInput): boolean {
  if (input.zeek !== null) return true
  const text = input.message
  if (text.length < 2 || text.charCodeAt(0) !== 0x7b) return false
  if (!text.includes('"_path"') && !WRAPPER.test(text)) return false
  return recordOf(input) !== null
}

/**
 * Reads one Zeek record (TSV with its header's field names, or JSON) into ECS fields: source and
 * destination from `id.*`, the network, and per log the DNS question, HTTP request, SSH outcome,
 * TLS session, notice or weird. Any other log becomes a generic `zeek_<log>` event with the common
 * fields. Returns null for a line it cannot read (a TSV line whose field count does not match its
 * header, JSON that is not an object, a known log without the fields that make it one). Never throws.
 */
export function parseZeek(input: ParserInput): ZeekFields | null {
  const r = recordOf(input)
  if (r === null) return null
  switch (r.log) {
    case 'conn': return conn(r)
    case 'dns': return dns(r)
    case 'http': return http(r)
    case 'ssh': return ssh(r)
    case 'ssl': return ssl(r)
    case 'notice': return notice(r)
    case 'weird': return weird(r)
    default: return generic(r)
  }
}

/** The record's `ts` in epoch ms, or null when the line has none (or is not a Zeek record). */
export function zeekTimestamp(input: ParserInput): number | null {
  const ts = recordOf(input)?.time('ts') ?? null
  return ts === null ? null : Math.floor(ts)
}

/**
 * A readable message for logs whose text is worth more than the raw line: a notice's `msg`, a
 * weird's name and detail, an SSH session's client and server versions. Null for other logs.
 */
export function zeekMessage(input: ParserInput): string | null {
  const r = recordOf(input)
  if (r === null) return null
  if (r.log === 'notice') return r.str('msg') || null
  if (r.log === 'weird') {
    const name = r.str('name')
    const addl = r.str('addl')
    return !name ? null : addl ? `${name}: ${addl}` : name
  }
  if (r.log === 'ssh') {
    const parts = [['client', r.str('client')], ['server', r.str('server')]].filter(([, v]) => v).map(([k, v]) => `${k} ${v}`)
    return parts.length > 0 ? `SSH ${parts.join(', ')}` : null
  }
  return null
}

// Logs

function conn(r: ZeekRecord): ZeekFields | null {
  const fields = base(r, ['network'], ['connection'], { needsConnection: true })
  if (fields === null) return null
  const state = r.str('conn_state')
  fields.event.outcome = connOutcome(state)
  const duration = nanoseconds(r.num('duration'))
  if (duration !== null) fields.event.duration = duration

  // IP-level bytes, headers included: the unit of firewall LEN in network.bytes, and the count Zeek
  // writes for every connection. The payload count (orig_bytes) is unset for single-packet ones,
  // so it is no fallback either way: a missing count leaves the field unset rather than switching units.
  const orig = r.num('orig_ip_bytes')
  const resp = r.num('resp_ip_bytes')
  const origPkts = r.num('orig_pkts')
  const respPkts = r.num('resp_pkts')
  Object.assign(fields.source!, defined({ bytes: count(orig), packets: count(origPkts) }))
  Object.assign(fields.destination!, defined({ bytes: count(resp), packets: count(respPkts) }))

  const service = r.str('service')
  const network = fields.network ?? {}
  Object.assign(network, defined({
    protocol: service ? service.toLowerCase() : null,
    bytes: sum(count(orig), count(resp)),
    packets: sum(count(origPkts), count(respPkts)),
    direction: direction(r.bool('local_orig'), r.bool('local_resp')),
    community_id: r.str('community_id'),
  }))
  if (Object.keys(network).length > 0) fields.network = network
  // The payload counts stay with the record's other Zeek detail, for rules written on Zeek's names.
  Object.assign(fields.zeek!, defined({ conn_state: state, history: r.str('history'), service, orig_bytes: count(r.num('orig_bytes')), resp_bytes: count(r.num('resp_bytes')) }))
  return fields
}

function dns(r: ZeekRecord): ZeekFields | null {
  const fields = base(r, ['network'], ['protocol'], { needsConnection: true, protocol: 'dns' })
  if (fields === null) return null
  const rcode = r.str('rcode_name')
  fields.event.outcome = rcode === null ? 'unknown' : rcode === 'NOERROR' ? 'success' : 'failure'
  const question = defined({ name: r.str('query'), type: r.str('qtype_name') })
  fields.dns = {
    ...(Object.keys(question).length > 0 && { question }),
    ...(rcode !== null && { response_code: rcode }),
    answers: r.list('answers') ?? [],
  }
  const rtt = nanoseconds(r.num('rtt'))
  if (rtt !== null) fields.event.duration = rtt
  return fields
}

function http(r: ZeekRecord): ZeekFields | null {
  const fields = base(r, ['web'], ['access'], { needsConnection: true, protocol: 'http', transport: 'tcp' })
  if (fields === null) return null
  const status = r.num('status_code')
  const statusCode = status !== null && Number.isInteger(status) && status >= 0 && status <= 999 ? status : null
  fields.event.outcome = statusCode === null || statusCode < 100 ? 'unknown' : statusCode >= 400 ? 'failure' : 'success'

  const host = r.str('host')
  const uri = r.str('uri')
  const url = { ...(uri && { original: uri, ...splitUri(uri) }), ...(host && { domain: hostWithoutPort(host) }) }
  if (Object.keys(url).length > 0) fields.url = url

  const request = defined({ method: r.str('method'), bytes: count(r.num('request_body_len')), referrer: r.str('referrer') })
  const response = defined({ status_code: statusCode, bytes: count(r.num('response_body_len')) })
  const version = r.str('version')
  const httpFields: NonNullable<EcsEvent['http']> = {
    ...(version && { version }),
    ...(Object.keys(request).length > 0 && { request }),
    ...(Object.keys(response).length > 0 && { response }),
  }
  if (Object.keys(httpFields).length > 0) fields.http = httpFields
  const agent = r.str('user_agent')
  if (agent) fields.user_agent = { original: agent }
  const user = r.str('username')
  if (user) {
    fields.user = { name: user }
    fields.related = { ...fields.related, user: [user] }
  }
  return fields
}

function ssh(r: ZeekRecord): ZeekFields | null {
  const fields = base(r, ['authentication'], ['info'], { needsConnection: true, protocol: 'ssh', transport: 'tcp' })
  if (fields === null) return null
  const success = r.bool('auth_success')
  fields.event.outcome = success === null ? 'unknown' : success ? 'success' : 'failure'
  const attempts = count(r.num('auth_attempts'))
  if (attempts !== null && attempts <= 0x7fffffff) fields.ssh = { attempts }
  const dir = r.str('direction')?.toLowerCase()
  if (dir === 'inbound' || dir === 'outbound') fields.network = { ...fields.network, direction: dir }
  return fields
}

function ssl(r: ZeekRecord): ZeekFields | null {
  const fields = base(r, ['network'], ['protocol'], { needsConnection: true, protocol: 'ssl', transport: 'tcp' })
  if (fields === null) return null
  const established = r.bool('established')
  fields.event.outcome = established === null ? 'unknown' : established ? 'success' : 'failure'
  const serverName = r.str('server_name')
  const tls = defined({ version: tlsVersion(r.str('version')), cipher: r.str('cipher'), established })
  if (serverName) Object.assign(tls, { server: { name: serverName } })
  if (Object.keys(tls).length > 0) fields.tls = tls
  return fields
}

function notice(r: ZeekRecord): ZeekFields | null {
  const note = r.str('note')
  if (!note) return null
  const fields = base(r, ['intrusion_detection'], ['info'], { needsConnection: false })!
  // The script that raised the notice names its actor in src (and what it acted on in dst), with or
  // without a connection: a notice about a host (a scan) has no id.*, and one about a connection may
  // name its responder (a signature matched in the responder's payload). The connection's orig
  // comes second.
  const source = endpoint(r.str('src'), null)
  if (source && (!fields.source || (source.ip && source.ip !== fields.source.ip))) fields.source = source
  const destination = endpoint(r.str('dst'), r.num('p'))
  if (destination && (!fields.destination || (destination.ip && destination.ip !== fields.destination.ip))) fields.destination = destination
  fields.related = relatedOf(fields)
  fields.zeek!.note = note
  fields.rule = { name: note }
  return fields
}

function weird(r: ZeekRecord): ZeekFields | null {
  const name = r.str('name')
  if (!name) return null
  const fields = base(r, ['intrusion_detection'], ['info'], { needsConnection: false })!
  fields.zeek!.name = name
  return fields
}

const FILE_LOGS = new Set(['files', 'pe', 'x509', 'smb_files', 'ocsp', 'known_certs'])
const DETECTION_LOGS = new Set(['intel', 'signatures', 'notice_alarm'])

function generic(r: ZeekRecord): ZeekFields {
  const category = FILE_LOGS.has(r.log) ? ['file'] : DETECTION_LOGS.has(r.log) ? ['intrusion_detection'] : []
  const fields = base(r, category, ['info'], { needsConnection: false })!
  if (r.log === 'files') {
    // A file has no connection of its own: it went from the hosts that sent it to those that got it.
    const source = endpoint(r.list('tx_hosts')?.[0] ?? null, null)
    const destination = endpoint(r.list('rx_hosts')?.[0] ?? null, null)
    if (source) fields.source = source
    if (destination) fields.destination = destination
    if (source || destination) fields.related = relatedOf(fields)
  }
  if (category.length === 0 && (fields.source || fields.destination)) fields.event.category = ['network']
  return fields
}

// The common part: event, endpoints, transport, uid

function base(
  r: ZeekRecord, category: string[], type: string[], options: { needsConnection: boolean; protocol?: string; transport?: string },
): ZeekFields | null {
  const source = endpoint(r.str('id.orig_h'), r.num('id.orig_p'))
  const destination = endpoint(r.str('id.resp_h'), r.num('id.resp_p'))
  if (options.needsConnection && (source?.ip == null || destination?.ip == null)) return null
  const fields: ZeekFields = {
    event: { category, type, action: `zeek_${r.log}`, outcome: 'unknown', dataset: `zeek.${r.log}` },
  }
  if (source) fields.source = source
  if (destination) fields.destination = destination
  const network = defined({ transport: r.str('proto')?.toLowerCase() ?? options.transport ?? null, protocol: options.protocol ?? null })
  if (Object.keys(network).length > 0) fields.network = network
  fields.zeek = { log: r.log, ...defined({ uid: r.str('uid') }) }
  const related = relatedOf(fields)
  if (related.ip!.length > 0) fields.related = related
  return fields
}

function endpoint(ip: string | null, port: number | null): { ip?: string; port?: number } | null {
  const out: { ip?: string; port?: number } = {}
  // Zeek's addr fields are addresses; anything else is garbage, and must not become an entity.
  if (ip && isIP(ip) !== 0) out.ip = ip
  if (port !== null && Number.isInteger(port) && port >= 0 && port <= 65535) out.port = port
  return Object.keys(out).length > 0 ? out : null
}

function relatedOf(fields: ZeekFields): NonNullable<EcsEvent['related']> {
  const ips = [fields.source?.ip, fields.destination?.ip].filter((ip): ip is string => typeof ip === 'string')
  return { ...fields.related, ip: [...new Set(ips)] }
}

const CONN_SUCCESS = new Set(['SF', 'S1', 'S2', 'S3', 'RSTO', 'RSTR'])
const CONN_FAILURE = new Set(['S0', 'REJ', 'RSTOS0', 'SH'])

/** Established connections succeeded; attempts that got no answer or were rejected failed; the rest (midstream, one side only) are unknown. */
function connOutcome(state: string | null): EventOutcome {
  if (state === null) return 'unknown'
  if (CONN_SUCCESS.has(state)) return 'success'
  if (CONN_FAILURE.has(state)) return 'failure'
  return 'unknown'
}

function direction(localOrig: boolean | null, localResp: boolean | null): string | null {
  if (localOrig === null || localResp === null) return null
  if (localOrig) return localResp ? 'internal' : 'outbound'
  return localResp ? 'inbound' : 'external'
}

// Zeek writes TLSv12, SSLv3, DTLSv12; ECS wants the number: 1.2, 3.0, 1.2.
function tlsVersion(version: string | null): string | null {
  if (version === null) return null
  const m = /^(?:TLS|SSL|DTLS)v(\d)(\d)?$/.exec(version)
  return m === null ? version : `${m[1]}.${m[2] ?? '0'}`
}

function splitUri(uri: string): { path?: string; query?: string } {
  let rest = uri
  if (!uri.startsWith('/')) {
    // Proxied requests carry an absolute URI; CONNECT carries host:port, which has no path.
    const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(uri)
    if (scheme === null) return {}
    rest = uri.slice(scheme[0].length) || '/'
  }
  const hash = rest.indexOf('#')
  if (hash !== -1) rest = rest.slice(0, hash)
  const q = rest.indexOf('?')
  if (q === -1) return { path: rest }
  const query = rest.slice(q + 1)
  return { path: rest.slice(0, q), ...(query !== '' && { query }) }
}

function hostWithoutPort(host: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host)
  if (bracketed) return bracketed[1]!
  const m = /^([^:]+):\d+$/.exec(host)
  return m ? m[1]! : host
}

function nanoseconds(seconds: number | null): number | null {
  if (seconds === null || seconds < 0) return null
  const ns = Math.round(seconds * 1e9)
  return Number.isSafeInteger(ns) ? ns : null
}

function count(n: number | null): number | null {
  return n !== null && Number.isSafeInteger(n) && n >= 0 ? n : null
}

function sum(a: number | null, b: number | null): number | null {
  if (a === null && b === null) return null
  const total = (a ?? 0) + (b ?? 0)
  return Number.isSafeInteger(total) ? total : null
}

/** The entries whose value is set: not null, and not an empty string (Zeek's `(empty)`). */
function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], null> } {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined && v !== '') out[k] = v
  return out as { [K in keyof T]?: Exclude<T[K], null> }
}

// Decoding: TSV against the header's field names, or JSON

// claims, parse, zeekTimestamp and zeekMessage see the same line in turn: decode it once.
let last: { line: string; log: string | null; fields: string[] | null; record: ZeekRecord | null } | null = null

function recordOf(input: ParserInput): ZeekRecord | null {
  const line = input.zeek !== null ? input.line : input.message
  const log = input.zeek?.log ?? null
  const fields = input.zeek?.fields ?? null
  if (last !== null && last.line === line && last.log === log && last.fields === fields) return last.record
  const record = decode(line, log, fields)
  last = { line, log, fields, record }
  return record
}

function decode(line: string, log: string | null, fields: string[] | null): ZeekRecord | null {
  if (fields !== null) return log !== null && LOG_NAME.test(log) ? tsvRecord(line, log, fields) : null
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return null
  }
  if (!isObject(value)) return null
  const keys = Object.keys(value)
  const wrapped = keys.length === 1 && isObject(value[keys[0]!]) && (ZEEK_LOGS.has(keys[0]!) || keys[0] === log) ? keys[0]! : null
  const object = wrapped !== null ? value[wrapped] as Record<string, unknown> : value
  const path = typeof object._path === 'string' ? object._path : null
  const name = log ?? path ?? wrapped
  return name !== null && LOG_NAME.test(name) ? jsonRecord(object, name) : null
}

const TAB = '\t'
const UNSET = '-'
const EMPTY = '(empty)'
const SET_SEPARATOR = ','

function tsvRecord(line: string, log: string, fields: string[]): ZeekRecord | null {
  const values = line.split(TAB)
  if (fields.length === 0 || values.length !== fields.length) return null
  const raw = (name: string): string | null => {
    const i = fields.indexOf(name)
    const v = i === -1 ? undefined : values[i]
    return v === undefined || v === UNSET ? null : v
  }
  const str = (name: string) => {
    const v = raw(name)
    return v === null ? null : v === EMPTY ? '' : unescapeZeek(v)
  }
  return {
    log,
    str,
    num: (name) => toNumber(raw(name)),
    bool: (name) => toBool(raw(name)),
    list: (name) => {
      const v = raw(name)
      if (v === null) return null
      return v === EMPTY || v === '' ? [] : v.split(SET_SEPARATOR).map(unescapeZeek)
    },
    time: (name) => {
      const s = toNumber(raw(name))
      return s === null ? null : secondsToMs(s)
    },
  }
}

function jsonRecord(object: Record<string, unknown>, log: string): ZeekRecord {
  const get = (name: string): unknown => {
    if (Object.hasOwn(object, name)) return object[name]
    // Some shippers nest records (`"id": {"orig_h": ...}`) instead of Zeek's dotted names.
    let node: unknown = object
    for (const part of name.split('.')) {
      if (!isObject(node) || !Object.hasOwn(node, part)) return undefined
      node = node[part]
    }
    return node
  }
  return {
    log,
    str: (name) => {
      const v = get(name)
      return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null
    },
    num: (name) => {
      const v = get(name)
      return typeof v === 'number' ? (Number.isFinite(v) ? v : null) : typeof v === 'string' ? toNumber(v) : null
    },
    bool: (name) => {
      const v = get(name)
      return typeof v === 'boolean' ? v : typeof v === 'string' ? toBool(v) : null
    },
    list: (name) => {
      const v = get(name)
      if (Array.isArray(v)) return v.filter((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean').map(String)
      return typeof v === 'string' ? [v] : null
    },
    time: (name) => {
      const v = get(name)
      if (typeof v === 'number') return Number.isFinite(v) ? secondsToMs(v) : null
      if (typeof v !== 'string') return null
      // json-streaming-logs writes ISO 8601; plain Zeek JSON writes epoch seconds.
      const seconds = toNumber(v)
      if (seconds !== null) return secondsToMs(seconds)
      const ms = Date.parse(v)
      return Number.isFinite(ms) ? ms : null
    },
  }
}

const NUMBER = /^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/

function toNumber(v: string | null): number | null {
  if (v === null || v.length > 40 || !NUMBER.test(v)) return null
  const n = Number(v)
  return Number.isFinite(n) ? n : null
}

function toBool(v: string | null): boolean | null {
  if (v === 'T' || v === 'true') return true
  if (v === 'F' || v === 'false') return false
  return null
}

// Beyond this (year 275760) a Date cannot hold the time; such a `ts` is garbage, not a time.
const MAX_MS = 8.64e15

function secondsToMs(seconds: number): number | null {
  const ms = seconds * 1000
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_MS ? ms : null
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

const ESCAPE = /\\x([0-9a-fA-F]{2})/g
const utf8 = new TextDecoder('utf-8')

/** Zeek's ASCII writer writes the separator and unprintable bytes as `\xNN`; this restores them (bytes as UTF-8). */
function unescapeZeek(s: string): string {
  if (!s.includes('\\x')) return s
  const parts: Buffer[] = []
  let from = 0
  for (const m of s.matchAll(ESCAPE)) {
    parts.push(Buffer.from(s.slice(from, m.index), 'utf8'), Buffer.of(parseInt(m[1]!, 16)))
    from = m.index + m[0].length
  }
  parts.push(Buffer.from(s.slice(from), 'utf8'))
  return utf8.decode(Buffer.concat(parts))
}
