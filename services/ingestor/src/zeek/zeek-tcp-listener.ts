import { createServer, type AddressInfo, type Socket } from 'node:net'
import type { Frame } from '@vigil/syslog'
import type { Logger } from '@vigil/platform'
import type { RawLogSink } from '../raw-log-sink.ts'
import type { Listener } from '../syslog-listeners.ts'
import { createLineDeframer } from './line-deframer.ts'
import { createZeekHeaderTracker, sendZeekFrame } from './zeek-header-tracker.ts'

/**
 * Zeek output over TCP, one line per record: TSV with its `#` header lines (remembered per
 * connection, attached to each data line, never sent themselves) or JSON (log type from `_path`, a
 * wrapper key, or a first `#path<TAB>conn` line). Lines are handled in arrival order per connection,
 * and the socket pauses while the sink applies backpressure. Records are keyed by the peer's host.
 */
export async function startZeekTcpListener(bind: string, port: number, maxLineBytes: number, sink: RawLogSink, log: Logger): Promise<Listener> {
  const sockets = new Set<Socket>()
  const chains = new Map<Socket, Promise<void>>() // lines of each connection still being handed to the sink
  const server = createServer((socket) => {
    sockets.add(socket)
    const peer = `${socket.remoteAddress}:${socket.remotePort}`
    const source = { transport: 'zeek-tcp' as const, peer }
    const deframer = createLineDeframer({ maxLineBytes })
    const tracker = createZeekHeaderTracker()
    let chain: Promise<void> = Promise.resolve()
    const handleFrames = (frames: Frame[]) => {
      if (frames.length === 0) return
      socket.pause()
      const receivedAt = Date.now()
      chain = chain.then(async () => {
        for (const frame of frames) await sendZeekFrame(frame, tracker, sink, source, receivedAt)
      }).catch((err) => log.error({ err, peer }, 'zeek tcp input not handled')).finally(() => {
        if (!socket.destroyed) socket.resume()
      })
      chains.set(socket, chain)
    }
    socket.on('data', (chunk) => handleFrames(deframer.push(chunk)))
    socket.on('end', () => handleFrames(deframer.end()))
    socket.on('error', (err) => log.warn({ err, peer }, 'zeek tcp connection error'))
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
  log.info({ bind, port: actual }, 'zeek tcp listening')
  return {
    port: actual,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // What we already read reaches the sink, which flushes after this.
      for (const socket of sockets) socket.end()
      setTimeout(() => sockets.forEach((s) => s.destroy()), 1_000).unref()
      await closed
      await Promise.all(chains.values())
    },
  }
}
