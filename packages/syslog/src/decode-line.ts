export type DecodeLineResult =
  | { ok: true; line: string }
  | { ok: false; code: 'INVALID_UTF8' | 'CONTROL_CHARACTERS' | 'EMPTY'; reason: string }

const LF = 0x0a
const CR = 0x0d
const TAB = 0x09

// ignoreBOM keeps a leading BOM in the text: the line is returned as sent.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Turns one received frame or datagram into a line of text: strict UTF-8, one trailing line ending
 * (LF, CRLF or CR) removed, and no C0 control characters other than TAB, since those mean binary or
 * garbage input. This rejects multi-line messages, which octet-counted TCP frames could carry.
 */
export function decodeLine(bytes: Buffer): DecodeLineResult {
  let end = bytes.length
  if (end > 0 && bytes[end - 1] === LF) end--
  if (end > 0 && bytes[end - 1] === CR) end--
  if (end === 0) return { ok: false, code: 'EMPTY', reason: 'empty line' }
  const body = bytes.subarray(0, end)

  let line: string
  try {
    line = decoder.decode(body)
  } catch {
    const at = firstInvalidUtf8(body)
    return { ok: false, code: 'INVALID_UTF8', reason: at < 0 ? 'invalid UTF-8' : `invalid UTF-8 at byte ${at} (0x${hex(body[at]!)})` }
  }

  for (let i = 0; i < end; i++) {
    const b = bytes[i]!
    if (b < 0x20 && b !== TAB) {
      return { ok: false, code: 'CONTROL_CHARACTERS', reason: `control character 0x${hex(b)} at byte ${i}` }
    }
  }
  return { ok: true, line }
}

/** Offset of the first byte that does not start a well-formed UTF-8 sequence (Unicode table 3-7), or -1. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]!
    if (b < 0x80) {
      i++
      continue
    }
    let need: number
    let lo = 0x80
    let hi = 0xbf
    if (b >= 0xc2 && b <= 0xdf) need = 1
    else if (b === 0xe0) [need, lo] = [2, 0xa0]
    else if (b === 0xed) [need, hi] = [2, 0x9f] // no UTF-16 surrogates
    else if (b >= 0xe1 && b <= 0xef) need = 2
    else if (b === 0xf0) [need, lo] = [3, 0x90]
    else if (b >= 0xf1 && b <= 0xf3) need = 3
    else if (b === 0xf4) [need, hi] = [3, 0x8f] // nothing above U+10FFFF
    else return i
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k]
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i
    }
    i += need + 1
  }
  return -1
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0')
}
