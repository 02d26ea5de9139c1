import type { ServiceName } from '@vigil/schemas'
import { ConfigError, type BaseConfig } from './config.ts'
import { startHttpServer } from './http-server.ts'
import { createKafkaRuntime, type KafkaRuntime } from './kafka.ts'
import { createLogger, type Logger } from './logger.ts'
import { createMetrics, type Metrics } from './metrics.ts'

/** Anything that holds a resource: closed once, at shutdown. */
export interface Closable {
  close(): Promise<void>
}

export interface ServiceContext<C extends BaseConfig> {
  config: C
  log: Logger
  metrics: Metrics
  kafka: KafkaRuntime
  /** Readiness as /readyz reports it. Services that declare `readiness: 'manual'` call this; others are ready when main returns. */
  setReady(ready: boolean): void
  /** Registers resources to close at shutdown, after the consumers stop and before the producer closes; closed in reverse order. */
  onShutdown(...resources: Closable[]): void
}

export interface ServiceDefinition<C extends BaseConfig> {
  name: ServiceName
  loadConfig: (env: Record<string, string | undefined>) => C
  readiness?: 'auto' | 'manual'
}

/**
 * Runs a service: parses its config (or exits 1 naming each bad variable), starts logs, metrics
 * and probes, waits for the schema registry and a broker, creates the topics, runs `main`, and on
 * SIGTERM or SIGINT shuts down once and in order: not ready, consumers finish their batch and
 * commit, resources close, the producer flushes, exit 0. A second signal or the timeout exits 1.
 */
export async function runService<C extends BaseConfig>(definition: ServiceDefinition<C>, main: (ctx: ServiceContext<C>) => Promise<void>): Promise<void> {
  let config: C
  try {
    // The one read of the environment; each service's config.ts says what it may hold.
    // eslint-disable-next-line no-restricted-properties
    config = definition.loadConfig(process.env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    for (const problem of err.problems) process.stderr.write(`${definition.name}: config error: ${problem}\n`)
    process.exit(1)
  }
  const log = createLogger(definition.name, config.LOG_LEVEL, config.INSTANCE_ID)
  log.info({ config }, 'starting')
  const metrics = createMetrics(definition.name)
  let ready = false
  let stopping = false
  const setReady = (value: boolean) => {
    ready = value && !stopping
    metrics.ready.set(ready ? 1 : 0)
  }
  const resources: Closable[] = []
  let kafka: KafkaRuntime | null = null
  const http = await startHttpServer(config.METRICS_PORT, metrics, { ready: () => ready })
  log.info({ port: http.port }, 'serving /metrics, /healthz, /readyz')

  let shutdownPromise: Promise<never> | null = null
  const shutdown = (exitCode: number, reason: string): Promise<never> => {
    if (shutdownPromise) {
      if (reason.startsWith('SIG')) {
        log.error({ reason }, 'second signal during shutdown: exiting now')
        process.exit(1)
      }
      return shutdownPromise
    }
    stopping = true
    setReady(false)
    log.info({ reason }, 'shutting down')
    const timer = setTimeout(() => {
      log.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out')
      process.exit(1)
    }, config.SHUTDOWN_TIMEOUT_MS)
    timer.unref()
    shutdownPromise = (async () => {
      try {
        if (kafka) await kafka.stopConsumers()
        for (const resource of resources.reverse()) await resource.close()
        if (kafka) await kafka.closeProducer()
        await http.close()
        log.info({ exitCode }, 'stopped')
      } catch (err) {
        log.error({ err }, 'error during shutdown')
        exitCode = 1
      }
      process.exit(exitCode)
    })()
    return shutdownPromise
  }
  const fatal = (err: unknown) => {
    log.fatal({ err }, 'fatal error')
    void shutdown(1, 'fatal error')
  }
  process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'))
  process.on('SIGINT', () => void shutdown(0, 'SIGINT'))
  process.on('uncaughtException', fatal)
  process.on('unhandledRejection', fatal)

  try {
    kafka = await createKafkaRuntime(definition.name, config, log, metrics, fatal)
    await kafka.waitForBroker()
    await kafka.ensureTopics()
    await main({ config, log, metrics, kafka, setReady, onShutdown: (...r) => resources.push(...r) })
    if ((definition.readiness ?? 'auto') === 'auto') setReady(true)
    log.info('started')
  } catch (err) {
    fatal(err)
  }
}
