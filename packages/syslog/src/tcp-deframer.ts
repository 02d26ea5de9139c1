/** One frame cut from a TCP stream: the message bytes, or why the bytes were not a usable frame. */
export type Frame =
  | { ok: true; bytes: Buffer }
  | {
      ok: false
      code: 'FRAME_TOO_LONG' | 'BAD_FRAME'
      reason: string
      /** the frame's bytes as kept: all of a FRAME_TOO_LONG no longer than `keepWholeBytes`, else the first `previewBytes` */
      preview: Buffer
      /** the frame's whole length in bytes (without its LF or CRLF terminator) */
      length: number
    }

export interface TcpDeframerOptions {
  /** longest message accepted, in bytes; longer frames are skipped, never buffered whole */
  maxFrameBytes: number
  /** bytes of a rejected frame kept for its error frame; default 4096 */
  previewBytes?: number
  /**
   * a frame longer than `maxFrameBytes` but no longer than this is kept whole in its error frame, so
   * that it can be dead-lettered whole and sent again once the limit is raised; default 0 (only its
   * preview). A connection then holds up to this many bytes while it reads such a frame.
   */
  keepWholeBytes?: number
}

/** Cuts one connection's byte stream into frames. Feed chunks in order; call `end()` when the peer closes. */
export interface TcpDeframer {
  push(chunk: Buffer): Frame[]
  /** Flushes the last frame: an unterminated LF frame is emitted, a cut-off octet-counted one is an error. */
  end(): Frame[]
}

const LF = 0x0a
const CR = 0x0d
const SP = 0x20
// 10 digits is already 10 GB; a longer count is noise, not a frame length.
const MAX_COUNT_DIGITS = 10

type Mode = 'idle' | 'count' | 'octets' | 'line'

/**
 * Syslog over TCP (RFC 6587), framing detected per frame: a frame starting with a digit 1-9 is
 * octet-counted (`MSG-LEN SP MSG`), anything else runs to the next LF (a trailing CR is dropped, and
 * empty lines are skipped). Memory stays bounded by the larger of `maxFrameBytes` and
 * `keepWholeBytes`, plus `previewBytes`, whatever arrives: an oversized frame is counted and skipped,
 * and reported once as FRAME_TOO_LONG with its bytes (up to `keepWholeBytes`) or its first bytes. A
 * digit start that is not `digits SP` is BAD_FRAME, and reading resumes after the next LF.
 */
export function createTcpDeframer(options: TcpDeframerOptions): TcpDeframer {
  const { maxFrameBytes, previewBytes = 4096, keepWholeBytes = 0 } = options
  if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < 1) throw new RangeError(`maxFrameBytes must be a positive integer, got ${maxFrameBytes}`)
  if (!Number.isSafeInteger(previewBytes) || previewBytes < 0) throw new RangeError(`previewBytes must be a non-negative integer, got ${previewBytes}`)
  if (!Number.isSafeInteger(keepWholeBytes) || keepWholeBytes < 0) throw new RangeError(`keepWholeBytes must be a non-negative integer, got ${keepWholeBytes}`)

  let mode: Mode = 'idle'
  let countText = '' // octet count read so far
  let declared = 0 // octet count of the current frame
  let remaining = 0 // bytes of the current octet-counted frame still to come
  let badReason: string | null = null // set when the current LF frame is a BAD_FRAME

  // The current frame: all of it while it may still be accepted or kept whole, only its preview once it cannot.
  let parts: Buffer[] = []
  let stored = 0
  let seen = 0
  let keepLimit = 0
  let keepingAll = true
  let lastByte = -1

  function begin(limit: number): void {
    parts = []
    stored = 0
    seen = 0
    keepLimit = limit
    keepingAll = limit > 0
    lastByte = -1
  }

  function collect(bytes: Buffer): void {
    seen += bytes.length
    if (keepingAll) {
      if (seen <= keepLimit) {
        parts.push(bytes)
        stored += bytes.length
        return
      }
      keepingAll = false
      const head = Buffer.concat(parts, Math.min(stored, previewBytes))
      parts = [head]
      stored = head.length
    }
    if (stored < previewBytes) {
      // A copy, so a long skipped frame does not pin the chunk it started in.
      const head = Buffer.from(bytes.subarray(0, previewBytes - stored))
      parts.push(head)
      stored += head.length
    }
  }

  function preview(length: number): Buffer {
    return Buffer.concat(parts, Math.min(stored, previewBytes, length))
  }

  function error(code: 'FRAME_TOO_LONG' | 'BAD_FRAME', reason: string, length: number): Frame {
    // A frame too long, yet no longer than keepWholeBytes and read to its end, is kept whole; any other only by its preview.
    const whole = code === 'FRAME_TOO_LONG' && keepingAll && stored >= length && length <= keepWholeBytes
    return { ok: false, code, reason, preview: whole ? Buffer.concat(parts, length) : preview(length), length }
  }

  function finishLine(out: Frame[]): void {
    const length = lastByte === CR ? seen - 1 : seen
    if (badReason !== null) out.push(error('BAD_FRAME', badReason, length))
    else if (length > maxFrameBytes) out.push(error('FRAME_TOO_LONG', `line of ${length} bytes is longer than maxFrameBytes ${maxFrameBytes}`, length))
    else if (length > 0) out.push({ ok: true, bytes: Buffer.concat(parts, length) })
    badReason = null
    mode = 'idle'
  }

  function finishOctets(out: Frame[]): void {
    if (declared > maxFrameBytes) {
      out.push(error('FRAME_TOO_LONG', `octet count ${declared} is larger than maxFrameBytes ${maxFrameBytes}`, declared))
    } else {
      out.push({ ok: true, bytes: Buffer.concat(parts, stored) })
    }
    mode = 'idle'
  }

  function startLine(): void {
    mode = 'line'
    // One byte over the limit is still fine if it turns out to be the CR of a CRLF.
    begin(Math.max(maxFrameBytes, keepWholeBytes) + 1)
  }

  return {
    push(chunk) {
      const out: Frame[] = []
      let i = 0
      while (i < chunk.length) {
        if (mode === 'idle') {
          const b = chunk[i]!
          if (b >= 0x31 && b <= 0x39) {
            mode = 'count'
            countText = ''
          } else {
            startLine()
          }
        } else if (mode === 'count') {
          const b = chunk[i]!
          if (b >= 0x30 && b <= 0x39 && countText.length < MAX_COUNT_DIGITS) {
            countText += String.fromCharCode(b)
            i++
          } else if (b === SP) {
            i++
            declared = Number(countText)
            remaining = declared
            mode = 'octets'
            begin(declared <= Math.max(maxFrameBytes, keepWholeBytes) ? declared : 0)
          } else {
            // Not an octet count after all: the rest of this line is one bad frame, preview included.
            badReason = countText.length >= MAX_COUNT_DIGITS
              ? `octet count has more than ${MAX_COUNT_DIGITS} digits`
              : `frame starts with digits but ${JSON.stringify(countText + String.fromCharCode(b))} is not an octet count followed by a space`
            mode = 'line'
            begin(0)
            collect(Buffer.from(countText, 'latin1'))
          }
        } else if (mode === 'octets') {
          const take = Math.min(remaining, chunk.length - i)
          collect(chunk.subarray(i, i + take))
          i += take
          remaining -= take
          if (remaining === 0) finishOctets(out)
        } else {
          const nl = chunk.indexOf(LF, i)
          const stop = nl === -1 ? chunk.length : nl
          if (stop > i) {
            collect(chunk.subarray(i, stop))
            lastByte = chunk[stop - 1]!
          }
          if (nl === -1) {
            i = chunk.length
          } else {
            i = nl + 1
            finishLine(out)
          }
        }
      }
      return out
    },

    end() {
      const out: Frame[] = []
      if (mode === 'count') {
        parts = [Buffer.from(countText, 'latin1')]
        stored = countText.length
        out.push(error('BAD_FRAME', `connection ended inside the octet count ${JSON.stringify(countText)}`, countText.length))
      } else if (mode === 'octets') {
        out.push(declared > maxFrameBytes
          ? error('FRAME_TOO_LONG', `octet count ${declared} is larger than maxFrameBytes ${maxFrameBytes} (connection ended after ${seen} bytes of it)`, declared)
          : error('BAD_FRAME', `connection ended after ${seen} of ${declared} counted bytes`, seen))
      } else if (mode === 'line') {
        finishLine(out)
      }
      mode = 'idle'
      badReason = null
      begin(0)
      return out
    },
  }
}
