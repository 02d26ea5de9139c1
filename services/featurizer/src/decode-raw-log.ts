import { avroTypeOf, CodecError, topics, type Codec, type RawLog, type SyslogHeader, type ZeekContext } from '@vigil/schemas'
import { decodeLine, parseSyslog, type SyslogHeader as ParsedSyslogHeader } from '@vigil/syslog'

/**
 * Decodes one raw-logs message's bytes and headers; throws a CodecError for a message to dead-letter,
 * and lets through the codec's RegistryUnavailableError, which holds the batch.
 */
export type RawLogDecoder = (bytes: Buffer | null, headers: Record<string, string>) => Promise<RawLog>

export interface RawLogDecoderOptions {
  /** receivedAt of messages that do not carry one (ms since the epoch) */
  now?: () => number
}

const CONFLUENT_MAGIC_BYTE = 0
const TRANSPORT = 'kafka'
// RFC 3164 4.3.3: a relay gives a message without PRI the PRI 13 (facility user, severity notice).
const DEFAULT_FACILITY = 1
const DEFAULT_SEVERITY = 5
const RAW_LOG_FIELDS = new Set(['line', 'receivedAt', 'transport', 'peer', 'syslog', 'zeek'])

/**
 * The raw-logs decoder: raw-logs is written by our ingestor and also by log shippers (rsyslog's
 * omkafka, syslog-ng's kafka-c(), Vector, Fluent Bit, Zeek's Kafka writer, kcat), so each message
 * is recognised by its bytes and headers:
 * - our own records (Confluent Avro, first byte 0; or JSON whose keys are RawLog fields) decode
 *   through the codec as on every other topic, so a broken one is still a SCHEMA_MISMATCH;
 * - a shipper's JSON document becomes a RawLog whose `line` is the document, with a syslog header
 *   read from its fields or, for Zeek, the log type in `zeek`;
 * - any other text is a line, parsed as syslog even without `<PRI>` (shippers' plain templates
 *   drop it), or kept with `syslog: null` when it is not syslog at all: a generic event.
 * Only messages that are empty or not text (invalid UTF-8, control characters) are dead-lettered.
 * `kafkaName` is the topic's Kafka name, for error messages.
 */
export function createRawLogDecoder(codec: Codec, kafkaName: string, { now = Date.now }: RawLogDecoderOptions = {}): RawLogDecoder {
  const rawLogType = avroTypeOf(topics.rawLogs)
  return async (bytes, headers) => {
    if (!bytes || bytes.length === 0) throw new CodecError('EMPTY_MESSAGE', `empty message on ${kafkaName}`)
    if (bytes[0] === CONFLUENT_MAGIC_BYTE) return codec.decode(topics.rawLogs, bytes)

    const doc = jsonDocumentOf(bytes)
    if (doc !== null && isOwnRecord(doc.value)) return codec.fromJson(topics.rawLogs, doc.value)
    const zeekLog = zeekLogOfHeaders(headers)
    if (doc !== null) {
      const record: RawLog = {
        line: doc.text, receivedAt: now(), transport: TRANSPORT, peer: null,
        ...fromDocument(doc.value, zeekLog),
      }
      // A document's strings can hold anything; the record must still fit the schema.
      if (!rawLogType.isValid(record)) throw new CodecError('SCHEMA_MISMATCH', `JSON document on ${kafkaName} does not make a valid raw-logs record`)
      return record
    }

    const decoded = decodeLine(bytes)
    if (!decoded.ok) {
      const code = decoded.code === 'EMPTY' ? 'EMPTY_MESSAGE' : 'UNKNOWN_WIRE_FORMAT'
      throw new CodecError(code, `message on ${kafkaName} is neither a raw-logs record, a JSON document nor a line of text (${decoded.code}): ${decoded.reason}`)
    }
    return {
      line: decoded.line, receivedAt: now(), transport: TRANSPORT, peer: null,
      syslog: zeekLog === null ? headerOfLine(decoded.line)?.header ?? null : null,
      zeek: zeekLog === null ? null : zeekContext(zeekLog),
    }
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type JsonObject = { [key: string]: Json }

// ignoreBOM keeps a leading BOM, which makes the text not JSON: such a message is read as a line.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The message as a JSON object and its text (without a trailing line end), or null when it is not one. */
function jsonDocumentOf(bytes: Buffer): { value: JsonObject; text: string } | null {
  let start = 0
  while (start < bytes.length && isJsonSpace(bytes[start]!)) start++
  if (bytes[start] !== 0x7b /* { */) return null
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return null
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  return isObject(value) ? { value: value as JsonObject, text: text.replace(/\r?\n$/, '') } : null
}

function isJsonSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A raw-logs record as our own producers write it: `line` and nothing but RawLog fields. */
function isOwnRecord(doc: JsonObject): boolean {
  return 'line' in doc && Object.keys(doc).every((k) => RAW_LOG_FIELDS.has(k))
}

function fromDocument(doc: JsonObject, zeekLogFromHeaders: string | null): Pick<RawLog, 'syslog' | 'zeek'> {
  const zeekLog = zeekLogFromHeaders ?? zeekLogOfDocument(doc)
  if (zeekLog !== null) return { syslog: null, zeek: zeekContext(zeekLog) }
  return { syslog: syslogOfDocument(doc), zeek: null }
}

// ------------------------------------------------------------------------------------------ Zeek

// Headers a producer may set to name the Zeek log of a message.
const ZEEK_LOG_HEADERS = ['zeek_log', 'log_type', '_path']
const ZEEK_LOG_NAME = /^[a-z][a-z0-9_]*$/

function zeekLogOfHeaders(headers: Record<string, string>): string | null {
  for (const name of ZEEK_LOG_HEADERS) {
    const value = headers[name]?.trim()
    if (value && ZEEK_LOG_NAME.test(value)) return value
  }
  return null
}

/**
 * Zeek's JSON logs name their log in `_path` (LogAscii with `use_json`), and its Kafka writer with
 * `Kafka::tag_json = T` wraps each record as `{"conn": {...}}`.
 */
function zeekLogOfDocument(doc: JsonObject): string | null {
  const path = doc._path
  if (typeof path === 'string' && ZEEK_LOG_NAME.test(path) && 'ts' in doc) return path
  const keys = Object.keys(doc)
  if (keys.length !== 1) return null
  const [log] = keys as [string]
  const inner = doc[log]
  return ZEEK_LOG_NAME.test(log) && isObject(inner) && 'ts' in inner ? log : null
}

function zeekContext(log: string): ZeekContext {
  return { log, fields: null, types: null }
}

// ---------------------------------------------------------------------------------- syslog JSON

// Field names the shippers write, most specific first: rsyslog (its property names, or the names a
// jsonf template gives them), syslog-ng (format-json macros), Vector, Fluent Bit, Beats/ECS.
const MESSAGE_KEYS = ['msg', 'message', 'MESSAGE', 'MSG']
// The whole received line, when a document carries it: rsyslog's rawmsg, a file tailer's `log`.
const RAW_LINE_KEYS = ['rawmsg', 'log', 'event.original']
const TIMESTAMP_KEYS = ['timereported', 'ISODATE', 'timestamp', '@timestamp', 'time', 'DATE', 'R_ISODATE', 'S_ISODATE']
const HOST_KEYS = ['hostname', 'host', 'HOST', 'HOSTNAME', 'source']
const PROGRAM_KEYS = ['appname', 'app-name', 'app_name', 'programname', 'program', 'PROGRAM', 'ident']
const SYSLOGTAG_KEYS = ['syslogtag']
const PROCID_KEYS = ['procid', 'proc_id', 'pid', 'PID']
const MSGID_KEYS = ['msgid', 'msg_id', 'MSGID']
const PRI_KEYS = ['pri', 'PRI']
const FACILITY_KEYS = ['facility', 'syslogfacility', 'syslogfacility-text', 'FACILITY', 'FACILITY_NUM']
const SEVERITY_KEYS = ['severity', 'syslogseverity', 'syslogseverity-text', 'PRIORITY', 'LEVEL', 'LEVEL_NUM', 'level']

const FACILITIES: Record<string, number> = {
  kern: 0, kernel: 0, user: 1, mail: 2, daemon: 3, auth: 4, security: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, ntp: 12, audit: 13, 'log audit': 13, alert: 14, 'log alert': 14, clock: 15, 'solaris-cron': 15,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
}
const SEVERITIES: Record<string, number> = {
  emerg: 0, emergency: 0, panic: 0, alert: 1, crit: 2, critical: 2, err: 3, error: 3, warning: 4, warn: 4,
  notice: 5, info: 6, informational: 6, debug: 7,
}

/**
 * The syslog header of a shipper's JSON document, or null when it has no message (then it is a
 * generic JSON event). A document that carries the original line (rsyslog's `rawmsg`, or a
 * `message` that is a whole syslog line, as file tailers send) and names no program is read from
 * that line, its own fields filling what the line lacks.
 */
function syslogOfDocument(doc: JsonObject): SyslogHeader | null {
  const fields = fieldsOf(doc)
  const rawLine = stringField(doc, RAW_LINE_KEYS)
  const lineText = rawLine ?? (fields.appName === null ? fields.message : null)
  const fromLine = lineText === null ? null : headerOfLine(lineText)

  if (fromLine !== null && fromLine.header.appName !== null && fields.appName === null) {
    const h = fromLine.header
    return {
      ...h,
      facility: fromLine.hasPri ? h.facility : fields.facility ?? DEFAULT_FACILITY,
      severity: fromLine.hasPri ? h.severity : fields.severity ?? DEFAULT_SEVERITY,
      timestamp: h.timestamp ?? fields.timestamp,
      hostname: h.hostname ?? fields.hostname,
      procId: h.procId ?? fields.procId,
    }
  }
  const message = fields.message ?? fromLine?.header.message ?? rawLine
  if (message === null) return null
  const h = fromLine?.header ?? null
  const timestamp = fields.timestamp ?? h?.timestamp ?? null
  return {
    format: timestamp !== null && ISO_TIMESTAMP.test(timestamp) ? 'RFC5424' : 'RFC3164',
    facility: fields.facility ?? (fromLine?.hasPri ? h!.facility : DEFAULT_FACILITY),
    severity: fields.severity ?? (fromLine?.hasPri ? h!.severity : DEFAULT_SEVERITY),
    timestamp,
    hostname: fields.hostname ?? h?.hostname ?? null,
    appName: fields.appName ?? h?.appName ?? null,
    procId: fields.procId ?? h?.procId ?? null,
    msgId: fields.msgId ?? h?.msgId ?? null,
    structuredData: h?.structuredData ?? [],
    message,
  }
}

interface DocumentFields {
  message: string | null
  timestamp: string | null
  hostname: string | null
  appName: string | null
  procId: string | null
  msgId: string | null
  facility: number | null
  severity: number | null
}

function fieldsOf(doc: JsonObject): DocumentFields {
  const tag = tagOf(stringField(doc, SYSLOGTAG_KEYS))
  const pri = numberField(doc, PRI_KEYS, {}, 191)
  const message = stringField(doc, MESSAGE_KEYS, { keepEmpty: true })
  return {
    // rsyslog's msg keeps the space after `TAG:`; the header's MSG starts after it.
    message: message === null ? null : message.startsWith(' ') ? message.slice(1) : message,
    timestamp: timestampOf(doc),
    hostname: hostOf(doc),
    appName: stringField(doc, PROGRAM_KEYS) ?? tag?.name ?? null,
    procId: stringField(doc, PROCID_KEYS) ?? tag?.pid ?? null,
    msgId: stringField(doc, MSGID_KEYS),
    facility: numberField(doc, FACILITY_KEYS, FACILITIES, 23) ?? (pri === null ? null : pri >> 3),
    severity: numberField(doc, SEVERITY_KEYS, SEVERITIES, 7) ?? (pri === null ? null : pri & 7),
  }
}

/** The first of `keys` holding a non-empty string (or a number, as Vector writes procid); `-` is RFC 5424's NILVALUE. */
function stringField(doc: JsonObject, keys: readonly string[], { keepEmpty = false } = {}): string | null {
  for (const key of keys) {
    const value = doc[key]
    if (typeof value === 'number' && Number.isFinite(value)) return String(value)
    if (typeof value !== 'string') continue
    if (keepEmpty) return value
    const trimmed = value.trim()
    if (trimmed !== '' && trimmed !== '-') return trimmed
  }
  return null
}

/** A number in `0..max` from the first of `keys`: a number, a numeric string or a name in `names`. */
function numberField(doc: JsonObject, keys: readonly string[], names: Record<string, number>, max: number): number | null {
  for (const key of keys) {
    const value = doc[key]
    let n: number | undefined
    if (typeof value === 'number') n = value
    else if (typeof value === 'string') {
      const text = value.trim().toLowerCase()
      n = /^\d{1,3}$/.test(text) ? Number(text) : Object.hasOwn(names, text) ? names[text] : undefined
    }
    if (n !== undefined && Number.isInteger(n) && n >= 0 && n <= max) return n
  }
  return null
}

/** `host` is a name, or an object as Beats and ECS write it (`host.name`, `host.hostname`). */
function hostOf(doc: JsonObject): string | null {
  const host = doc.host
  if (isObject(host)) {
    const nested = stringField(host as JsonObject, ['name', 'hostname'])
    if (nested !== null) return nested
  }
  return stringField(doc, HOST_KEYS)
}

/** rsyslog's syslogtag: `sshd[24200]:` or `sshd:`. */
function tagOf(tag: string | null): { name: string; pid: string | null } | null {
  if (tag === null) return null
  const m = /^([^[\]:\s]+)(?:\[([^\]\s]+)\])?:?$/.exec(tag)
  return m ? { name: m[1]!, pid: m[2] ?? null } : null
}

// What parseSyslogTimestamp reads exactly: RFC 3339 with an optional zone, BSD `Mmm dd hh:mm:ss`.
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?$/
const BSD_TIMESTAMP = /^[A-Za-z]{3} {1,2}\d{1,2}(?: \d{4})? \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?$/
// ISO 8601 as shippers also write it: a space for T, any fraction, `z`, a zone without colon.
const LOOSE_ISO = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(?:(Z|z)|([+-]\d{2}):?(\d{2}))?$/
const EPOCH_DIGITS = /^\d{9,13}(?:\.\d+)?$/

/**
 * The event time of a document as a string `parseSyslogTimestamp` understands: RFC 3339 kept as
 * written, a BSD timestamp kept (its year is inferred downstream, as for syslog lines), other ISO
 * 8601 spellings normalised, and epoch seconds or milliseconds (Fluent Bit's `@timestamp`)
 * written as RFC 3339. Null when none of the fields holds a time.
 */
function timestampOf(doc: JsonObject): string | null {
  for (const key of TIMESTAMP_KEYS) {
    const value = doc[key]
    const ts = typeof value === 'number' ? fromEpoch(value) : typeof value === 'string' ? normaliseTimestamp(value.trim()) : null
    if (ts !== null) return ts
  }
  return null
}

function normaliseTimestamp(text: string): string | null {
  if (ISO_TIMESTAMP.test(text) || BSD_TIMESTAMP.test(text)) return text
  const m = LOOSE_ISO.exec(text)
  if (m) {
    const fraction = m[3] === undefined ? '' : `.${m[3].slice(0, 9)}`
    const zone = m[4] !== undefined ? 'Z' : m[5] !== undefined ? `${m[5]}:${m[6]}` : ''
    return `${m[1]}T${m[2]}${fraction}${zone}`
  }
  return EPOCH_DIGITS.test(text) ? fromEpoch(Number(text)) : null
}

// Epoch values above this are milliseconds (in seconds it would be the year 5138).
const EPOCH_MS_FROM = 1e11

function fromEpoch(value: number): string | null {
  if (!Number.isFinite(value) || value <= 0) return null
  const date = new Date(value >= EPOCH_MS_FROM ? value : value * 1000)
  return Number.isNaN(date.getTime()) ? null : date.toISOString()
}

// ---------------------------------------------------------------------------------- text lines

/**
 * A line of text read as syslog. Shippers' plain templates (rsyslog's `RSYSLOG_FileFormat`,
 * syslog-ng's `$ISODATE $HOST $MSGHDR$MSG`) and files sent with kcat have no `<PRI>`: such a line
 * is parsed as if it had the RFC 3164 default PRI 13, and counts as syslog only when the parse
 * found a timestamp or a TAG, since without PRI any text would parse. Null: not syslog.
 */
function headerOfLine(line: string): { header: Required<SyslogHeader>; hasPri: boolean } | null {
  if (line.startsWith('<')) {
    const parsed = parseSyslog(line)
    if (parsed.ok) return { header: toHeader(parsed.header), hasPri: true }
  }
  const parsed = parseSyslog(`<${DEFAULT_FACILITY * 8 + DEFAULT_SEVERITY}>${line}`)
  if (!parsed.ok) return null
  const header = toHeader(parsed.header)
  return header.timestamp === null && header.appName === null ? null : { header, hasPri: false }
}

function toHeader(h: ParsedSyslogHeader): Required<SyslogHeader> {
  return {
    format: h.format, facility: h.facility, severity: h.severity, timestamp: h.timestamp, hostname: h.hostname,
    appName: h.appName, procId: h.procId, msgId: h.msgId, structuredData: h.structuredData, message: h.message,
  }
}
