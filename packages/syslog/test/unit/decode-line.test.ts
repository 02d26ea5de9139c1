import { describe, expect, it } from 'vitest'
import { decodeLine } from '../../src/decode-line.ts'

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))))

describe('decodeLine', () => {
  it('decodes a real line', () => {
    const line = '<38>Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186'
    expect(decodeLine(bytes(line))).toEqual({ ok: true, line })
  })

  it('strips one trailing LF, CRLF or CR', () => {
    expect(decodeLine(bytes('<13>a\n'))).toEqual({ ok: true, line: '<13>a' })
    expect(decodeLine(bytes('<13>a\r\n'))).toEqual({ ok: true, line: '<13>a' })
    expect(decodeLine(bytes('<13>a\r'))).toEqual({ ok: true, line: '<13>a' })
    expect(decodeLine(bytes('<13>a\n\n'))).toMatchObject({ ok: false, code: 'CONTROL_CHARACTERS', reason: 'control character 0x0a at byte 5' })
  })

  it('keeps TAB, multi-byte text and a BOM', () => {
    expect(decodeLine(bytes('<13>a\tb приве́т 東京 🦀'))).toEqual({ ok: true, line: '<13>a\tb приве́т 東京 🦀' })
    expect(decodeLine(bytes('<13>1 - - - - - - \uFEFFmsg'))).toEqual({ ok: true, line: '<13>1 - - - - - - \uFEFFmsg' })
    expect(decodeLine(bytes('\uFEFF<13>x'))).toEqual({ ok: true, line: '\uFEFF<13>x' })
  })

  it('says EMPTY for nothing or only a line ending', () => {
    for (const input of ['', '\n', '\r\n', '\r']) expect(decodeLine(bytes(input))).toMatchObject({ ok: false, code: 'EMPTY' })
  })

  it.each([
    ['a lone continuation byte', bytes('<13>a', [0x80]), 5],
    ['an overlong encoding of "/"', bytes('<13>', [0xc0, 0xaf]), 4],
    ['an overlong 3-byte form', bytes('<13>', [0xe0, 0x80, 0xaf]), 4],
    ['a UTF-16 surrogate', bytes('<13>x', [0xed, 0xa0, 0x80]), 5],
    ['a code point above U+10FFFF', bytes('<13>', [0xf4, 0x90, 0x80, 0x80]), 4],
    ['a truncated sequence at the end', bytes('<13>€', [0xe2, 0x82]), 7],
    ['a truncated sequence before ASCII', bytes('<13>', [0xe2, 0x82], 'x'), 4],
    ['0xFF', bytes('<13>', [0xff]), 4],
    ['Latin-1 text', Buffer.from('<13>café', 'latin1'), 7],
  ])('says INVALID_UTF8 for %s, with the byte offset', (_name, input, at) => {
    const result = decodeLine(input)
    expect(result).toMatchObject({ ok: false, code: 'INVALID_UTF8' })
    expect(!result.ok && result.reason).toMatch(new RegExp(`^invalid UTF-8 at byte ${at} \\(0x[0-9a-f]{2}\\)$`))
  })

  it.each([
    ['NUL', bytes('<13>a', [0], 'b'), 'control character 0x00 at byte 5'],
    ['ESC', bytes('<13>\u001b[31mred'), 'control character 0x1b at byte 4'],
    ['an embedded LF', bytes('<13>a\nb'), 'control character 0x0a at byte 5'],
    ['an embedded CR', bytes('<13>a\rb'), 'control character 0x0d at byte 5'],
    ['binary', Buffer.from([0x3c, 0x31, 0x3e, 0x01, 0x02, 0x03]), 'control character 0x01 at byte 3'],
  ])('says CONTROL_CHARACTERS for %s', (_name, input, reason) => {
    expect(decodeLine(input)).toEqual({ ok: false, code: 'CONTROL_CHARACTERS', reason })
  })

  it('does not count DEL or C1 controls as C0', () => {
    expect(decodeLine(bytes('<13>a\u007fb\u0085c'))).toMatchObject({ ok: true })
  })
})
