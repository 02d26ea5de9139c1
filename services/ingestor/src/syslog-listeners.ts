import { createSocket } from 'node:dgram'
import { createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { Logger } from '@vigil/platform'
import type { RawLogSink } from './raw-log-sink.ts'
import { createTcpDeframer } from '@vigil/syslog'

export interface Listener {
  port: number
  close(): Promise<void>
}

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
 * Syslog over TCP with octet-counting or newline framing (RFC 6587), detected per frame. Frames are
 * handled in arrival order per connection, and the socket pauses while the sink applies backpressure.
 */
export async function startSyslogTcp(bind: string, port: number, maxLineBytes: number, sink: RawLogSink, log: Logger): Promise<Listener> {
  const sockets = new Set<Socket>()
  const chains = new Map<Socket, Promise<void>>() // frames of each connection still being handed to the sink
  const server = createServer((socket) => {
    sockets.add(socket)
    const peer = `${socket.remoteAddress}:${socket.remotePort}`
    const deframer = createTcpDeframer({ maxFrameBytes: maxLineBytes })
    let chain: Promise<void> = Promise.resolve()
    const handleFrames = (frames: ReturnType<typeof deframer.push>) => {
      if (frames.length === 0) return
      socket.pause()
      const receivedAt = Date.now()
      chain = chain.then(async () => {
        for (const frame of frames) {
          if (frame.ok) await sink.accept({ bytes: frame.bytes, transport: 'syslog-tcp', peer, receivedAt })
          else await sink.reject({ code: frame.code, reason: frame.reason, preview: frame.preview, length: frame.length, transport: 'syslog-tcp', peer })
        }
      }).catch((err) => log.error({ err, peer }, 'tcp input not handled')).finally(() => {
        if (!socket.destroyed) socket.resume()
      })
      chains.set(socket, chain)
    }
    socket.on('data', (chunk) => handleFrames(deframer.push(chunk)))
    socket.on('end', () => handleFrames(deframer.end()))
    socket.on('error', (err) => log.warn({ err, peer }, 'tcp connection error'))
    socket.on('close', () => {
      sockets.delete(socket)
      void chain.finally(() => chains.delete(socket))
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, bind, () => resolve())
  })
  const actual = (server.address() as AddressInfo).port
  log.info({ bind, port: actual }, 'syslog tcp listening')
  return {
    port: actual,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // Senders reconnect to another instance; what we already read reaches the sink, which flushes after this.
      for (const socket of sockets) socket.end()
      setTimeout(() => sockets.forEach((s) => s.destroy()), 1_000).unref()
      await closed
      await Promise.all(chains.values())
    },
  }
}
