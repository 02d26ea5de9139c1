import type { Frame } from '@vigil/syslog'

export interface LineDeframerOptions {
  /** longest line accepted, in bytes; longer lines are skipped, never buffered whole */
  maxLineBytes: number
  /** bytes of a rejected line kept for its error frame; default 4096 */
  previewBytes?: number
}

/** Cuts a byte stream into LF-terminated lines. Feed chunks in order; call `end()` at the end of the stream. */
export interface LineDeframer {
  push(chunk: Buffer): Frame[]
  /** Flushes the last line, even without its LF. */
  end(): Frame[]
  /** Bytes of the unfinished last line seen so far: where a reader must start again to get it whole. */
  pending(): number
}

const LF = 0x0a
const CR = 0x0d

/**
 * Newline framing only. Zeek's TSV lines start with a digit (`ts`), which the syslog deframer would
 * take for an RFC 6587 octet count, so Zeek input cannot share it. Memory stays bounded by
 * `maxLineBytes` plus `previewBytes`; an over-long line becomes one FRAME_TOO_LONG with its first
 * bytes, a trailing CR is dropped, and empty lines are skipped.
 */
export function createLineDeframer({ maxLineBytes, previewBytes = 4096 }: LineDeframerOptions): LineDeframer {
  if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) throw new RangeError(`maxLineBytes must be a positive integer, got ${maxLineBytes}`)
  let parts: Buffer[] = []
  let stored = 0
  let seen = 0
  let lastByte = -1

  function collect(bytes: Buffer): void {
    seen += bytes.length
    lastByte = bytes[bytes.length - 1]!
    // One byte over the limit is still fine if it turns out to be the CR of a CRLF.
    if (seen <= maxLineBytes + 1) {
      parts.push(bytes)
      stored += bytes.length
      return
    }
    if (stored > previewBytes) {
      parts = [Buffer.concat(parts, previewBytes)]
      stored = previewBytes
    }
    if (stored < previewBytes) {
      // A copy, so a long skipped line does not pin the chunk it started in.
      const head = Buffer.from(bytes.subarray(0, previewBytes - stored))
      parts.push(head)
      stored += head.length
    }
  }

  function finish(out: Frame[]): void {
    const length = lastByte === CR ? seen - 1 : seen
    if (length > maxLineBytes) {
      const preview = Buffer.concat(parts, Math.min(stored, previewBytes))
      out.push({ ok: false, code: 'FRAME_TOO_LONG', reason: `line of ${length} bytes is longer than the limit of ${maxLineBytes}`, preview, length })
    } else if (length > 0) {
      out.push({ ok: true, bytes: Buffer.concat(parts, length) })
    }
    parts = []
    stored = 0
    seen = 0
    lastByte = -1
  }

  return {
    push(chunk) {
      const out: Frame[] = []
      let i = 0
      while (i < chunk.length) {
        const nl = chunk.indexOf(LF, i)
        const stop = nl === -1 ? chunk.length : nl
        if (stop > i) collect(chunk.subarray(i, stop))
        if (nl === -1) break
        finish(out)
        i = nl + 1
      }
      return out
    },
    end() {
      const out: Frame[] = []
      if (seen > 0) finish(out)
      return out
    },
    pending: () => seen,
  }
}
