import { createSocket } from 'node:dgram'
import type { AddressInfo } from 'node:net'
import { startFramedTcpServer, type Listener } from './framed-tcp-server.ts'
import type { Logger } from '@vigil/platform'
import type { RawLogSink } from './raw-log-sink.ts'
import { createTcpDeframer } from '@vigil/syslog'

/** Syslog over UDP: one datagram, one message (RFC 5426). */
export async function startSyslogUdp(bind: string, port: number, sink: RawLogSink, log: Logger): Promise<Listener> {
  const socket = createSocket({ type: bind.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 8 * 1024 * 1024 })
  socket.on('message', (bytes, remote) => {
    sink.accept({ bytes, transport: 'syslog-udp', peer: `${remote.address}:${remote.port}`, receivedAt: Date.now() })
      .catch((err) => log.error({ err }, 'udp input not handled'))
  })
  socket.on('error', (err) => log.error({ err }, 'udp socket error'))
  await new Promise<void>((resolve) => socket.bind(port, bind, resolve))
  const actual = (socket.address() as AddressInfo).port
  log.info({ bind, port: actual }, 'syslog udp listening')
  return { port: actual, close: () => new Promise((resolve) => socket.close(() => resolve())) }
}

/**
 * Syslog over TCP with octet-counting or newline framing (RFC 6587), detected per frame.
 */
export function startSyslogTcp(bind: string, port: number, maxLineBytes: number, sink: RawLogSink, log: Logger): Promise<Listener> {
  return startFramedTcpServer('syslog tcp', bind, port, log, (peer) => {
    const deframer = createTcpDeframer({ maxFrameBytes: maxLineBytes })
    return {
      push: (chunk) => deframer.push(chunk),
      end: () => deframer.end(),
      handle: async (frames, receivedAt) => {
        for (const frame of frames) {
          if (frame.ok) await sink.accept({ bytes: frame.bytes, transport: 'syslog-tcp', peer, receivedAt })
          else await sink.reject({ code: frame.code, reason: frame.reason, preview: frame.preview, length: frame.length, transport: 'syslog-tcp', peer })
        }
      },
    }
  })
}
