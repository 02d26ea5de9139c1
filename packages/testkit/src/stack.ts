import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Where the services of the stack answer. */
export interface StackEnv {
  KAFKA_BROKERS: string
  PG_URL: string
  REDIS_URL: string
  SCHEMA_REGISTRY_URL?: string
}

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const STACK_SCRIPT = join(REPO_ROOT, 'deploy', 'local', 'stack.sh')
const STACK_ENV_FILE = join(REPO_ROOT, '.cache', 'stack', 'stack.env')

/** The stack named by the environment, if it names one (KAFKA_BROKERS, PG_URL and REDIS_URL all set). */
export function stackFromEnv(env: NodeJS.ProcessEnv = process.env): StackEnv | null {
  if (!env.KAFKA_BROKERS || !env.PG_URL || !env.REDIS_URL) return null
  return {
    KAFKA_BROKERS: env.KAFKA_BROKERS, PG_URL: env.PG_URL, REDIS_URL: env.REDIS_URL,
    ...(env.SCHEMA_REGISTRY_URL ? { SCHEMA_REGISTRY_URL: env.SCHEMA_REGISTRY_URL } : {}),
  }
}

/** Starts the native stack (Kafka, Postgres, Redis, a registry when one can be had) unless it runs, and returns where it listens. */
export function startNativeStack(): StackEnv {
  const result = spawnSync('bash', [STACK_SCRIPT, 'up'], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) throw new Error(`deploy/local/stack.sh up failed with exit code ${result.status}`)
  return readStackEnvFile()
}

export function readStackEnvFile(): StackEnv {
  if (!existsSync(STACK_ENV_FILE)) throw new Error(`${STACK_ENV_FILE} is missing: run npm run stack:up`)
  const vars: Record<string, string> = {}
  for (const line of readFileSync(STACK_ENV_FILE, 'utf8').split('\n')) {
    const m = /^(?:export\s+)?([A-Z_]+)=["']?([^"']*)["']?$/.exec(line.trim())
    if (m) vars[m[1]!] = m[2]!
  }
  const stack = stackFromEnv(vars)
  if (!stack) throw new Error(`${STACK_ENV_FILE} does not name KAFKA_BROKERS, PG_URL and REDIS_URL`)
  return stack
}

/** Whether a Docker engine answers here (then testcontainers can start the stack). */
export function dockerAnswers(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5_000 })
    return true
  } catch {
    return false
  }
}
