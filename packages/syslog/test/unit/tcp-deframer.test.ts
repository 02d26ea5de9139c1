import { describe, expect, it } from 'vitest'
import { createTcpDeframer, type Frame, type TcpDeframerOptions } from '../../src/tcp-deframer.ts'

const MAX = 64 * 1024

/** Frames as comparable plain values: the text of good frames, the code, length and preview of bad ones. */
function view(frames: Frame[]) {
  return frames.map((f) => (f.ok ? f.bytes.toString('latin1') : { code: f.code, length: f.length, preview: f.preview.toString('latin1') }))
}

function deframe(chunks: (string | Buffer)[], options: TcpDeframerOptions = { maxFrameBytes: MAX }) {
  const d = createTcpDeframer(options)
  const frames: Frame[] = []
  for (const c of chunks) frames.push(...d.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c))
  frames.push(...d.end())
  return frames
}

const octet = (msg: string) => `${Buffer.byteLength(msg, 'latin1')} ${msg}`

describe('createTcpDeframer', () => {
  it('cuts LF frames, drops a trailing CR, and skips empty lines', () => {
    expect(view(deframe(['<13>a\n<13>b\r\n\n\r\n<13>c\n']))).toEqual(['<13>a', '<13>b', '<13>c'])
  })

  it('keeps a CR that is not right before the LF', () => {
    expect(view(deframe(['<13>a\rb\n']))).toEqual(['<13>a\rb'])
  })

  it('flushes an unterminated last LF frame on end()', () => {
    expect(view(deframe(['<13>a\n<13>tail']))).toEqual(['<13>a', '<13>tail'])
    expect(view(deframe(['<13>tail\r']))).toEqual(['<13>tail'])
  })

  it('cuts octet-counted frames, which may contain LF, mixed with LF frames', () => {
    const multi = '<13>1 - h app - - - line one\nline two'
    const input = [octet('<13>first'), octet(multi), '<13>lf framed\n', octet('<13>x'), '\n', octet('<13>after lf')].join('')
    expect(view(deframe([input]))).toEqual(['<13>first', multi, '<13>lf framed', '<13>x', '<13>after lf'])
  })

  it('keeps the octet-counted bytes exactly, trailing LF included when counted', () => {
    expect(view(deframe(['9 <13>abc\r\n']))).toEqual(['<13>abc\r\n'])
  })

  it('cuts octet-counted frames sent in RFC 5424 form by rsyslog', () => {
    const msg = '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] msg'
    expect(view(deframe([octet(msg) + octet(msg)]))).toEqual([msg, msg])
  })

  it('skips a 1 MiB LF line arriving in many chunks and reads the next frame', () => {
    const big = Buffer.alloc(1024 * 1024, 'x')
    big.write('<13>start', 0, 'latin1')
    const chunks: Buffer[] = []
    for (let i = 0; i < big.length; i += 1000) chunks.push(big.subarray(i, i + 1000))
    const frames = deframe([...chunks, '\r\n<13>next\n'])
    expect(frames).toHaveLength(2)
    const [tooLong, next] = frames
    expect(tooLong).toMatchObject({ ok: false, code: 'FRAME_TOO_LONG', length: 1024 * 1024 })
    if (tooLong!.ok) throw new Error('unreachable')
    expect(tooLong!.preview).toEqual(big.subarray(0, 4096))
    expect(tooLong!.reason).toMatch(/1048576 bytes is longer than maxFrameBytes 65536/)
    expect(next).toEqual({ ok: true, bytes: Buffer.from('<13>next') })
  })

  it('honours previewBytes', () => {
    const frames = deframe(['<13>' + 'y'.repeat(100) + '\n'], { maxFrameBytes: 50, previewBytes: 8 })
    expect(view(frames)).toEqual([{ code: 'FRAME_TOO_LONG', length: 104, preview: '<13>yyyy' }])
  })

  it('keeps a too-long frame whole up to keepWholeBytes (its dead letter can be sent again), and only its preview beyond', () => {
    const line = (n: number) => '<13>' + 'y'.repeat(n - 4)
    const options = { maxFrameBytes: 10, previewBytes: 4, keepWholeBytes: 30 }
    const input = [line(30) + '\n', line(30) + '\r\n', octet(line(30)), line(31) + '\n', octet(line(31)), line(10) + '\n', `20 ${line(8)}`]
    const whole = [
      { code: 'FRAME_TOO_LONG', length: 30, preview: line(30) },
      { code: 'FRAME_TOO_LONG', length: 30, preview: line(30) },
      { code: 'FRAME_TOO_LONG', length: 30, preview: line(30) },
      { code: 'FRAME_TOO_LONG', length: 31, preview: '<13>' },
      { code: 'FRAME_TOO_LONG', length: 31, preview: '<13>' },
      line(10),
      { code: 'FRAME_TOO_LONG', length: 20, preview: '<13>' }, // cut off by the end of the connection: not kept whole
    ]
    expect(view(deframe([input.join('')], options))).toEqual(whole)
    const bytes = Buffer.from(input.join(''), 'latin1')
    expect(view(deframe(Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1)), options))).toEqual(whole)
    // Without it, only the preview, as before.
    expect(view(deframe([line(30) + '\n'], { maxFrameBytes: 10, previewBytes: 4 }))).toEqual([{ code: 'FRAME_TOO_LONG', length: 30, preview: '<13>' }])
  })

  it('accepts a line of exactly maxFrameBytes, with LF or CRLF, and rejects one byte more', () => {
    const exact = '<' + 'a'.repeat(9)
    expect(view(deframe([`${exact}\n${exact}\r\n${exact}b\n${exact}b\r\n`], { maxFrameBytes: 10 }))).toEqual([
      exact, exact,
      { code: 'FRAME_TOO_LONG', length: 11, preview: `${exact}b` },
      { code: 'FRAME_TOO_LONG', length: 11, preview: `${exact}b` },
    ])
  })

  it('skips exactly the declared bytes of an oversized octet-counted frame', () => {
    const body = '<13>' + 'z'.repeat(96)
    const frames = deframe([`100 ${body}`, octet('<13>ok')], { maxFrameBytes: 50, previewBytes: 10 })
    expect(view(frames)).toEqual([{ code: 'FRAME_TOO_LONG', length: 100, preview: body.slice(0, 10) }, '<13>ok'])
    expect(!frames[0]!.ok && frames[0]!.reason).toMatch(/octet count 100 is larger than maxFrameBytes 50/)
  })

  it('reports a digit start that is not an octet count as BAD_FRAME and resyncs at the next LF', () => {
    const frames = deframe(['12a junk here\r\n<13>good\n2026-01-01 not syslog\n<13>also good\n'])
    expect(view(frames)).toEqual([
      { code: 'BAD_FRAME', length: 13, preview: '12a junk here' },
      '<13>good',
      { code: 'BAD_FRAME', length: 21, preview: '2026-01-01 not syslog' },
      '<13>also good',
    ])
    expect(!frames[0]!.ok && frames[0]!.reason).toMatch(/"12a" is not an octet count followed by a space/)
  })

  it('reports an absurd octet count as BAD_FRAME', () => {
    expect(view(deframe(['12345678901 x\n<13>ok\n']))).toEqual([{ code: 'BAD_FRAME', length: 13, preview: '12345678901 x' }, '<13>ok'])
  })

  it('treats a leading 0 or other bytes as the start of an LF frame', () => {
    expect(view(deframe(['0 x\nhello\n']))).toEqual(['0 x', 'hello'])
  })

  it('reports frames cut off by the end of the connection', () => {
    expect(view(deframe(['20 <13>short']))).toEqual([{ code: 'BAD_FRAME', length: 9, preview: '<13>short' }])
    expect(view(deframe(['<13>ok\n123']))).toEqual(['<13>ok', { code: 'BAD_FRAME', length: 3, preview: '123' }])
    expect(view(deframe(['100 <13>', 'abc'], { maxFrameBytes: 10 }))).toEqual([{ code: 'FRAME_TOO_LONG', length: 100, preview: '<13>abc' }])
  })

  it('gives the same frames wherever the chunks are split', () => {
    const input = Buffer.from([
      octet('<13>counted one'),
      '<13>lf one\r\n',
      '\n',
      '<13>' + 'L'.repeat(40) + '\n', // too long
      '30 <13>counted too long..........',
      '7x bad\n',
      octet('<13>multi\nline'),
      '<13>ünïcödé\n',
      '<13>tail',
    ].join(''), 'utf8')
    const options = { maxFrameBytes: 24, previewBytes: 6 }
    const whole = view(deframe([input], options))
    expect(whole).toEqual([
      '<13>counted one',
      '<13>lf one',
      { code: 'FRAME_TOO_LONG', length: 44, preview: '<13>LL' },
      { code: 'FRAME_TOO_LONG', length: 30, preview: '<13>co' },
      { code: 'BAD_FRAME', length: 6, preview: '7x bad' },
      '<13>multi\nline',
      Buffer.from('<13>ünïcödé', 'utf8').toString('latin1'),
      '<13>tail',
    ])
    for (let i = 0; i <= input.length; i++) {
      expect(view(deframe([input.subarray(0, i), input.subarray(i)], options)), `split at ${i}`).toEqual(whole)
    }
    for (let i = 0; i <= input.length; i += 3) {
      for (let j = i; j <= input.length; j += 5) {
        expect(view(deframe([input.subarray(0, i), input.subarray(i, j), input.subarray(j)], options)), `split at ${i}, ${j}`).toEqual(whole)
      }
    }
    const bytes = Array.from({ length: input.length }, (_, i) => input.subarray(i, i + 1))
    expect(view(deframe(bytes, options))).toEqual(whole)
  })

  it('does not grow memory on an endless line', () => {
    const d = createTcpDeframer({ maxFrameBytes: MAX })
    const chunk = Buffer.alloc(64 * 1024, 'a')
    globalThis.gc?.()
    const before = process.memoryUsage().arrayBuffers
    for (let i = 0; i < 1024; i++) expect(d.push(chunk)).toEqual([]) // 64 MiB, no LF
    const grown = process.memoryUsage().arrayBuffers - before
    expect(grown).toBeLessThan(8 * 1024 * 1024)
    const frames = d.push(Buffer.from('\n<13>next\n'))
    expect(view(frames)).toEqual([{ code: 'FRAME_TOO_LONG', length: 64 * 1024 * 1024, preview: 'a'.repeat(4096) }, '<13>next'])
  })

  it('returns copies that later pushes cannot change', () => {
    const d = createTcpDeframer({ maxFrameBytes: MAX })
    const chunk = Buffer.from('<13>a\n')
    const [frame] = d.push(chunk)
    chunk.fill(0)
    expect(frame).toEqual({ ok: true, bytes: Buffer.from('<13>a') })
  })

  it('rejects nonsense options', () => {
    expect(() => createTcpDeframer({ maxFrameBytes: 0 })).toThrow(RangeError)
    expect(() => createTcpDeframer({ maxFrameBytes: 1.5 })).toThrow(RangeError)
    expect(() => createTcpDeframer({ maxFrameBytes: 10, previewBytes: -1 })).toThrow(RangeError)
    expect(() => createTcpDeframer({ maxFrameBytes: 10, keepWholeBytes: -1 })).toThrow(RangeError)
  })
})
