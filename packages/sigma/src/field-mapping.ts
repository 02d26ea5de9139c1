// The one place where Sigma's taxonomy meets our events (what pySigma calls a processing pipeline):
// which Sigma logsources each kind of event serves, and where each Sigma field is read from.
import type { EcsEvent } from '@vigil/schemas'
import type { Logsource } from './rule-model.ts'
import { ANOMALY_FAMILY, type SigmaEvent } from './sigma-event.ts'

/** A field's value in an event: absent (undefined or null), a scalar, or a list (any element may match). */
export type FieldValue = string | number | boolean | null | undefined | readonly (string | number)[]
export type FieldReader = (event: SigmaEvent) => FieldValue

/**
 * One kind of event: its key (which also keys the rule index), the Sigma logsource it serves, and
 * the Sigma fields it can answer. A rule applies to a source when each of the rule's product,
 * category and service is absent or among the source's.
 */
export interface EventSource {
  key: string
  product: string | null
  categories: readonly string[]
  services: readonly string[]
  /** how to read a Sigma field here, or null when these events have no such field */
  reader(field: string): FieldReader | null
  /** fields read only from the original line (Zeek JSON): absent in events whose line is TSV */
  rawOnly(field: string): boolean
}

/** The text keywords (search identifiers without fields) are looked for in: the whole original line. */
export function keywordText(event: SigmaEvent): string {
  return event.event.event.original
}

/** Whether a rule with this logsource applies to events of this source. */
export function servesLogsource(source: EventSource, logsource: Logsource): boolean {
  if (logsource.product !== undefined && logsource.product !== source.product) return false
  if (logsource.category !== undefined && !source.categories.includes(logsource.category)) return false
  if (logsource.service !== undefined && !source.services.includes(logsource.service)) return false
  return true
}

// ------------------------------------------------------------------------------ field readers

const path = (p: string): FieldReader => {
  const parts = p.split('.')
  return (e) => {
    let node: unknown = e.event
    for (const part of parts) {
      if (node === null || node === undefined || typeof node !== 'object') return undefined
      node = (node as Record<string, unknown>)[part]
    }
    return node as FieldValue
  }
}

/** `ext` of the URL path's last segment, without the dot (Sigma's c-uri-extension). */
const uriExtension: FieldReader = (e) => {
  const p = e.event.url?.path
  if (!p) return undefined
  const last = p.slice(p.lastIndexOf('/') + 1)
  const dot = last.lastIndexOf('.')
  return dot === -1 || dot === last.length - 1 ? undefined : last.slice(dot + 1)
}

const sourceIpOrName: FieldReader = (e) => e.event.source?.ip ?? e.event.source?.domain
const hostHeader: FieldReader = (e) => e.event.url?.domain ?? e.event.destination?.domain

// Top-level ECS groups: a rule may name any ECS path (`source.ip`, `event.action`) directly.
const ECS_GROUPS: ReadonlySet<string> = new Set([
  'event', 'source', 'destination', 'user', 'host', 'process', 'network', 'url', 'http', 'user_agent', 'dns', 'tls',
  'observer', 'rule', 'log', 'ssh', 'zeek', 'related',
] satisfies (keyof EcsEvent)[])

function ecsReader(field: string): FieldReader | null {
  if (field === 'message') return (e) => e.event.message
  const dot = field.indexOf('.')
  return dot > 0 && ECS_GROUPS.has(field.slice(0, dot)) ? path(field) : null
}

// --------------------------------------------------------------------------- Sigma taxonomy

/** Web server access logs (Sigma category webserver, W3C names). */
const WEBSERVER_FIELDS: Record<string, FieldReader> = {
  'c-ip': sourceIpOrName,
  'cs-method': path('http.request.method'),
  // SigmaHQ's web rules put paths in cs-uri-query as often as query strings ('/etc/passwd',
  // '/../../'), so it is the request target as sent: path and query.
  'cs-uri-query': path('url.original'),
  'cs-uri-stem': path('url.path'),
  'cs-uri': path('url.original'),
  'c-uri': path('url.original'),
  'c-uri-query': path('url.query'),
  'c-uri-extension': uriExtension,
  'sc-status': path('http.response.status_code'),
  'cs-user-agent': path('user_agent.original'),
  'c-useragent': path('user_agent.original'),
  'cs(User-Agent)': path('user_agent.original'),
  'cs-referer': path('http.request.referrer'),
  'cs-referrer': path('http.request.referrer'),
  'cs(Referer)': path('http.request.referrer'),
  'cs-host': hostHeader,
  'cs(Host)': hostHeader,
  'cs-username': path('user.name'),
  'cs-bytes': path('http.request.bytes'),
  'sc-bytes': path('http.response.bytes'),
  'cs-version': path('http.version'),
  's-ip': path('destination.ip'),
  's-port': path('destination.port'),
}

/** Proxy logs (Sigma category proxy): here Zeek's http.log, the HTTP the sensor saw, as pySigma's Zeek pipelines map it. */
const PROXY_FIELDS: Record<string, FieldReader> = {
  ...WEBSERVER_FIELDS,
  'c-uri-stem': path('url.path'),
  'cs-uri-query': path('url.query'),
  'dst_ip': path('destination.ip'),
  'src_ip': path('source.ip'),
  'c-ip': path('source.ip'),
  'r-dns': path('url.domain'),
  'cs-mime-type': rawZeek('resp_mime_types'),
}

/** Zeek's own field names, where the featurizer normalized them; other names are read from the JSON line. */
const ZEEK_COMMON: Record<string, FieldReader> = {
  'uid': path('zeek.uid'),
  'id.orig_h': path('source.ip'),
  'id.orig_p': path('source.port'),
  'id.resp_h': path('destination.ip'),
  'id.resp_p': path('destination.port'),
  'proto': path('network.transport'),
}
const ZEEK_BY_LOG: Record<string, Record<string, FieldReader>> = {
  conn: {
    conn_state: path('zeek.conn_state'), history: path('zeek.history'), service: path('zeek.service'),
    orig_bytes: path('zeek.orig_bytes'), resp_bytes: path('zeek.resp_bytes'), orig_ip_bytes: path('source.bytes'), resp_ip_bytes: path('destination.bytes'),
    orig_pkts: path('source.packets'), resp_pkts: path('destination.packets'),
    community_id: path('network.community_id'),
  },
  dns: {
    query: path('dns.question.name'), qtype_name: path('dns.question.type'), rcode_name: path('dns.response_code'), answers: path('dns.answers'),
  },
  http: {
    method: path('http.request.method'), uri: path('url.original'), user_agent: path('user_agent.original'),
    status_code: path('http.response.status_code'), request_body_len: path('http.request.bytes'),
    response_body_len: path('http.response.bytes'), referrer: path('http.request.referrer'), username: path('user.name'),
    // The Host header as sent, port included, when the line has it; the host part otherwise.
    host: (e) => (rawZeek('host')(e) ?? e.event.url?.domain),
    'c-uri': path('url.original'), 'c-useragent': path('user_agent.original'),
  },
  ssh: { auth_attempts: path('ssh.attempts'), direction: path('network.direction') },
  ssl: { server_name: path('tls.server.name'), cipher: path('tls.cipher'), established: path('tls.established') },
  notice: { note: path('zeek.note'), msg: (e) => e.event.message },
  weird: { name: path('zeek.name') },
}

/** Linux syslog sources: sudo's fields by their names in the line, and a few conveniences. */
const LINUX_FIELDS: Record<string, FieldReader> = {
  USER: path('user.target.name'),
  COMMAND: path('process.command_line'),
  PWD: path('process.working_directory'),
  user: path('user.name'),
  pid: path('process.pid'),
  program: path('process.name'),
  hostname: path('host.name'),
}

/** ML anomalies (logsource product vigil, category anomaly). */
const ANOMALY_FIELDS: Record<string, FieldReader> = {
  score: (e) => e.anomaly?.score,
  raw_score: (e) => e.anomaly?.rawScore,
  model_version: (e) => e.anomaly?.modelVersion,
  family: (e) => e.anomaly?.family,
  action: (e) => e.event.event.action,
  'entity.kind': (e) => e.anomaly?.entity.kind,
  'entity.id': (e) => e.anomaly?.entity.id,
}

function anomalyReader(field: string): FieldReader | null {
  const own = ANOMALY_FIELDS[field]
  if (own) return own
  if (field.startsWith('features.')) {
    const name = field.slice('features.'.length)
    return (e) => e.anomaly?.features[name]
  }
  return null
}

// ---------------------------------------------------------------------------------- sources

interface SourceSpec {
  key: string
  product?: string
  categories?: string[]
  services?: string[]
  fields?: Record<string, FieldReader>
  fallback?: (field: string) => FieldReader | null
  rawOnly?: (field: string) => boolean
}

function source(spec: SourceSpec): EventSource {
  const fields = spec.fields ?? {}
  return {
    key: spec.key,
    product: spec.product ?? null,
    categories: spec.categories ?? [],
    services: spec.services ?? [],
    reader: (field) => (Object.hasOwn(fields, field) ? fields[field]! : null) ?? ecsReader(field) ?? spec.fallback?.(field) ?? null,
    rawOnly: (field) => !Object.hasOwn(fields, field) && ecsReader(field) === null && (spec.rawOnly?.(field) ?? false),
  }
}

// Programs whose syslog lines Sigma rules name as a service.
const PROGRAM_SERVICES: ReadonlyMap<string, string> = new Map([
  ['vsftpd', 'vsftpd'], ['cron', 'cron'], ['CRON', 'cron'], ['crond', 'cron'], ['clamd', 'clamav'], ['freshclam', 'clamav'],
  ['clamav-milter', 'clamav'], ['guacd', 'guacamole'], ['guacamole', 'guacamole'],
])
// Syslog facilities auth (4) and authpriv (10): what lands in auth.log.
const AUTH_FACILITIES: ReadonlySet<number> = new Set([4, 10])

/** Zeek logs with their own source (a rule's `service` can name them); every other log shares `zeek.other`. */
const ZEEK_LOG_NAMES = [
  'conn', 'dns', 'http', 'ssh', 'ssl', 'notice', 'weird', 'files', 'x509', 'smb_files', 'smb_mapping', 'dce_rpc', 'kerberos',
  'ntlm', 'rdp', 'ftp', 'smtp', 'dpd', 'software', 'syslog', 'snmp', 'sip', 'tunnel', 'pe', 'ocsp', 'known_hosts', 'known_services', 'known_certs',
]
const LISTED_ZEEK_LOGS: ReadonlySet<string> = new Set(ZEEK_LOG_NAMES)

// The log name comes from the line (Zeek's `_path`), so whoever can send a line picks it: a source
// per name would let input grow every engine without bound. A log not listed has no readers of its
// own and no rule loads for its service, so the rules that serve it are those naming no service,
// the same for every such log: one source stands for them all.
const ZEEK_OTHER = 'zeek.other'

// Zeek's names are identifiers with dots (id.orig_h); W3C names with dashes (cs-cookie) are never Zeek's.
const ZEEK_FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/

/** A listed log's source, or (null) the one every other log shares. */
function zeekSource(log: string | null): EventSource {
  const fields = log === null ? ZEEK_COMMON : { ...ZEEK_COMMON, ...ZEEK_BY_LOG[log], ...(log === 'http' ? PROXY_FIELDS : {}) }
  return source({
    key: log === null ? ZEEK_OTHER : `zeek.${log}`, product: 'zeek', services: log === null ? [] : [log], categories: log === 'http' ? ['proxy'] : [],
    fields, fallback: (field) => (ZEEK_FIELD_NAME.test(field) ? rawZeek(field) : null), rawOnly: (field) => ZEEK_FIELD_NAME.test(field),
  })
}

const linux = (key: string, services: string[], categories: string[] = []): EventSource =>
  source({ key, product: 'linux', services, categories, fields: LINUX_FIELDS })

/** Every source known at load, so rules compile once for each source they apply to. */
export const EVENT_SOURCES: readonly EventSource[] = [
  linux('sshd', ['sshd', 'auth']),
  linux('privilege.sudo', ['sudo', 'auth']),
  linux('privilege.su', ['su', 'auth']),
  linux('privilege', ['auth']),
  linux('syslog', ['syslog']),
  linux('syslog.auth', ['auth']),
  ...[...new Set(PROGRAM_SERVICES.values())].map((service) => linux(`syslog.${service}`, ['syslog', service])),
  linux('firewall', ['syslog'], ['firewall']),
  source({ key: 'web.access', categories: ['webserver'], fields: WEBSERVER_FIELDS }),
  source({ key: 'web.error.apache', services: ['apache'], fields: WEBSERVER_FIELDS }),
  source({ key: 'web.error.nginx', services: ['nginx'], fields: WEBSERVER_FIELDS }),
  ...ZEEK_LOG_NAMES.map(zeekSource),
  zeekSource(null),
  source({ key: 'anomaly', product: 'vigil', categories: ['anomaly'], fallback: anomalyReader }),
]

const byKey: ReadonlyMap<string, EventSource> = new Map(EVENT_SOURCES.map((s) => [s.key, s]))

/**
 * The source of one event, from its family and what the line says (program, facility, Zeek log,
 * dataset): always one of EVENT_SOURCES, whatever the input.
 */
export function sourceOf(e: SigmaEvent): EventSource {
  return byKey.get(sourceKeyOf(e))!
}

function sourceKeyOf(e: SigmaEvent): string {
  const ecs = e.event
  switch (e.family) {
    case 'sshd': return 'sshd'
    case 'privilege': {
      const program = ecs.process?.name
      return program === 'sudo' ? 'privilege.sudo' : program === 'su' ? 'privilege.su' : 'privilege'
    }
    case 'firewall': return 'firewall'
    case 'web':
      if (ecs.event.dataset === 'web.error') return /^\d{4}\/\d\d\/\d\d /.test(ecs.message) ? 'web.error.nginx' : 'web.error.apache'
      return 'web.access'
    case 'zeek': {
      const log = ecs.zeek?.log ?? null
      return log !== null && LISTED_ZEEK_LOGS.has(log) ? `zeek.${log}` : ZEEK_OTHER
    }
    case ANOMALY_FAMILY: return 'anomaly'
    default: {
      const program = ecs.process?.name
      const service = program ? PROGRAM_SERVICES.get(program) : undefined
      if (service) return `syslog.${service}`
      const facility = ecs.log?.syslog?.facility
      return facility !== undefined && facility !== null && AUTH_FACILITIES.has(facility) ? 'syslog.auth' : 'syslog'
    }
  }
}

// ----------------------------------------------------------------------------- raw Zeek fields

const rawRecords = new WeakMap<SigmaEvent, Record<string, unknown> | null>()

/**
 * A Zeek field the featurizer does not normalize, read from the original line when it is JSON.
 * TSV lines carry no field names in the event, so there the field is absent (see the load report).
 */
function rawZeek(field: string): FieldReader {
  return (e) => {
    let record = rawRecords.get(e)
    if (record === undefined) {
      record = parseZeekJson(e.event.event.original)
      rawRecords.set(e, record)
    }
    if (record === null) return undefined
    const v = Object.hasOwn(record, field) ? record[field] : nested(record, field)
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v
    if (Array.isArray(v)) return v.filter((x): x is string | number => typeof x === 'string' || typeof x === 'number')
    return undefined
  }
}

function parseZeekJson(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null
  try {
    const v: unknown = JSON.parse(line)
    if (!isRecord(v)) return null
    const keys = Object.keys(v)
    // Zeek's Kafka writer wraps each record: {"conn": {...}}.
    if (keys.length === 1 && isRecord(v[keys[0]!])) return v[keys[0]!] as Record<string, unknown>
    return v
  } catch {
    return null
  }
}

function nested(record: Record<string, unknown>, field: string): unknown {
  let node: unknown = record
  for (const part of field.split('.')) {
    if (!isRecord(node) || !Object.hasOwn(node, part)) return undefined
    node = node[part]
  }
  return node
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
