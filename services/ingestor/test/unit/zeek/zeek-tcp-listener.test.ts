import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { createLogger } from '@vigil/platform'
import { sendTcpBytes, waitFor } from '@vigil/testkit'
import { startZeekTcpListener } from '../../../src/zeek/zeek-tcp-listener.ts'
import { createFakeSink } from './fake-sink.ts'
import { closedAfterEach } from '../closed-after-each.ts'

const log = createLogger('ingestor', 'silent', 'test')
const fixture = (file: string) => readFileSync(fileURLToPath(new URL(`../../../../../test/fixtures/${file}`, import.meta.url)))
const dataLines = (bytes: Buffer) => bytes.toString('utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'))

describe('startZeekTcpListener', () => {
  const closing = closedAfterEach()

  it('sends each data line with the header of its own connection, keyed by the peer host', async () => {
    const sink = createFakeSink()
    const listener = closing(await startZeekTcpListener('127.0.0.1', 0, 64 * 1024, sink, log))
    const weird = fixture('zeek-wrccdc2018/zeek-default/weird.log')
    const conn = fixture('stratosphere-zeek/002-zeek-scenario-port-scanning/conn.log')
    const connLines = dataLines(conn).slice(0, 50)
    // JSON without _path: the sender names the log first, as TSV output does.
    await Promise.all([
      sendTcpBytes('127.0.0.1', listener.port, weird),
      sendTcpBytes('127.0.0.1', listener.port, Buffer.from(`#path\tconn\n${connLines.join('\n')}\n`)),
    ])
    const expected = dataLines(weird).length + connLines.length
    await waitFor('every line to reach the sink', async () => sink.pending.length >= expected, 10_000)
    await sink.flush()

    expect(sink.rejected).toEqual([])
    const records = sink.sent.map((r) => r.value)
    expect(records.filter((r) => r.zeek?.log === 'weird').map((r) => r.line)).toEqual(dataLines(weird))
    expect(records.filter((r) => r.zeek?.log === 'conn').map((r) => r.line)).toEqual(connLines)
    for (const { key, value } of sink.sent) {
      expect(key).toBe('127.0.0.1')
      expect(value).toMatchObject({ transport: 'zeek-tcp', syslog: null, peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) })
      expect(value.zeek?.fields?.length ?? 0).toBe(value.zeek?.log === 'weird' ? 11 : 0)
    }
  })

  it('dead-letters lines it cannot place and over-long lines, and keeps going', async () => {
    const sink = createFakeSink()
    const listener = closing(await startZeekTcpListener('127.0.0.1', 0, 1024, sink, log))
    const good = '{"_path":"weird","ts":1521911720.6,"name":"bad_TCP_checksum"}'
    await sendTcpBytes('127.0.0.1', listener.port, Buffer.from([
      '1521911720.600843\tCsPzgh4tp5lHBTnsrf\t10.47.1.152', // TSV before any header
      '{"ts":1521911720.6,"name":"bad_TCP_checksum"}', // JSON without a log type
      `{"_path":"weird","addl":"${'x'.repeat(2000)}"}`,
      good,
    ].join('\n')))
    await waitFor('the good line', async () => sink.pending.length >= 1 && sink.rejected.length >= 3, 10_000)
    expect(sink.rejected.map((r) => r.code)).toEqual(['ZEEK_NO_HEADER', 'ZEEK_UNKNOWN_LOG', 'FRAME_TOO_LONG'])
    expect(sink.rejected.every((r) => r.transport === 'zeek-tcp' && /^127\.0\.0\.1:\d+$/.test(r.peer))).toBe(true)
    expect(sink.rejected[2]!.length).toBeGreaterThan(2000)
    expect(sink.pending.map((r) => r.value.line)).toEqual([good])
  })
})
