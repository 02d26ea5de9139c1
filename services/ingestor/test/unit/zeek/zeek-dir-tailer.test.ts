import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs'
import type { StatOptions } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createLogger } from '@vigil/platform'
import { waitFor } from '@vigil/testkit'
import { startZeekDirTailer, type ZeekDirTailer, type ZeekDirTailerOptions } from '../../../src/zeek/zeek-dir-tailer.ts'
import { createFakeSink, type FakeSink } from './fake-sink.ts'

// path → the inode stat reports for it: plays ext4 giving a freed inode to the next new file, at once.
const reusedInodes = vi.hoisted(() => new Map<string, bigint>())
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>()
  const stat = async (path: string, options?: StatOptions) => {
    const stats = await actual.stat(path, options)
    const ino = reusedInodes.get(path)
    if (ino !== undefined) stats.ino = typeof stats.ino === 'bigint' ? ino : Number(ino)
    return stats
  }
  return { ...actual, stat }
})

const log = createLogger('ingestor', 'silent', 'test')
const HEADER = [
  '#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tconn', '#open\t2024-01-01-00-00-00',
  '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto',
  '#types\ttime\tstring\taddr\tport\taddr\tport\tenum',
].map((l) => `${l}\n`).join('')
// The header of a later conn.log: only the #open time differs, so its lines sit at the same offsets.
const NEXT_HEADER = HEADER.replace('#open\t2024-01-01-00-00-00', '#open\t2024-01-01-01-00-00')
const FIELDS = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto']
const row = (n: number) => `${1704067200 + n}.000001\tC${n}\t10.0.0.${n % 250}\t${40000 + n}\t10.0.1.1\t22\ttcp`
const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => row(from + i))
const text = (lines: string[]) => lines.map((l) => `${l}\n`).join('')
/** A dns.log JSON line of `bytes` bytes with its newline, so an offset can be made to fall on a line start. */
const dnsLine = (n: number, bytes = 64) => {
  const line = `{"ts":${1704067200 + n},"uid":"D${n}","query":".example"}`
  return line.replace('"query":"', `"query":"${'a'.repeat(bytes - 1 - line.length)}`)
}
const inodeOf = (path: string) => String(statSync(path, { bigint: true }).ino)

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
    reusedInodes.clear()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Closes a tailer as the ingestor's shutdown does, and forgets it: the next start is a restart. */
  const stopped = async (tailer: ZeekDirTailer) => {
    await tailer.close()
    tailers.splice(tailers.indexOf(tailer), 1)
  }
  const start = async (sink: FakeSink, extra: Partial<ZeekDirTailerOptions> = {}) => {
    const tailer = await startZeekDirTailer({ dir, stateFile, sink, log, maxLineBytes: 1024, host: 'sensor-1', pollMs: null, ...extra })
    tailers.push(tailer)
    return tailer
  }
  type SavedState = {
    version: 1
    files: Array<{ path: string; ino: string; offset: number; fingerprint?: { bytes: number; sha256: string } }>
    done: Array<{ path: string; ino: string; fingerprint?: { bytes: number; sha256: string } }>
  }
  const state = () => JSON.parse(readFileSync(stateFile, 'utf8')) as SavedState
  const writeState = (saved: SavedState) => {
    mkdirSync(dirname(stateFile), { recursive: true })
    writeFileSync(stateFile, JSON.stringify(saved))
  }
  const conn = () => join(dir, 'conn.log')
  const dns = () => join(dir, 'dns.log')
  /** Tails conn.log once and stops, leaving its saved position in the state file. */
  const tailConnOnce = async (lines: string[]) => {
    writeFileSync(conn(), HEADER + text(lines))
    const tailer = await start(createFakeSink())
    await tailer.poll()
    await stopped(tailer)
    return state().files[0]!
  }
  /** Starts a tailer on the directory as it is, and polls it once. */
  const restart = async () => {
    const sink = createFakeSink()
    const tailer = await start(sink)
    await tailer.poll()
    return { sink, tailer }
  }

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
    await stopped(a)
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
    await stopped(a)

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
    await stopped(a)

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

  it('hands over again a dead letter that failed, and the lines after it, and never saves a position past them', async () => {
    writeFileSync(conn(), `${HEADER}${text(rows(0, 2))}bad\tline\n${text(rows(3, 6))}`)
    const sink = createFakeSink()
    let failures = 1
    const tailer = await start({ ...sink, reject: async (input) => {
      if (failures-- > 0) throw new Error('could not send to raw-logs.dlq (simulated)')
      return sink.reject(input)
    } })
    await tailer.poll() // fails at the dead letter
    expect(sink.rejected).toEqual([])
    await tailer.poll()
    expect(sink.lines()).toEqual([...rows(0, 2), ...rows(3, 6)])
    expect(sink.rejected.map((r) => r.code)).toEqual(['ZEEK_FIELD_COUNT'])
  })

  it('after a dead letter failed and a crash, reads again from before it: none of the lines after it is lost', async () => {
    writeFileSync(conn(), `${HEADER}${text(rows(0, 2))}bad\tline\n${text(rows(3, 6))}`)
    const sink = createFakeSink()
    const tailer = await start({ ...sink, reject: async () => {
      throw new Error('could not send to raw-logs.dlq (simulated)')
    } })
    await tailer.poll()
    await stopped(tailer) // its checkpoint
    expect(state().files[0]!.offset).toBeLessThanOrEqual(readFileSync(conn(), 'utf8').indexOf('bad'))

    const { sink: after } = await restart()
    // The file was one read: sent again from its start, the lines before the dead letter twice, none missed.
    expect(after.lines()).toEqual([...rows(0, 2), ...rows(3, 6)])
    expect(after.rejected.map((r) => r.code)).toEqual(['ZEEK_FIELD_COUNT'])
  })

  it('reads every file rotated while the ingestor was down, also those it never saw, oldest first and once', async () => {
    writeFileSync(conn(), HEADER + text(rows(0, 2)))
    const a = await start(createFakeSink())
    await a.poll()
    await stopped(a)

    // Down for two rotations: the first rotated file is in the state file, the second was never seen.
    const first = join(dir, 'conn.2024-01-01-00-00-00.log')
    const second = join(dir, 'conn.2024-01-01-01-00-00.log')
    appendFileSync(conn(), text(rows(2, 3)))
    renameSync(conn(), first)
    writeFileSync(conn(), NEXT_HEADER + text(rows(3, 5)))
    renameSync(conn(), second)
    writeFileSync(conn(), HEADER.replace('#open\t2024-01-01-00-00-00', '#open\t2024-01-01-02-00-00') + text(rows(5, 6)))
    const { sink, tailer } = await restart()
    await tailer.poll()
    expect(sink.lines()).toEqual(rows(2, 6))
    expect(sink.sent.map((r) => r.value.peer)).toEqual([first, second, second, conn()])
    expect(sink.sent[1]!.value.zeek?.fields).toEqual(FIELDS)
    expect(state().done.map((d) => d.path).sort()).toEqual([first, second])
    await stopped(tailer)

    const { sink: again } = await restart()
    expect(again.lines()).toEqual([])
  })

  describe('a file under a rotated name it never saw, last written before its last look', () => {
    const warnings = () => {
      const lines: Array<{ msg: string; path?: string }> = []
      return { lines, log: pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l)) }) }
    }
    const archive = () => join(dir, 'conn.2023-12-31-23-00-00.log')
    const writeArchive = () => {
      writeFileSync(archive(), HEADER + text(rows(10, 12)))
      const anHourAgo = new Date(Date.now() - 3_600_000)
      utimesSync(archive(), anHourAgo, anHourAgo)
    }

    it('is left unread, with a warning, and remembered so', async () => {
      await tailConnOnce(rows(0, 2))
      writeArchive()
      const { lines, log: warnLog } = warnings()
      const sink = createFakeSink()
      const tailer = await start(sink, { log: warnLog })
      await tailer.poll()
      await tailer.poll()
      expect(sink.lines()).toEqual([])
      expect(lines.filter((l) => l.path === archive())).toEqual([expect.objectContaining({ msg: expect.stringContaining('not read') })])
      await tailer.close()
      expect(state().done.map((d) => d.path)).toEqual([archive()])
    })

    it('is history on a first start (no state file): left unread, with a warning', async () => {
      writeArchive()
      writeFileSync(conn(), HEADER + text(rows(0, 1)))
      const { lines, log: warnLog } = warnings()
      const sink = createFakeSink()
      const tailer = await start(sink, { log: warnLog })
      await tailer.poll()
      expect(sink.lines()).toEqual(rows(0, 1))
      expect(lines.filter((l) => l.path === archive())).toEqual([expect.objectContaining({ msg: expect.stringContaining('first start') })])
    })
  })

  describe('a saved position belongs to the file it was saved for, not to its inode', () => {
    it('reads from its start, and keeps tailing, a new file that got the inode of a file in the state file', async () => {
      const saved = await tailConnOnce(rows(0, 2))
      // While the ingestor is down, conn.log is rotated and the rotated copy archived; a new dns.log gets its
      // inode. Its first line ends right at the saved offset, so resuming there would skip it without a trace.
      unlinkSync(conn())
      writeFileSync(dns(), text([dnsLine(0, saved.offset), dnsLine(1)]))
      writeState({ ...state(), files: [{ ...saved, ino: inodeOf(dns()) }] })

      const { sink, tailer } = await restart()
      expect(sink.lines()).toEqual([dnsLine(0, saved.offset), dnsLine(1)])
      expect(sink.sent.map((r) => r.value.zeek?.log)).toEqual(['dns', 'dns'])
      appendFileSync(dns(), text([dnsLine(2)]))
      await tailer.poll()
      expect(sink.lines()).toEqual([dnsLine(0, saved.offset), dnsLine(1), dnsLine(2)])
      expect(state().files.map((f) => f.path)).toEqual([dns()])
      expect(state().done).toEqual([])
      await stopped(tailer)

      appendFileSync(dns(), text([dnsLine(3)]))
      const { sink: after } = await restart()
      expect(after.lines()).toEqual([dnsLine(3)])
    })

    it('reads from its start a new conn.log that got the inode of the saved conn.log', async () => {
      const saved = await tailConnOnce(rows(0, 2))
      // Same name, same header length, same line lengths: only the fingerprint (the #open time) tells them apart.
      unlinkSync(conn())
      writeFileSync(conn(), NEXT_HEADER + text(rows(5, 9)))
      writeState({ ...state(), files: [{ ...saved, ino: inodeOf(conn()) }] })

      const { sink } = await restart()
      expect(sink.lines()).toEqual(rows(5, 9))
    })

    it('reads a new file that got the inode of a deleted file it had finished, under the same name', async () => {
      writeFileSync(conn(), HEADER + text(rows(0, 2)))
      const sink = createFakeSink()
      const tailer = await start(sink)
      await tailer.poll()
      const ino = statSync(conn(), { bigint: true }).ino
      unlinkSync(conn())
      await tailer.poll() // read to its end through the handle, which is then closed: the inode is free
      expect(state().done).toEqual([])

      writeFileSync(conn(), NEXT_HEADER + text(rows(2, 4)))
      reusedInodes.set(conn(), ino)
      await tailer.poll()
      expect(sink.lines()).toEqual(rows(0, 4))
    })

    it('resumes a file that grew past the fingerprinted bytes, and fingerprints more of it', async () => {
      const saved = await tailConnOnce(rows(0, 2))
      expect(saved.fingerprint?.bytes).toBe(saved.offset)
      appendFileSync(conn(), text(rows(2, 40)))

      const { sink, tailer } = await restart()
      expect(sink.lines()).toEqual(rows(2, 40))
      await tailer.close()
      expect(state().files[0]!.fingerprint?.bytes).toBe(1024)
    })

    it('tails a saved file renamed to another live *.log name where it is, and never marks it finished', async () => {
      await tailConnOnce(rows(0, 2))
      const renamed = join(dir, 'conn-old.log')
      renameSync(conn(), renamed)
      appendFileSync(renamed, text(rows(2, 3)))

      const { sink, tailer } = await restart()
      expect(sink.lines()).toEqual(rows(2, 3))
      appendFileSync(renamed, text(rows(3, 4)))
      await tailer.poll()
      expect(sink.lines()).toEqual(rows(2, 4))
      expect(state().files.map((f) => f.path)).toEqual([renamed])
      expect(state().done).toEqual([])
    })
  })

  describe('a state file written before fingerprints', () => {
    it('keeps the saved position of a file still under its name, and adds the fingerprint', async () => {
      const saved = await tailConnOnce(rows(0, 2))
      writeState({ version: 1, files: [{ path: saved.path, ino: saved.ino, offset: saved.offset }], done: [] })
      appendFileSync(conn(), text(rows(2, 4)))

      const { sink, tailer } = await restart()
      expect(sink.lines()).toEqual(rows(2, 4))
      await tailer.close()
      expect(state().files[0]!.fingerprint).toEqual({ bytes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) })
    })

    it('reads from its start a file found under another live name, since a reused inode cannot be ruled out', async () => {
      writeFileSync(dns(), text([dnsLine(0, 240), dnsLine(1)]))
      writeState({ version: 1, files: [{ path: conn(), ino: inodeOf(dns()), offset: 240 }], done: [] })

      const { sink, tailer } = await restart()
      expect(sink.lines()).toEqual([dnsLine(0, 240), dnsLine(1)])
      appendFileSync(dns(), text([dnsLine(2)]))
      await tailer.poll()
      expect(sink.lines()).toEqual([dnsLine(0, 240), dnsLine(1), dnsLine(2)])
      expect(state().done).toEqual([])
    })

    it('reads again a file under a live name that it marks finished (what inode-only matching left behind)', async () => {
      writeFileSync(dns(), text([dnsLine(0), dnsLine(1)]))
      writeState({ version: 1, files: [], done: [{ path: dns(), ino: inodeOf(dns()) }] })

      const { sink } = await restart()
      expect(sink.lines()).toEqual([dnsLine(0), dnsLine(1)])
    })
  })
})
