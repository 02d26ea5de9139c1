import { createServer, type AddressInfo, type Socket } from 'node:net'
import type { Logger } from '@vigil/platform'
import type { Frame } from '@vigil/syslog'

export interface Listener {
  port: number
  close(): Promise<void>
}

/** One connection's framing and what to do with its frames. */
export interface FramedConnection {
  push(chunk: Buffer): Frame[]
  end(): Frame[]
  /** Hands one frame to the sink; the socket stays paused until it settles (backpressure). */
  handle(frame: Frame, receivedAt: number): Promise<void>
}

/**
 * A TCP server for line-oriented log input: each connection's frames are handled in arrival order,
 * the socket pauses while they are, and closing stops accepting, ends the connections and waits
 * until what was already read has reached the sink.
 */
export async function startFramedTcpServer(
  name: string, bind: string, port: number, log: Logger, connect: (peer: string) => FramedConnection,
): Promise<Listener> {
  const sockets = new Set<Socket>()
  const chains = new Map<Socket, Promise<void>>() // frames of each connection still being handed to the sink
  const socketsClosed = new Set<Promise<void>>() // each open connection's 'close', after which its last frames are chained
  const server = createServer((socket) => {
    sockets.add(socket)
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socketsClosed.add(socketClosed)
    void socketClosed.then(() => socketsClosed.delete(socketClosed))
    const peer = `${socket.remoteAddress}:${socket.remotePort}`
    const connection = connect(peer)
    let chain: Promise<void> = Promise.resolve()
    const handleFrames = (frames: Frame[]) => {
      if (frames.length === 0) return
      socket.pause()
      const receivedAt = Date.now()
      chain = chain.then(async () => {
        for (const frame of frames) {
          // A frame that fails is logged, and the ones after it are still handed over.
          await connection.handle(frame, receivedAt).catch((err) => log.error({ err, peer }, `${name} input not handled`))
        }
      }).finally(() => {
        if (!socket.destroyed) socket.resume()
      })
      chains.set(socket, chain)
    }
    let ended = false
    const endOfStream = () => {
      if (ended) return
      ended = true
      handleFrames(connection.end())
    }
    socket.on('data', (chunk) => handleFrames(connection.push(chunk)))
    socket.on('end', endOfStream)
    socket.on('error', (err) => log.warn({ err, peer }, `${name} connection error`))
    socket.on('close', () => {
      // A connection reset (RST) closes without 'end': its last line, unterminated, still counts.
      endOfStream()
      sockets.delete(socket)
      void chain.finally(() => chains.delete(socket))
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, bind, () => resolve())
  })
  const actual = (server.address() as AddressInfo).port
  log.info({ bind, port: actual }, `${name} listening`)
  return {
    port: actual,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // Senders reconnect to another instance; what we already read reaches the sink, which flushes after this.
      for (const socket of sockets) socket.end()
      setTimeout(() => sockets.forEach((s) => s.destroy()), 1_000).unref()
      await closed
      // The server says closed before each socket's own 'close' has run (Node emits the socket's later):
      // a connection destroyed or reset now still chains its last frames there.
      await Promise.all(socketsClosed)
      await Promise.all(chains.values())
    },
  }
}
