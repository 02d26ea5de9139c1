import { spawn, type ChildProcess } from 'node:child_process'
import { createConnection } from 'node:net'
import { waitFor } from './wait-for.ts'

/** A Redis server of the test's own, so a test can stop and restart it without touching the shared stack. */
export interface OwnRedis {
  url: string
  port: number
  start(): Promise<void>
  /** SIGKILL: as abrupt as a crash or a network cut */
  kill(): Promise<void>
}

const answers = (port: number) => new Promise<boolean>((resolve) => {
  const socket = createConnection({ host: '127.0.0.1', port }, () => {
    socket.end()
    resolve(true)
  })
  socket.on('error', () => resolve(false))
})

/** A redis-server (from Debian's package, as in the native stack) on `port`, in memory only. */
export function ownRedis(port: number): OwnRedis {
  let child: ChildProcess | null = null
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
      await waitFor(`redis on ${port}`, () => answers(port), 10_000, 50)
    },
    async kill() {
      if (!child) return
      const exited = new Promise((r) => child!.once('exit', r))
      child.kill('SIGKILL')
      await exited
      child = null
    },
  }
}
