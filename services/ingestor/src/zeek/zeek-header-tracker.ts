import type { ZeekContext } from '@vigil/schemas'
import type { Frame } from '@vigil/syslog'
import type { ReceivedInput } from '../handle-input.ts'
import type { RawLogSink } from '../raw-log-sink.ts'

/** What one line of Zeek output is: a header line (remembered, not sent), a data line with its context, or input to dead-letter. */
export type ZeekLineVerdict =
  | { kind: 'header' }
  | { kind: 'data'; zeek: ZeekContext }
  | { kind: 'reject'; code: ZeekRejectCode; reason: string }

export type ZeekRejectCode = 'ZEEK_UNKNOWN_LOG' | 'ZEEK_NO_HEADER' | 'ZEEK_FIELD_COUNT' | 'ZEEK_BAD_HEADER' | 'ZEEK_UNSUPPORTED_SEPARATOR'

/** The header state of one stream of Zeek output (a connection or a file). */
export interface ZeekHeaderTracker {
  /** Classifies one line (without its newline); header lines update the state. */
  classify(line: Buffer): ZeekLineVerdict
}

export interface ZeekHeaderTrackerOptions {
  /** the log type when the stream does not name it (a file's name: conn.log → conn) */
  defaultLog?: string | null
}

const HASH = 0x23
const OPEN_BRACE = 0x7b
const TAB = 0x09
const LOG_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/
// Zeek's JSON is flat, so `"_path":"` outside a string can only be the record's own field.
const PATH_FIELD = /"_path"\s*:\s*"([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})"/
// Zeek's Kafka writer with tag_json: `{"conn": {...}}`.
const WRAPPER = /^\{\s*"([a-z0-9_]{1,40})"\s*:\s*\{/
// Directives Zeek writes that carry nothing the featurizer needs.
const IGNORED = new Set(['#open', '#close', '#set_separator', '#empty_field', '#unset_field'])

/**
 * Tracks the `#separator`, `#path`, `#fields` and `#types` header lines of Zeek's TSV output, so
 * each data line can carry the header it belongs to; `#open`, `#close` and the other defaults are
 * ignored. JSON lines take their log type from `_path`, a wrapper key, the stream's `#path` (a JSON
 * sender may announce it first), or the default. A line whose log type or header is unknown, or
 * whose field count does not match its `#fields`, is rejected with the reason.
 */
export function createZeekHeaderTracker({ defaultLog = null }: ZeekHeaderTrackerOptions = {}): ZeekHeaderTracker {
  let separator = '\t'
  let path: string | null = null
  let fields: string[] | null = null
  let types: string[] | null = null

  function header(text: string): ZeekLineVerdict {
    if (text.startsWith('#separator ')) {
      // A new header block: what the last one said no longer holds.
      separator = unescapeHeader(text.slice('#separator '.length))
      path = null
      fields = null
      types = null
      return { kind: 'header' }
    }
    const [directive = '', ...values] = text.split(separator)
    if (directive === '#path') {
      if (values.length !== 1 || !LOG_NAME.test(values[0]!)) return { kind: 'reject', code: 'ZEEK_BAD_HEADER', reason: `#path must name one log, got ${JSON.stringify(values.join(' ')).slice(0, 80)}` }
      path = values[0]!
      return { kind: 'header' }
    }
    if (directive === '#fields' || directive === '#types') {
      if (values.length === 0 || values.some((v) => v === '')) return { kind: 'reject', code: 'ZEEK_BAD_HEADER', reason: `${directive} has an empty name` }
      if (directive === '#fields') {
        fields = values
        types = null
      } else {
        types = values
      }
      return { kind: 'header' }
    }
    if (IGNORED.has(directive)) return { kind: 'header' }
    return { kind: 'reject', code: 'ZEEK_BAD_HEADER', reason: `unknown header line ${JSON.stringify(directive).slice(0, 40)}` }
  }

  function json(line: Buffer): ZeekLineVerdict {
    // latin1 maps bytes 1:1, and the names matched are ASCII: no need to decode the whole line as UTF-8 here.
    const text = line.toString('latin1')
    const log = PATH_FIELD.exec(text)?.[1] ?? WRAPPER.exec(text)?.[1] ?? path ?? defaultLog
    if (log === null) return { kind: 'reject', code: 'ZEEK_UNKNOWN_LOG', reason: 'JSON line without _path or a log wrapper key, and no #path before it' }
    return { kind: 'data', zeek: { log, fields: null, types: null } }
  }

  function tsv(line: Buffer): ZeekLineVerdict {
    if (fields === null) return { kind: 'reject', code: 'ZEEK_NO_HEADER', reason: 'TSV line before any #fields header' }
    if (separator !== '\t') return { kind: 'reject', code: 'ZEEK_UNSUPPORTED_SEPARATOR', reason: `#separator ${JSON.stringify(separator)}: only TAB is supported` }
    const log = path ?? defaultLog
    if (log === null) return { kind: 'reject', code: 'ZEEK_UNKNOWN_LOG', reason: 'TSV line without a #path header' }
    let count = 1
    for (let i = line.indexOf(TAB); i !== -1; i = line.indexOf(TAB, i + 1)) count++
    if (count !== fields.length) return { kind: 'reject', code: 'ZEEK_FIELD_COUNT', reason: `line has ${count} fields, its #fields header ${fields.length}` }
    return { kind: 'data', zeek: { log, fields, types } }
  }

  return {
    classify(line) {
      if (line[0] === HASH) return header(line.toString('utf8'))
      return line[0] === OPEN_BRACE ? json(line) : tsv(line)
    },
  }
}

/** Where a stream of Zeek lines comes from, for the records and dead letters it becomes. */
export interface ZeekSource {
  transport: 'zeek-tcp' | 'file'
  peer: string
  host?: string
}

const PREVIEW_BYTES = 4096

/** Hands one frame of Zeek output to the sink: data lines with their context, rejected lines to the dead-letter topic, headers nowhere. */
export async function sendZeekFrame(
  frame: Frame, tracker: ZeekHeaderTracker, sink: Pick<RawLogSink, 'accept' | 'reject'>, source: ZeekSource, receivedAt: number,
): Promise<void> {
  const { transport, peer } = source
  if (!frame.ok) return sink.reject({ code: frame.code, reason: frame.reason, preview: frame.preview, length: frame.length, transport, peer })
  const verdict = tracker.classify(frame.bytes)
  if (verdict.kind === 'header') return
  if (verdict.kind === 'reject') {
    return sink.reject({ code: verdict.code, reason: verdict.reason, preview: frame.bytes.subarray(0, PREVIEW_BYTES), length: frame.bytes.length, transport, peer })
  }
  const input: ReceivedInput = { bytes: frame.bytes, transport, peer, receivedAt, zeek: verdict.zeek, ...(source.host !== undefined && { host: source.host }) }
  return sink.accept(input)
}

// `#separator \x09`: the one header value Zeek writes escaped.
function unescapeHeader(value: string): string {
  return value.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}
