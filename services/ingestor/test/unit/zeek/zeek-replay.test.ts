import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { readZeekStream } from '@vigil/testkit'
import { createLineDeframer } from '../../../src/zeek/line-deframer.ts'
import { createZeekHeaderTracker, sendZeekFrame } from '../../../src/zeek/zeek-header-tracker.ts'
import { createFakeSink } from './fake-sink.ts'
import { zeekSampleFiles } from './zeek-samples.ts'

// npm start replays a Zeek log as a Zeek host streams it (testkit's readZeekStream) and waits for as
// many raw-logs records as it counted: the count must be what this listener makes of the stream.

/** The records the Zeek TCP listener makes of a stream, and what it refused. */
async function ingested(bytes: Buffer) {
  const sink = createFakeSink()
  const tracker = createZeekHeaderTracker()
  const deframer = createLineDeframer({ maxLineBytes: 64 * 1024 })
  for (const frame of [...deframer.push(bytes), ...deframer.end()]) await sendZeekFrame(frame, tracker, sink, { transport: 'zeek-tcp', peer: '127.0.0.1:1' }, 1)
  await sink.flush()
  return { records: sink.lines().length, rejected: sink.rejected }
}

describe('readZeekStream', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zeek-replay-'))
  const file = (name: string, text: string | Buffer) => {
    const path = join(dir, name)
    writeFileSync(path, text)
    return path
  }

  it('reads every Zeek sample as the listener does: one record a data line, in TSV or JSON, gzipped too', async () => {
    const samples = zeekSampleFiles()
    expect(samples.length).toBeGreaterThan(50)
    for (const path of samples) {
      const stream = readZeekStream(path)
      expect(stream, path).not.toBeNull()
      expect(await ingested(stream!.bytes), path).toEqual({ records: stream!.records, rejected: [] })
    }
    const zipped = readZeekStream(file('conn.log.gz', gzipSync(Buffer.from('{"ts":1.5,"uid":"C1","id.orig_h":"192.0.2.1"}\n'))))
    expect(zipped?.records).toBe(1)
    expect(await ingested(zipped!.bytes)).toEqual({ records: 1, rejected: [] })
  })

  it('counts as the listener does where lines end in CRLF, blank lines come between, and an editor left a byte-order mark', async () => {
    const stream = readZeekStream(file('conn.json', '\ufeff\r\n{"ts":1.5,"uid":"C1","id.orig_h":"192.0.2.1"}\r\n\r\n{"ts":2.5,"uid":"C2","id.orig_h":"192.0.2.1"}\r\n'))
    expect(stream?.records).toBe(2)
    expect(await ingested(stream!.bytes)).toEqual({ records: 2, rejected: [] })
  })

  it('takes a JSON log named as Zeek\'s whatever its first record (a weird not tied to a connection), and leaves what is not Zeek\'s alone', () => {
    expect(readZeekStream(file('weird.log', '{"ts":1.5,"name":"truncated_header","notice":false}\n'))?.records).toBe(1)
    expect(readZeekStream(file('app.log', '{"level":"info","ts":1.5,"caller":"main.go:10","msg":"started"}\n'))).toBeNull()
    expect(readZeekStream(file('messages', 'Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186\n'))).toBeNull()
    expect(readZeekStream(file('syslog.json', '{"timestamp":"2026-11-24T10:00:00Z","host":"web1","programname":"sshd","msg":"x"}\n'))).toBeNull()
    expect(basename(file('conn.log', '#separator \\x09\n#path\tconn\n#fields\tts\tuid\n#types\ttime\tstring\n1.5\tC1\n'))).toBe('conn.log')
    expect(readZeekStream(join(dir, 'conn.log'))?.records).toBe(1)
  })
})
