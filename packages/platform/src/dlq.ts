import { isUtf8 } from 'node:buffer'
import { createHash } from 'node:crypto'
import type { IHeaders } from 'kafkajs'
import type { DeadLetter, DeadLetterHeader } from '@vigil/schemas'

/** How much of a rejected value the envelope keeps: a Kafka record must stay well under the broker's 1 MB limit. */
export const DEAD_LETTER_MAX_VALUE_BYTES = 256 * 1024
/** How much of the key the envelope keeps (keys are entity ids, tens of bytes): with the value and headers, well under 1 MB. */
export const DEAD_LETTER_MAX_KEY_BYTES = 16 * 1024
/** Header names and values the envelope keeps, in bytes; the headers past it are left out, each whole. */
export const DEAD_LETTER_MAX_HEADER_BYTES = 16 * 1024
/** The longest key a dead letter is keyed by as it is; a longer one (or one not UTF-8) by its hash. */
export const DEAD_LETTER_RECORD_KEY_MAX_BYTES = 4 * 1024
const PREVIEW_CHARS = 200
/** chars of the reason kept: a reason quoting its input must not make the envelope too large */
const ERROR_MESSAGE_MAX_CHARS = 4 * 1024

/** A header value as kafkajs delivers it: bytes, or null for a null value (kafkajs's types leave null out). */
type HeaderValue = Buffer | string | null

/** Where the rejected bytes came from: a consumed message, or input rejected at the edge. */
export interface DeadLetterSource {
  sourceTopic: string
  partition?: number | null
  offset?: string | null
  /** the message's key, as bytes (as consumed) or text */
  key?: Buffer | string | null
  /** as kafkajs delivers them (a repeated header as an array of its values), or as text */
  headers?: IHeaders | Record<string, HeaderValue | HeaderValue[] | undefined>
  peer?: string | null
  /** the full length, when `value` is only the first bytes of a longer input */
  length?: number
}

/**
 * Builds the dead-letter envelope: the original bytes (up to a limit), their coordinates and the
 * reason. The key and header values are kept as bytes (base64), a repeated header as repeated,
 * each up to its limit with its full length or count beside it, so a redrive sends them back as
 * they came and knows when it cannot; `key` and `headers` repeat them as text for people and for
 * readers older than the byte fields.
 */
export function buildDeadLetter(
  service: string, source: DeadLetterSource, value: Buffer | null, error: { code: string; message: string }, now = Date.now(),
): DeadLetter {
  const bytes = value ?? Buffer.alloc(0)
  const kept = bytes.subarray(0, DEAD_LETTER_MAX_VALUE_BYTES)
  const key = bytesOf(source.key ?? null)
  const keptKey = key?.subarray(0, DEAD_LETTER_MAX_KEY_BYTES) ?? null
  const headers = keptHeaders(source.headers ?? {})
  return {
    sourceTopic: source.sourceTopic,
    partition: source.partition ?? null,
    offset: source.offset ?? null,
    key: key && keptKey!.length === key.length && isUtf8(key) ? key.toString('utf8') : null,
    headers: headers.text,
    valueBase64: kept.toString('base64'),
    valueLength: source.length ?? bytes.length,
    // Lossy on purpose: people read this; the exact bytes are in valueBase64.
    valuePreview: kept.subarray(0, PREVIEW_CHARS * 4).toString('utf8').slice(0, PREVIEW_CHARS),
    errorCode: error.code,
    errorMessage: error.message.length > ERROR_MESSAGE_MAX_CHARS ? `${error.message.slice(0, ERROR_MESSAGE_MAX_CHARS)}…` : error.message,
    service,
    peer: source.peer ?? null,
    failedAt: now,
    keyBase64: keptKey?.toString('base64') ?? null,
    keyLength: key?.length ?? null,
    headerList: headers.list,
    headerCount: headers.count,
  }
}

/**
 * The key a dead letter is written with: the source key, so one key's dead letters stay in order
 * on one partition, or for a key longer than DEAD_LETTER_RECORD_KEY_MAX_BYTES or not UTF-8, its
 * SHA-256 (same key, same partition): the record key is hashed again by the partitioner, and the
 * original is in the envelope.
 */
export function deadLetterRecordKey(key: Buffer | string | null | undefined): string | null {
  const bytes = bytesOf(key ?? null)
  if (bytes === null) return null
  if (bytes.length <= DEAD_LETTER_RECORD_KEY_MAX_BYTES && isUtf8(bytes)) return bytes.toString('utf8')
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

/**
 * The original key of a dead letter, as bytes, and whether the envelope kept it whole. A dead
 * letter written before keyBase64 has only the text in `key`, which is what was sent then.
 */
export function originalKeyOf(letter: DeadLetter): { key: Buffer | null; whole: boolean } {
  if (letter.keyBase64 === null || letter.keyBase64 === undefined) {
    return { key: letter.key === null || letter.key === undefined ? null : Buffer.from(letter.key, 'utf8'), whole: true }
  }
  const key = Buffer.from(letter.keyBase64, 'base64')
  return { key, whole: key.length === (letter.keyLength ?? key.length) }
}

/**
 * The original headers of a dead letter, in the shape kafkajs sends (a repeated header as an array
 * of its values, in order), and whether the envelope kept them all. A null value goes out empty:
 * kafkajs cannot write a null header value. A dead letter written before headerList has only the
 * text in `headers`.
 */
export function originalHeadersOf(letter: DeadLetter): { headers: Record<string, Buffer | Buffer[]>; whole: boolean } {
  const headers: Record<string, Buffer | Buffer[]> = {}
  if (letter.headerCount === null || letter.headerCount === undefined) {
    for (const [name, text] of Object.entries(letter.headers ?? {})) headers[name] = Buffer.from(text, 'utf8')
    return { headers, whole: true }
  }
  const list = letter.headerList ?? []
  for (const { name, valueBase64 } of list) {
    const value = Buffer.from(valueBase64 ?? '', 'base64')
    const before = headers[name]
    headers[name] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value]
  }
  return { headers, whole: list.length === letter.headerCount }
}

function bytesOf(value: Buffer | string | null): Buffer | null {
  if (value === null) return null
  return Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8')
}

/** The headers as a list of byte values, the first ones up to DEAD_LETTER_MAX_HEADER_BYTES; and as text, those that are UTF-8 and single. */
function keptHeaders(source: NonNullable<DeadLetterSource['headers']>): { list: DeadLetterHeader[]; count: number; text: Record<string, string> } {
  const list: DeadLetterHeader[] = []
  const text: Record<string, string> = {}
  let count = 0
  let bytes = 0
  for (const [name, given] of Object.entries(source)) {
    if (given === undefined) continue
    const values = (Array.isArray(given) ? given : [given]) as HeaderValue[]
    for (const one of values) {
      count++
      const value = one === null || one === undefined ? null : bytesOf(one)
      const size = Buffer.byteLength(name) + (value?.length ?? 0)
      // Once one is left out, so are the ones after it: what is kept is the headers' start, in order.
      if (list.length < count - 1 || bytes + size > DEAD_LETTER_MAX_HEADER_BYTES) continue
      bytes += size
      list.push({ name, valueBase64: value?.toString('base64') ?? null })
      if (values.length === 1 && value !== null && isUtf8(value)) text[name] = value.toString('utf8')
    }
  }
  return { list, count, text }
}
