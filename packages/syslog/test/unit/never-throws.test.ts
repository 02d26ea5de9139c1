import { describe, expect, it } from 'vitest'
import { decodeLine } from '../../src/decode-line.ts'
import { parseSyslog, parseSyslogTimestamp } from '../../src/parse-syslog.ts'
import { createTcpDeframer, type Frame } from '../../src/tcp-deframer.ts'

/** A tiny LCG (Numerical Recipes constants) so failures reproduce from the seed. */
function random(seed: number) {
  let state = seed >>> 0
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
  const int = (n: number) => Math.floor(next() * n)
  return { next, int, pick: <T>(items: readonly T[]): T => items[int(items.length)]! }
}

const SEEDS = [1, 42, 20261122]

// Fragments that reach deep into the parsers, so random input is not all NO_PRI at byte 0.
const FRAGMENTS = [
  '<', '>', '<13>', '<165>1 ', '<38>', '1 ', '- ', '-', ' ', '[', ']', '"', '\\', '=', 'x@1', 'a="b"', '\\"', '\\]',
  'Dec 10 06:55:46 ', 'Jan  2 ', '2026-01-02T03:04:05.123Z ', 'LabSZ ', 'sshd[24200]: ', 'sshd: ', '[1', 'msg', '\uFEFF',
  '\n', '\r\n', '\r', '\0', '\t', 'é', '東', '\ud800', '12 ', '9', '0',
]

function randomBytes(r: ReturnType<typeof random>): Buffer {
  if (r.next() < 0.3) {
    const b = Buffer.alloc(r.int(300))
    for (let i = 0; i < b.length; i++) b[i] = r.int(256)
    return b
  }
  let s = ''
  const n = r.int(40)
  for (let i = 0; i < n; i++) s += r.next() < 0.8 ? r.pick(FRAGMENTS) : String.fromCharCode(r.int(0x3000))
  return Buffer.from(s, r.next() < 0.5 ? 'utf8' : 'latin1')
}

/** A valid line with a few characters replaced, inserted or deleted. */
function mutate(r: ReturnType<typeof random>, line: string): string {
  const chars = [...line]
  const edits = 1 + r.int(4)
  for (let e = 0; e < edits; e++) {
    const at = r.int(chars.length + 1)
    const op = r.int(3)
    if (op === 0) chars.splice(at, 1)
    else if (op === 1) chars.splice(at, 0, r.pick(FRAGMENTS))
    else chars[at] = String.fromCharCode(r.int(128))
  }
  return chars.join('')
}

const VALID = [
  '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] msg',
  String.raw`<14>1 2026-01-02T03:04:05+01:00 h app 1 m [x@1 q="say \"hi\"" r="[1\]"] msg`,
  '<38>Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186',
  '<38>Jul  1 00:21:28 combo sshd(pam_unix)[19630]: authentication failure; rhost=60.30.224.116  user=root',
  '<86>2026-03-01T10:20:30.123456+01:00 web-1 sshd[77]: Connection closed',
]

function checkParse(line: string): void {
  const result = parseSyslog(line)
  if (result.ok) {
    expect(['RFC5424', 'RFC3164']).toContain(result.header.format)
    const t = parseSyslogTimestamp(result.header, 1_780_000_000_000)
    expect(t === null || Number.isFinite(t)).toBe(true)
  } else {
    expect(['NO_PRI', 'BAD_PRI', 'BAD_STRUCTURED_DATA', 'BAD_HEADER']).toContain(result.code)
    expect(result.reason.length).toBeGreaterThan(0)
  }
}

describe('random input never throws', () => {
  it.each(SEEDS)('decodeLine and parseSyslog, seed %i', (seed) => {
    const r = random(seed)
    for (let i = 0; i < 3000; i++) {
      const input = randomBytes(r)
      const decoded = decodeLine(input)
      if (decoded.ok) checkParse(decoded.line)
      else expect(['INVALID_UTF8', 'CONTROL_CHARACTERS', 'EMPTY']).toContain(decoded.code)
      checkParse(input.toString('latin1'))
      checkParse(input.toString('utf8'))
    }
  })

  it.each(SEEDS)('parseSyslog on mutated valid lines, seed %i', (seed) => {
    const r = random(seed)
    for (let i = 0; i < 5000; i++) checkParse(mutate(r, r.pick(VALID)))
  })

  it.each(SEEDS)('createTcpDeframer, and its frames do not depend on chunking, seed %i', (seed) => {
    const r = random(seed)
    for (let i = 0; i < 300; i++) {
      const stream = Buffer.concat(Array.from({ length: 1 + r.int(8) }, () => randomBytes(r)))
      const options = { maxFrameBytes: 1 + r.int(200), previewBytes: r.int(20), keepWholeBytes: r.int(2) === 0 ? 0 : r.int(400) }
      const once = run(createTcpDeframer(options), [stream])
      const chunks: Buffer[] = []
      for (let at = 0; at < stream.length;) {
        const n = 1 + r.int(16)
        chunks.push(stream.subarray(at, at + n))
        at += n
      }
      expect(run(createTcpDeframer(options), chunks)).toEqual(once)
      for (const frame of once) {
        if (frame.ok) expect(frame.bytes.length).toBeLessThanOrEqual(options.maxFrameBytes)
        else if (frame.code === 'FRAME_TOO_LONG' && frame.length <= options.keepWholeBytes) expect(frame.preview.length).toBeLessThanOrEqual(frame.length)
        else expect(frame.preview.length).toBeLessThanOrEqual(options.previewBytes)
      }
    }
  })
})

function run(deframer: ReturnType<typeof createTcpDeframer>, chunks: Buffer[]): Frame[] {
  const frames = chunks.flatMap((c) => deframer.push(c))
  return [...frames, ...deframer.end()]
}
