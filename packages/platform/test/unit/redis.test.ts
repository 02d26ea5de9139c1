import { createServer, type AddressInfo, type Socket } from 'node:net'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createRedis, UnreachableError, waitForRedis } from '../../src/index.ts'

const log = pino({ level: 'silent' })

/**
 * A TCP server that speaks just enough RESP for ioredis's connect: `answer` gets each command's name
 * (AUTH, INFO, CLIENT ...) and returns the raw reply.
 */
async function fakeRedis(answer: (command: string) => string, port = 0): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    let buffered = ''
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1')
      // Each command is an array of bulk strings: *<n>\r\n then n times $<len>\r\n<bytes>\r\n.
      for (;;) {
        const parts = buffered.split('\r\n')
        const count = /^\*(\d+)$/.exec(parts[0] ?? '')
        if (!count || parts.length < 1 + 2 * Number(count[1]) + 1) return
        const used = parts.slice(0, 1 + 2 * Number(count[1]))
        buffered = buffered.slice(used.join('\r\n').length + 2)
        socket.write(answer(used[2]!.toUpperCase()))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => {
      server.close(() => resolve())
      sockets.forEach((s) => s.destroy())
    }),
  }
}

const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = await fakeRedis(() => '')
  await server.close()
  return server.port
}

describe('waitForRedis', () => {
  const cleanup: Array<() => Promise<unknown>> = []
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step()
  })
  const client = (port: number, password?: string) => {
    const redis = createRedis({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_KEY_PREFIX: '', ...(password ? { REDIS_PASSWORD: password } : {}) })
    cleanup.push(() => redis.close())
    return redis
  }
  const serve = async (answer: (command: string) => string, port?: number) => {
    const server = await fakeRedis(answer, port)
    cleanup.push(() => server.close())
    return server
  }

  it('fails at once, naming Redis, when it refuses the password', async () => {
    const server = await serve(() => '-WRONGPASS invalid username-password pair or user is disabled.\r\n')
    const started = Date.now()
    await expect(waitForRedis(client(server.port, 'wrong'), log, { timeoutMs: 60_000, retryMs: 50 })).rejects.toThrow(
      new Error(`redis at 127.0.0.1:${server.port} refused the connection: WRONGPASS invalid username-password pair or user is disabled.`),
    )
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('fails at once when Redis wants a password and none is set', async () => {
    const server = await serve((command) => (command === 'INFO' ? '-NOAUTH Authentication required.\r\n' : '+OK\r\n'))
    await expect(waitForRedis(client(server.port), log, { timeoutMs: 60_000, retryMs: 50 })).rejects.toThrow(/^redis at 127\.0\.0\.1:\d+ refused the connection: NOAUTH Authentication required\.$/)
  })

  it('gives up with an UnreachableError when nothing answers within the time', async () => {
    const port = await closedPort()
    const started = Date.now()
    const waiting = waitForRedis(client(port), log, { timeoutMs: 1_500, retryMs: 100 })
    await expect(waiting).rejects.toBeInstanceOf(UnreachableError)
    await expect(waiting).rejects.toThrow(/^redis is not reachable after 2 s: connect ECONNREFUSED 127\.0\.0\.1:\d+$/)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400)
    expect(Date.now() - started).toBeLessThan(6_000)
  })

  it('waits for a Redis that starts after the service', async () => {
    const port = await closedPort()
    const redis = client(port)
    const waiting = waitForRedis(redis, log, { timeoutMs: 30_000, retryMs: 100 })
    await new Promise((resolve) => setTimeout(resolve, 500))
    await serve((command) => (command === 'INFO' ? bulk('# Server\r\nloading:0\r\n') : '+OK\r\n'), port)
    await waiting
    expect(redis.status).toBe('ready')
  })
})
