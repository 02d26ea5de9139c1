import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { createLogger } from '@vigil/platform'
import { sendTcpBytes, waitFor } from '@vigil/testkit'
import { startSyslogTcp } from '../../src/syslog-listeners.ts'
import { createFakeSink } from './zeek/fake-sink.ts'
import { closedAfterEach } from './closed-after-each.ts'

const log = createLogger('ingestor', 'silent', 'test')
const line = (n: number) => `<38>Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for invalid user u${n} from 173.234.31.186 port 38926 ssh2`

describe('startFramedTcpServer (through syslog TCP)', () => {
  const closing = closedAfterEach()

  it('hands over the last, unterminated line of a connection the sender reset (RST, no FIN)', async () => {
    const sink = createFakeSink()
    const tcp = closing(await startSyslogTcp('127.0.0.1', 0, 64 * 1024, sink, log))
    const socket = connect(tcp.port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write(`${line(0)}\n${line(1)}`)
    await waitFor('the first line', () => sink.pending.length === 1, 10_000)
    socket.resetAndDestroy()
    await waitFor('the unterminated line', () => sink.pending.length === 2, 10_000)
    expect(sink.pending.map((r) => r.value.line)).toEqual([line(0), line(1)])
  })

  it('has handed over a connection\'s last, unterminated line when close() resolves, though the sender never ended its side', async () => {
    const sink = createFakeSink()
    const listener = await startSyslogTcp('127.0.0.1', 0, 64 * 1024, sink, log)
    // A sender that keeps its side open (no FIN back): close() destroys it after its grace second.
    const socket = connect({ port: listener.port, host: '127.0.0.1', allowHalfOpen: true })
    socket.on('error', () => {})
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write(`${line(0)}\n${line(1)}`)
    await waitFor('the first line', () => sink.pending.length === 1, 10_000)
    await listener.close()
    // what the ingestor's shutdown flushes next, so it must all be there now
    expect(sink.pending.map((r) => r.value.line)).toEqual([line(0), line(1)])
    socket.destroy()
  })

  it('logs a frame the sink fails on and still hands over the frames after it', async () => {
    const sink = createFakeSink()
    const failing = { ...sink, accept: async (input: Parameters<typeof sink.accept>[0]) => {
      if (input.bytes.toString().includes('u1 ')) throw new Error('a bug met by one line')
      return sink.accept(input)
    } }
    const tcp = closing(await startSyslogTcp('127.0.0.1', 0, 64 * 1024, failing, log))
    await sendTcpBytes('127.0.0.1', tcp.port, Buffer.from(`${line(0)}\n${line(1)}\n${line(2)}\n`))
    await waitFor('the line after the failed one', () => sink.pending.length === 2, 10_000)
    expect(sink.pending.map((r) => r.value.line)).toEqual([line(0), line(2)])
  })
})
