import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLogger } from '@vigil/platform'
import { waitFor } from '@vigil/testkit'
import { startZeekDirTailer, type ZeekDirTailer, type ZeekDirTailerOptions } from '../../../src/zeek/zeek-dir-tailer.ts'
import { createFakeSink, type FakeSink } from './fake-sink.ts'

const log = createLogger('ingestor', 'silent', 'test')
const HEADER = [
  '#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tconn', '#open\t2024-01-01-00-00-00',
  '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto',
  '#types\ttime\tstring\taddr\tport\taddr\tport\tenum',
].map((l) => `${l}\n`).join('')
const FIELDS = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto']
const row = (n: number) => `${1704067200 + n}.000001\tC${n}\t10.0.0.${n % 250}\t${40000 + n}\t10.0.1.1\t22\ttcp`
const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => row(from + i))
const text = (lines: string[]) => lines.map((l) => `${l}\n`).join('')

describe('startZeekDirTailer', () => {
  let dir: string
  let stateFile: string
  const tailers: ZeekDirTailer[] = []
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'zeek-tailer-'))
    stateFile = join(dir, 'state', 'tailer.json')
  })
  afterEach(async () => {
    await Promise.all(tailers.splice(0).map((t) => t.close()))
    rmSync(dir, { recursive: true, force: true })
  })

  const start = async (sink: FakeSink, extra: Partial<ZeekDirTailerOptions> = {}) => {
    const tailer = await startZeekDirTailer({ dir, stateFile, sink, log, maxLineBytes: 1024, host: 'sensor-1', pollMs: null, ...extra })
    tailers.push(tailer)
    return tailer
  }
  const state = () => JSON.parse(readFileSync(stateFile, 'utf8')) as { files: Array<{ path: string; ino: string; offset: number }>; done: Array<{ path: string }> }
  const conn = () => join(dir, 'conn.log')

  it('sends the data lines of every *.log with their header as Zeek context, and saves the position after the flush', async () => {
    writeFileSync(conn(), HEADER + text(rows(0, 3)))
    writeFileSync(join(dir, 'dns.log'), '{"ts":1,"uid":"D1","query":"a.example"}\n')
    writeFileSync(join(dir, 'notes.txt'), 'not a log\n')
    const sink = createFakeSink()
    const tailer = await start(sink)
    await tailer.poll()

    expect(sink.rejected).toEqual([])
    expect(sink.pending).toEqual([])
    const byFile = (name: string) => sink.sent.filter((r) => r.value.peer === join(dir, name))
    expect(byFile('conn.log').map((r) => r.value.line)).toEqual(rows(0, 3))
    expect(byFile('conn.log')[0]).toEqual({
      key: 'sensor-1',
      value: { line: row(0), receivedAt: expect.any(Number), transport: 'file', peer: conn(), syslog: null, zeek: { log: 'conn', fields: FIELDS, types: expect.any(Array) } },
    })
    expect(byFile('dns.log').map((r) => r.value.zeek)).toEqual([{ log: 'dns', fields: null, types: null }])
    expect(state().files.find((f) => f.path === conn())?.offset).toBe(readFileSync(conn()).length)
  })

  it('reads lines as they are appended, and a partial last line only once it is complete', async () => {
    writeFileSync(conn(), HEADER + text(rows(0, 2)))
    const sink = createFakeSink()
    const tailer = await start(sink)
    await tailer.poll()
    const complete = readFileSync(conn()).length

    const partial = row(3).slice(0, 20)
    appendFileSync(conn(), text([row(2)]) + partial)
    await tailer.poll()
    expect(sink.lines()).toEqual(rows(0, 3))
    // The saved position stops before the partial line: a restart reads it whole.
    expect(state().files[0]!.offset).toBe(complete + row(2).length + 1)

    appendFileSync(conn(), `${row(3).slice(20)}\n`)
    await tailer.poll()
    expect(sink.lines()).toEqual(rows(0, 4))
    expect(state().files[0]!.offset).toBe(readFileSync(conn()).length)
  })

  it('finishes a file Zeek renamed away before reading the new one under its name, and never reads the old one again', async () => {
    writeFileSync(conn(), HEADER + text(rows(0, 2)))
    const sink = createFakeSink()
    const tailer = await start(sink)
    await tailer.poll()

    // Zeek writes its last lines and #close, renames the file, and starts a new one with a new header.
    appendFileSync(conn(), `${text(rows(2, 4))}#close\t2024-01-01-01-00-00\n`)
    const rotated = join(dir, 'conn.2024-01-01-00-00-00.log')
    renameSync(conn(), rotated)
    writeFileSync(conn(), HEADER + text(rows(4, 6)))
    await tailer.poll()
    expect(sink.lines()).toEqual(rows(0, 6))
    expect(sink.sent.slice(2, 4).every((r) => r.value.peer === rotated)).toBe(true)
    expect(sink.sent.slice(4).every((r) => r.value.peer === conn())).toBe(true)

    appendFileSync(conn(), text([row(6)]))
    await tailer.poll()
    await tailer.poll()
    expect(sink.lines()).toEqual(rows(0, 7))
    expect(state().files.map((f) => f.path)).toEqual([conn()])
    expect(state().done.map((f) => f.path)).toEqual([rotated])
  })

  it('does not take a finished file renamed to another *.log name for a new one, also after a restart', async () => {
    writeFileSync(conn(), HEADER + text(rows(0, 2)))
    const sink = createFakeSink()
    const a = await start(sink)
    await a.poll()
    renameSync(conn(), join(dir, 'conn-old.log'))
    writeFileSync(conn(), HEADER + text(rows(2, 3)))
    await a.poll()
    await a.poll()
    await a.close()
    tailers.splice(0)
    expect(sink.lines()).toEqual(rows(0, 3))

    const after = createFakeSink()
    const b = await start(after)
    await b.poll()
    expect(after.lines()).toEqual([])
  })

  it('resumes from the state file after a restart: no line twice, none missed, the TSV header still known', async () => {
    writeFileSync(conn(), HEADER + text(rows(0, 3)))
    const first = createFakeSink()
    const a = await start(first)
    await a.poll()
    await a.close()
    tailers.splice(0)

    appendFileSync(conn(), text(rows(3, 5)))
    const second = createFakeSink()
    const b = await start(second)
    await b.poll()
    expect(first.lines()).toEqual(rows(0, 3))
    expect(second.lines()).toEqual(rows(3, 5))
    expect(second.sent[0]!.value.zeek).toEqual({ log: 'conn', fields: FIELDS, types: expect.any(Array) })
  })

  it('after a crash before the flush, re-sends what was not flushed', async () => {
    writeFileSync(conn(), HEADER + text(rows(0, 2)))
    const a = await start(createFakeSink())
    await a.poll()
    await a.close()
    appendFileSync(conn(), text(rows(2, 4)))
    // Kafka is down: the lines are accepted but never flushed, so the position must not move.
    const down = createFakeSink({ failFlush: true })
    const b = await start(down)
    await b.poll()
    expect(down.pending.map((r) => r.value.line)).toEqual(rows(2, 4))
    tailers.splice(0) // a crash: nobody closes it

    const after = createFakeSink()
    const c = await start(after)
    await c.poll()
    expect(after.lines()).toEqual(rows(2, 4))
  })

  it('finishes a file rotated while the ingestor was down, then reads the new one from its start', async () => {
    writeFileSync(conn(), HEADER + text(rows(0, 2)))
    const a = await start(createFakeSink())
    await a.poll()
    await a.close()
    tailers.splice(0)

    appendFileSync(conn(), text(rows(2, 3)))
    renameSync(conn(), join(dir, 'conn.2024-01-01-00-00-00.log'))
    writeFileSync(conn(), HEADER + text(rows(3, 5)))
    const sink = createFakeSink()
    const b = await start(sink)
    await b.poll()
    expect(sink.lines()).toEqual(rows(2, 5))
    expect(sink.sent[0]!.value.zeek?.fields).toEqual(FIELDS)
  })

  it('reads a file Zeek deleted to its end through the open handle', async () => {
    writeFileSync(conn(), HEADER + text(rows(0, 1)))
    const sink = createFakeSink()
    const tailer = await start(sink)
    await tailer.poll()
    appendFileSync(conn(), text(rows(1, 2)))
    unlinkSync(conn())
    writeFileSync(conn(), HEADER + text(rows(2, 3)))
    await tailer.poll()
    expect(sink.lines()).toEqual(rows(0, 3))
  })

  it('reads a truncated file again from its start', async () => {
    writeFileSync(conn(), HEADER + text(rows(0, 3)))
    const sink = createFakeSink()
    const tailer = await start(sink)
    await tailer.poll()
    truncateSync(conn(), 0)
    appendFileSync(conn(), HEADER + text(rows(10, 11)))
    await tailer.poll()
    expect(sink.lines()).toEqual([...rows(0, 3), row(10)])
  })

  it('dead-letters an over-long line and lines it cannot place, and goes on', async () => {
    writeFileSync(conn(), `${row(0)}\n${HEADER}${'x'.repeat(2000)}\n${row(1)}\n${row(2)}\textra\n`)
    const sink = createFakeSink()
    const tailer = await start(sink)
    await tailer.poll()
    expect(sink.lines()).toEqual([row(1)])
    expect(sink.rejected.map((r) => [r.code, r.transport, r.peer])).toEqual([
      ['ZEEK_NO_HEADER', 'file', conn()], ['FRAME_TOO_LONG', 'file', conn()], ['ZEEK_FIELD_COUNT', 'file', conn()],
    ])
  })

  it('notices appended lines on its own (fs.watch, or the periodic look)', async () => {
    writeFileSync(conn(), HEADER)
    const sink = createFakeSink()
    await start(sink, { pollMs: 200 })
    appendFileSync(conn(), text(rows(0, 2)))
    await waitFor('the tailer to send two lines', async () => sink.sent.length >= 2, 10_000)
    writeFileSync(join(dir, 'weird.log'), '{"ts":1,"name":"bad_TCP_checksum"}\n')
    await waitFor('the tailer to find a new file', async () => sink.sent.length >= 3, 10_000)
    expect(sink.sent.map((r) => r.value.zeek?.log)).toEqual(['conn', 'conn', 'weird'])
  })
})
