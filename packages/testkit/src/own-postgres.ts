import { execFile, execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

/** A PostgreSQL server of the test's own, so a test can stop and restart it without touching the shared stack. */
export interface OwnPostgres {
  /** the superuser's URL (trust authentication on loopback), as the stack's PG_URL is used */
  url: string
  /** Stops it as a restart or failover does (fast shutdown: sessions ended, data kept). */
  halt(): Promise<void>
  /** Starts it again on the same port and data; resolves once it accepts queries. */
  resume(): Promise<void>
  /** Stops it and deletes its data. */
  stop(): Promise<void>
}

/** Debian's server binaries, as the native stack uses them (deploy/local/stack.sh installs the package). */
function postgresBin(): string {
  const root = '/usr/lib/postgresql'
  const version = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)).find((v) => existsSync(join(root, v, 'bin', 'postgres'))) : undefined
  if (!version) throw new Error(`no PostgreSQL server under ${root}: \`bash deploy/local/stack.sh up\` installs it`)
  return join(root, version, 'bin')
}

/** Runs a server binary as the postgres OS user when we are root: PostgreSQL refuses to run as root. */
const asPostgres = (command: string, args: string[]): [string, string[]] =>
  userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]

/** initdb in a temporary directory, then a server on `port` (loopback only, no fsync: test data). */
export async function ownPostgres(port: number): Promise<OwnPostgres> {
  const bin = postgresBin()
  const home = mkdtempSync(join(tmpdir(), 'vigil-own-postgres-'))
  if (userInfo().uid === 0) {
    const idOfPostgres = (flag: '-u' | '-g') => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }))
    chownSync(home, idOfPostgres('-u'), idOfPostgres('-g'))
  }
  const data = join(home, 'data')
  await promisify(execFile)(...asPostgres(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--auth=trust']), { timeout: 60_000 })
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`

  const pgCtl = (args: string[]) => asPostgres(join(bin, 'pg_ctl'), ['-D', data, ...args])
  let running = false
  // A test runner that dies must not leave the server behind.
  const killOnExit = () => {
    if (running) execFileSync(...pgCtl(['-m', 'immediate', 'stop']), { stdio: 'ignore' })
  }
  process.on('exit', killOnExit)
  const resume = async () => {
    if (running) return
    const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${home} -c fsync=off -c max_connections=200`
    await promisify(execFile)(...pgCtl(['-l', join(home, 'postgres.log'), '-o', options, '-w', '-t', '30', 'start']), { timeout: 60_000 })
    running = true
  }
  const halt = async () => {
    if (!running) return
    // Fast shutdown ends every session at once, as a restart or a failover does.
    await promisify(execFile)(...pgCtl(['-m', 'fast', '-w', '-t', '30', 'stop']), { timeout: 60_000 })
    running = false
  }
  await resume()
  return {
    url, halt, resume,
    async stop() {
      await halt()
      process.removeListener('exit', killOnExit)
      rmSync(home, { recursive: true, force: true })
    },
  }
}
