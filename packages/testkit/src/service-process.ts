import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync } from 'node:fs'
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import { join } from 'node:path'
import type { ServiceName } from '@vigil/schemas'
import { REPO_ROOT } from './stack.ts'

/** A service running as a real process, as in production: signals, exit codes and logs are real. */
export interface ServiceProcess {
  name: ServiceName
  metricsPort: number
  child: ChildProcess
  logFile: string
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>
  isReady(): Promise<boolean>
  waitReady(timeoutMs?: number): Promise<void>
  /** Sends `signal` and waits for the exit; returns the exit code and how long it took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>
  metrics(): Promise<string>
}

/**
 * A port that is free for both TCP and UDP on every interface, for a test's listener.
 *
 * Chosen below the kernel's ephemeral range (32768 and up): a port the kernel hands out (listen on 0)
 * is free only until the next outgoing connection, and the tests open hundreds of them (Kafka, Redis,
 * Postgres), so one of those could take it before the service binds it (EADDRINUSE, seen in CI).
 * Random within the range so parallel test files rarely pick the same one; the bind check catches
 * the rest. Within one process a port is handed out once: one picked for a service still starting is
 * not bound yet, so the bind check alone could give it to the next service too (CI saw an ingestor's
 * syslog port in use when it bound it).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = FREE_PORT_RANGE.from + Math.floor(Math.random() * (FREE_PORT_RANGE.to - FREE_PORT_RANGE.from))
    // A port handed out earlier may not be bound yet (its service still starting): never twice. It is
    // claimed before the bind check, which awaits: services start side by side and pick ports at once.
    if (handedOut.has(port)) continue
    handedOut.add(port)
    if (await canBind(port)) return port
    handedOut.delete(port)
  }
  throw new Error(`no free port in ${FREE_PORT_RANGE.from}-${FREE_PORT_RANGE.to} after 200 tries`)
}

const FREE_PORT_RANGE = { from: 20_000, to: 32_000 }
/** Ports this process has handed out (a test file's services run as its children). */
const handedOut = new Set<number>()

async function canBind(port: number): Promise<boolean> {
  const tcp = await new Promise<boolean>((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)))
  })
  if (!tcp) return false
  return new Promise<boolean>((resolve) => {
    const socket = createSocket('udp4')
    socket.once('error', () => { socket.close(); resolve(false) })
    socket.bind(port, '0.0.0.0', () => socket.close(() => resolve(true)))
  })
}

/** Starts `services/<name>/src/main.ts` with `env` (on top of PATH and HOME only), logging to `logDir/<name>-<n>.log`. */
export async function startService(name: ServiceName, env: Record<string, string>, logDir: string): Promise<ServiceProcess> {
  mkdirSync(logDir, { recursive: true })
  const metricsPort = env.METRICS_PORT ? Number(env.METRICS_PORT) : await freePort()
  const logFile = join(logDir, `${name}-${metricsPort}.log`)
  const log = createWriteStream(logFile, { flags: 'a' })
  // NODE_ARGS: flags for node itself that NODE_OPTIONS refuses, e.g. --cpu-prof for a benchmark's profile.
  const { NODE_ARGS: nodeArgs = '', ...serviceEnv } = env
  const child = spawn(process.execPath, [...nodeArgs.split(' ').filter(Boolean), '--import', 'tsx', join(REPO_ROOT, 'services', name, 'src', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...serviceEnv, METRICS_PORT: String(metricsPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  // Both into one file, which is ended once both are drained: a pipe that ended it on its own end
  // could leave the other writing after the end. `exited` resolves when the log holds all the
  // process wrote ('exit' can come before the last of it), so a test may read its last lines.
  child.stdout!.pipe(log, { end: false })
  child.stderr!.pipe(log, { end: false })
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => log.end(() => resolve(code))))
  const url = (path: string) => `http://127.0.0.1:${metricsPort}${path}`
  const isReady = async () => {
    try {
      return (await fetch(url('/readyz'))).status === 200
    } catch {
      return false
    }
  }
  return {
    name, metricsPort, child, logFile, exited, isReady,
    // A deadline, not an expectation: a quiet machine starts a service in a few seconds, but one CI run,
    // with its machine loaded, took about 30 s just to load the trainer's code and 60 s was not enough.
    async waitReady(timeoutMs = 180_000) {
      // Not waitFor: a service that exits must fail the wait at once, not when the time is up.
      let exitCode: number | null | undefined
      void exited.then((code) => (exitCode = code))
      const deadline = Date.now() + timeoutMs
      for (;;) {
        if (exitCode !== undefined) throw new Error(`${name} exited (code ${exitCode}) before it was ready; see ${logFile}`)
        if (await isReady()) return
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${name} to be ready; see ${logFile}`)
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    },
    async stop(signal = 'SIGTERM') {
      const started = Date.now()
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const code = await exited
      return { code, ms: Date.now() - started }
    },
    metrics: async () => (await fetch(url('/metrics'))).text(),
  }
}
