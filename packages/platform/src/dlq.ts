import type { DeadLetter } from '@vigil/schemas'

/** How much of a rejected value the envelope keeps: a Kafka record must stay well under the broker's 1 MB limit. */
export const DEAD_LETTER_MAX_VALUE_BYTES = 256 * 1024
const PREVIEW_CHARS = 200

/** Where the rejected bytes came from: a consumed message, or input rejected at the edge. */
export interface DeadLetterSource {
  sourceTopic: string
  partition?: number | null
  offset?: string | null
  key?: string | null
  headers?: Record<string, string>
  peer?: string | null
  /** the full length, when `value` is only the first bytes of a longer input */
  length?: number
}

/** Builds the dead-letter envelope: the original bytes (up to a limit), their coordinates and the reason. */
export function buildDeadLetter(
  service: string, source: DeadLetterSource, value: Buffer | null, error: { code: string; message: string }, now = Date.now(),
): DeadLetter {
  const bytes = value ?? Buffer.alloc(0)
  const kept = bytes.subarray(0, DEAD_LETTER_MAX_VALUE_BYTES)
  return {
    sourceTopic: source.sourceTopic,
    partition: source.partition ?? null,
    offset: source.offset ?? null,
    key: source.key ?? null,
    headers: source.headers ?? {},
    valueBase64: kept.toString('base64'),
    valueLength: source.length ?? bytes.length,
    // Lossy on purpose: people read this; the exact bytes are in valueBase64.
    valuePreview: kept.subarray(0, PREVIEW_CHARS * 4).toString('utf8').slice(0, PREVIEW_CHARS),
    errorCode: error.code,
    errorMessage: error.message,
    service,
    peer: source.peer ?? null,
    failedAt: now,
  }
}
