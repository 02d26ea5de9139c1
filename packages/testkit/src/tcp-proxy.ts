import net from 'node:net'

export interface TcpProxy {
  port: number
  /** Starts forwarding connections on `port` to the target. */
  open(): Promise<void>
  /** Refuses new connections and cuts the open ones, as a dependency that went away. */
  close(): Promise<void>
}

/**
 * A TCP forwarder on `port` to `target`, opened and closed by a test: a dependency shared by every
 * test (the stack's schema registry) taken away from one client and given back, without stopping it.
 */
export function tcpProxy(port: number, target: { host: string; port: number }): TcpProxy {
  let server: net.Server | null = null
  const sockets = new Set<net.Socket>()
  return {
    port,
    async open() {
      if (server) return
      const listening = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host)
        for (const socket of [client, upstream]) {
          sockets.add(socket)
          socket.on('close', () => sockets.delete(socket))
          socket.on('error', () => {
            client.destroy()
            upstream.destroy()
          })
        }
        client.pipe(upstream)
        upstream.pipe(client)
      })
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject)
        listening.listen(port, '127.0.0.1', () => resolve())
      })
      server = listening
    },
    async close() {
      const listening = server
      server = null
      if (!listening) return
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => listening.close(() => resolve()))
    },
  }
}

/** `url` with its host and port replaced by the proxy's (127.0.0.1:port). */
export function throughProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url)
  u.hostname = '127.0.0.1'
  u.port = String(proxy.port)
  return u.toString().replace(/\/$/, '')
}

/** The host and port a URL points at. */
export function endpointOf(url: string): { host: string; port: number } {
  const u = new URL(url)
  return { host: u.hostname, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) }
}
