import { join } from 'node:path'
import type { ServiceName, Topic } from '@vigil/schemas'
import { freePort, startService, type ServiceProcess } from './service-process.ts'
import type { StackEnv } from './stack.ts'
import { replayOverTcp } from './syslog-replay.ts'
import { createTestDatabase } from './test-database.ts'
import { createTopicReader, type TopicReader } from './topic-reader.ts'
import { waitFor } from './wait-for.ts'

export interface PipelineOptions {
  stack: StackEnv
  /** topic, consumer-group and Redis key prefix: isolates this pipeline from every other on the broker */
  prefix: string
  logDir: string
  /** instances per service; 0 leaves a service out */
  instances?: Partial<Record<ServiceName, number>>
  /** extra settings for every service */
  env?: Record<string, string>
  /** a TCP port for the ingestor's syslog listener; any free port when left out */
  syslogTcpPort?: number
}

export interface Pipeline {
  env: Record<string, string>
  syslogTcpPort: number
  syslogUdpPort: number
  services: Record<ServiceName, ServiceProcess[]>
  reader: TopicReader
  /** Starts one more instance of a service with the pipeline's settings. */
  add(name: ServiceName, env?: Record<string, string>): Promise<ServiceProcess>
  /** The names of the instances that have exited (a crash, unless stopped). */
  exited(): string[]
  /** SIGTERM to every instance; returns their exit codes. */
  stop(): Promise<Array<{ name: string; code: number | null; ms: number }>>
}

const SERVICES: ServiceName[] = ['trainer', 'alerter', 'scorer', 'featurizer', 'ingestor']

/** Starts the five services as real processes against the stack, in a fresh database and topic namespace. */
export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const pgUrl = await createTestDatabase(options.stack.PG_URL, options.prefix.replace(/[^a-z0-9]/gi, '_').replace(/_+$/, '').toLowerCase())
  const syslogTcpPort = options.syslogTcpPort ?? await freePort()
  const syslogUdpPort = await freePort()
  const env: Record<string, string> = {
    KAFKA_BROKERS: options.stack.KAFKA_BROKERS,
    ...(options.stack.SCHEMA_REGISTRY_URL ? { SCHEMA_REGISTRY_URL: options.stack.SCHEMA_REGISTRY_URL } : {}),
    PG_URL: pgUrl,
    REDIS_URL: options.stack.REDIS_URL,
    REDIS_KEY_PREFIX: options.prefix,
    TOPIC_PREFIX: options.prefix,
    SYSLOG_BIND: '127.0.0.1',
    SYSLOG_TCP_PORT: String(syslogTcpPort),
    SYSLOG_UDP_PORT: String(syslogUdpPort),
    LOG_LEVEL: 'info',
    ...options.env,
  }
  const services = Object.fromEntries(SERVICES.map((n) => [n, [] as ServiceProcess[]])) as unknown as Record<ServiceName, ServiceProcess[]>
  const add = async (name: ServiceName, extra: Record<string, string> = {}) => {
    const instance = await startService(name, { ...env, ...extra, INSTANCE_ID: `${name}-${services[name].length + 1}` }, join(options.logDir))
    services[name].push(instance)
    return instance
  }
  const stopAll = () => Promise.all(SERVICES.flatMap((n) => services[n]).map(async (s) => ({ name: s.name, ...(await s.stop('SIGTERM')) })))
  // All services at once, as a deployment starts them: they race to create the topics, register the
  // schemas and migrate the database, and must all come up. Instances of one service start in turn.
  const started = await Promise.allSettled(SERVICES.map(async (name) => {
    const count = options.instances?.[name] ?? 1
    for (let i = 0; i < count; i++) {
      const instance = await add(name)
      // The scorer is not ready until a first model exists; the rest must be ready before input flows.
      if (name !== 'scorer') await instance.waitReady()
    }
  }))
  const failed = started.find((s) => s.status === 'rejected')
  if (failed) {
    // The caller gets no pipeline to stop: the services that did start must not outlive its test.
    await stopAll()
    throw failed.reason
  }
  const reader = await createTopicReader(options.stack.KAFKA_BROKERS, options.prefix, options.stack.SCHEMA_REGISTRY_URL)
  return {
    env, syslogTcpPort, syslogUdpPort, services, reader, add,
    exited: () => SERVICES.flatMap((n) => services[n]).filter((s) => s.child.exitCode !== null || s.child.signalCode !== null).map((s) => s.name),
    async stop() {
      await reader.close().catch(() => {})
      return stopAll()
    },
  }
}

/** Something the services depend on that a test can take away and bring back (a broker, a database). */
export interface Outage {
  halt(): Promise<void>
  resume(): Promise<void>
}

/**
 * Replays `lines` over syslog across an outage: the first half, and once `firstHalfOn` holds that
 * many messages, `outage.halt()`; the second half arrives while it is down, for `downMs`; then
 * `outage.resume()`. Returns the services that exited while it was down.
 */
export async function replayAcrossOutage(pipeline: Pipeline, lines: string[], outage: Outage, options: { firstHalfOn: Topic<unknown>; downMs: number }): Promise<string[]> {
  const half = Math.floor(lines.length / 2)
  await replayOverTcp('127.0.0.1', pipeline.syslogTcpPort, lines.slice(0, half))
  await waitFor(`the first ${half} lines on ${options.firstHalfOn.name}`, async () => (await pipeline.reader.count(options.firstHalfOn)) >= half, 120_000, 200)
  await outage.halt()
  await replayOverTcp('127.0.0.1', pipeline.syslogTcpPort, lines.slice(half))
  await new Promise((r) => setTimeout(r, options.downMs))
  const exitedWhileDown = pipeline.exited()
  await outage.resume()
  return exitedWhileDown
}
