import { createSocket } from 'node:dgram'
import type { AddressInfo } from 'node:net'
import { startFramedTcpServer, type Listener } from './framed-tcp-server.ts'
import { DEAD_LETTER_MAX_VALUE_BYTES, type Logger } from '@vigil/platform'
import type { ReceivedInput } from './handle-input.ts'
import type { RawLogSink, RejectedInput } from './raw-log-sink.ts'
import { createTcpDeframer } from '@vigil/syslog'

/**
 * Syslog over UDP: one datagram, one message (RFC 5426). A sender cannot be held back, so each
 * datagram is offered to the sink, which refuses it when its buffer is full. A datagram over
 * `maxLineBytes` is dead-lettered whole (a datagram is at most 64 KiB, within a dead letter), as TCP's are.
 */
export async function startSyslogUdp(bind: string, port: number, maxLineBytes: number, sink: RawLogSink, log: Logger): Promise<Listener> {
  const socket = createSocket({ type: bind.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 8 * 1024 * 1024 })
  socket.on('message', (bytes, remote) => {
    const transport = 'syslog-udp'
    const peer = `${remote.address}:${remote.port}`
    const input: RejectedInput | ReceivedInput = bytes.length > maxLineBytes
      ? { code: 'FRAME_TOO_LONG', reason: `datagram of ${bytes.length} bytes is longer than the limit of ${maxLineBytes}`, preview: bytes, length: bytes.length, transport, peer }
      : { bytes, transport, peer, receivedAt: Date.now() }
    sink.offer(input).catch((err) => log.error({ err }, 'udp input not handled'))
  })
  socket.on('error', (err) => log.error({ err }, 'udp socket error'))
  await new Promise<void>((resolve) => socket.bind(port, bind, resolve))
  const actual = (socket.address() as AddressInfo).port
  log.info({ bind, port: actual }, 'syslog udp listening')
  return { port: actual, close: () => new Promise((resolve) => socket.close(() => resolve())) }
}

/**
 * Syslog over TCP with octet-counting or newline framing (RFC 6587), detected per frame. A line
 * over `maxLineBytes` is dead-lettered whole if it fits in a dead letter, so that a redrive
 * (`npm run dlq -- redrive raw-logs --code FRAME_TOO_LONG`) can still deliver it; a connection
 * reading such a line holds up to that much (256 KiB) instead of the 4 KiB preview.
 */
export function startSyslogTcp(bind: string, port: number, maxLineBytes: number, sink: RawLogSink, log: Logger): Promise<Listener> {
  return startFramedTcpServer('syslog tcp', bind, port, log, (peer) => {
    const deframer = createTcpDeframer({ maxFrameBytes: maxLineBytes, keepWholeBytes: DEAD_LETTER_MAX_VALUE_BYTES })
    return {
      push: (chunk) => deframer.push(chunk),
      end: () => deframer.end(),
      handle: (frame, receivedAt) => frame.ok
        ? sink.accept({ bytes: frame.bytes, transport: 'syslog-tcp', peer, receivedAt })
        : sink.reject({ code: frame.code, reason: frame.reason, preview: frame.preview, length: frame.length, transport: 'syslog-tcp', peer }),
    }
  })
}
