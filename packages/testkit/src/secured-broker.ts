import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Kafka, logLevel } from 'kafkajs'
import { freePort } from './service-process.ts'
import { REPO_ROOT } from './stack.ts'
import { waitFor } from './wait-for.ts'

/** A single-node KRaft broker of the test's own whose client listener only accepts SASL/SCRAM-SHA-512. */
export interface SecuredBroker {
  /** the SASL_PLAINTEXT listener (SCRAM-SHA-512 only): the address under test */
  brokers: string
  username: string
  password: string
  /** the settings a service needs to reach `brokers` (KAFKA_BROKERS and the KAFKA_SASL_* variables) */
  env: Record<string, string>
  /**
   * A PLAINTEXT listener of the same broker, for test harness readers that cannot authenticate.
   * Metadata answers each client with the addresses of the listener it came in on, so a client of
   * `brokers` never learns this one.
   */
  plaintextBrokers: string
  /** listener names as the request log writes them; the controller's also logs requests the broker forwarded to it (e.g. CreateTopics), under the client's principal */
  listeners: { sasl: 'SASL'; plaintext: 'HARNESS'; controller: 'CONTROLLER' }
  /** broker logs: server.log, and requests.log with one line per request naming its listener and principal */
  logDir: string
  /** The requests the broker served, as its request log records them. */
  requests(): BrokerRequest[]
  /** The broker's own account of refused connections (server.log's `Failed authentication` lines), with its reason each. */
  failedAuthentications(): string[]
  /** Stops the broker as an operator or a crash-free restart does (SIGTERM, then SIGKILL after 20 s), keeping its data. */
  halt(): Promise<void>
  /** Starts the halted broker again on the same ports and data; resolves once it serves clients. */
  resume(): Promise<void>
  /** Stops the broker (SIGTERM, then SIGKILL after 20 s) and deletes its data; the logs stay. */
  stop(): Promise<void>
}

export interface BrokerRequest {
  clientId: string
  /** e.g. `User:vigil`, or `User:ANONYMOUS` on a listener without authentication */
  principal: string
  listener: string
  apiKey: string
}

/** Kafka's jars, as deploy/local/stack.sh resolves them from Maven Central (Kafka 3.9: SCRAM users at format time). */
const KAFKA_LIBS = join(REPO_ROOT, '.cache', 'stack', 'kafka', 'libs')
const MECHANISM = 'SCRAM-SHA-512'

/**
 * Starts a broker in a temporary directory on free loopback ports: KRaft combined mode, a
 * SASL_PLAINTEXT listener with a SCRAM-SHA-512 user created when the storage is formatted, a
 * PLAINTEXT listener for harness readers (and the broker's own inter-broker traffic), and a
 * controller listener. Resolves once a client with the credentials can list topics.
 */
export async function startSecuredBroker(options: { logDir: string; username?: string }): Promise<SecuredBroker> {
  if (!existsSync(KAFKA_LIBS) || !readdirSync(KAFKA_LIBS).some((f) => /^kafka_2\.13-.*\.jar$/.test(f))) {
    throw new Error(`Kafka's jars are not in ${KAFKA_LIBS}: \`bash deploy/local/stack.sh up\` resolves them`)
  }
  const username = options.username ?? 'vigil'
  // Hex: SCRAM's format-time syntax ([name=..,password=..]) has no escapes.
  const password = randomBytes(18).toString('hex')
  const [saslPort, plaintextPort, controllerPort] = [await freePort(), await freePort(), await freePort()]
  const home = mkdtempSync(join(tmpdir(), 'vigil-secured-broker-'))
  mkdirSync(options.logDir, { recursive: true })
  const properties = join(home, 'server.properties')
  writeFileSync(properties, [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=SASL://127.0.0.1:${saslPort},HARNESS://127.0.0.1:${plaintextPort},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=SASL://127.0.0.1:${saslPort},HARNESS://127.0.0.1:${plaintextPort}`,
    'listener.security.protocol.map=SASL:SASL_PLAINTEXT,HARNESS:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=HARNESS',
    'controller.listener.names=CONTROLLER',
    `sasl.enabled.mechanisms=${MECHANISM}`,
    `listener.name.sasl.${MECHANISM.toLowerCase()}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    `log.dirs=${join(home, 'data')}`,
    'auto.create.topics.enable=false',
    'num.partitions=4',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'num.network.threads=2',
    'num.io.threads=2',
    '',
  ].join('\n'))
  const log4j = join(home, 'log4j.properties')
  writeFileSync(log4j, [
    'log4j.rootLogger=INFO, server',
    'log4j.appender.server=org.apache.log4j.FileAppender',
    `log4j.appender.server.File=${join(options.logDir, 'server.log')}`,
    'log4j.appender.server.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.server.layout.ConversionPattern=[%d] %p %m (%c)%n',
    // DEBUG on the request logger writes one JSON line per completed request, with its listener and principal.
    'log4j.logger.kafka.request.logger=DEBUG, requests',
    'log4j.additivity.kafka.request.logger=false',
    'log4j.appender.requests=org.apache.log4j.FileAppender',
    `log4j.appender.requests.File=${join(options.logDir, 'requests.log')}`,
    'log4j.appender.requests.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.requests.layout.ConversionPattern=%m%n',
    '',
  ].join('\n'))

  const classPath = `${KAFKA_LIBS}/*`
  const clusterId = randomBytes(16).toString('base64url').replace(/^-/, 'A')
  await promisify(execFile)('java', [
    '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dlog4j.configuration=file:${join(REPO_ROOT, 'deploy', 'local', 'kafka', 'tools-log4j.properties')}`,
    '-cp', classPath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties,
    '--add-scram', `${MECHANISM}=[name=${username},password=${password}]`,
  ], { timeout: 60_000 })

  const out = createWriteStream(join(options.logDir, 'kafka.out'), { flags: 'a' })
  /** The broker's JVM, while it runs; null once halted. */
  let running: { child: ChildProcess; exited: Promise<void> } | null = null
  // A test runner that dies must not leave the JVM behind.
  const killOnExit = () => running?.child.kill('SIGKILL')
  process.on('exit', killOnExit)

  const launch = () => {
    const child = spawn('java', [
      '-Xms128m', '-Xmx512m', '-XX:+UseSerialGC', '-Djava.awt.headless=true', `-Dvigil.secured-broker=${home}`,
      `-Dlog4j.configuration=file:${log4j}`, `-Dkafka.logs.dir=${options.logDir}`, '-cp', classPath, 'kafka.Kafka', properties,
    ], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout!.pipe(out, { end: false })
    child.stderr!.pipe(out, { end: false })
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const launched = { child, exited }
    running = launched
    void exited.then(() => {
      if (running === launched) running = null
    })
  }
  const halt = async () => {
    const current = running
    if (!current) return
    current.child.kill('SIGTERM')
    const timer = setTimeout(() => current.child.kill('SIGKILL'), 20_000)
    await current.exited
    clearTimeout(timer)
  }

  const brokers = `127.0.0.1:${saslPort}`
  const stop = async () => {
    await halt()
    process.removeListener('exit', killOnExit)
    out.end() // the broker's output is piped without ending it, so that a resumed broker appends
    rmSync(home, { recursive: true, force: true })
  }
  const kafka = new Kafka({
    clientId: 'secured-broker-probe', brokers: [brokers], sasl: { mechanism: 'scram-sha-512', username, password },
    connectionTimeout: 2_000, retry: { retries: 0 }, logLevel: logLevel.NOTHING,
  })
  const waitServing = () => waitFor(`the secured broker on ${brokers} (logs: ${options.logDir})`, async () => {
    if (!running) throw new Error(`the broker exited during startup; see ${join(options.logDir, 'server.log')}`)
    const admin = kafka.admin()
    try {
      await admin.connect()
      await admin.listTopics()
      return true
    } catch {
      return false
    } finally {
      await admin.disconnect().catch(() => {})
    }
  }, 90_000, 500)

  try {
    launch()
    await waitServing()
  } catch (err) {
    await stop()
    throw err
  }

  return {
    brokers, username, password,
    env: { KAFKA_BROKERS: brokers, KAFKA_SASL_MECHANISM: MECHANISM.toLowerCase(), KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password },
    plaintextBrokers: `127.0.0.1:${plaintextPort}`,
    listeners: { sasl: 'SASL', plaintext: 'HARNESS', controller: 'CONTROLLER' },
    logDir: options.logDir,
    requests: () => readRequestLog(join(options.logDir, 'requests.log')),
    failedAuthentications: () => readFileSync(join(options.logDir, 'server.log'), 'utf8').split('\n').filter((l) => l.includes('] Failed authentication with ')),
    halt,
    async resume() {
      if (running) return
      launch()
      await waitServing()
    },
    stop,
  }
}

/** Parses the broker's request log (`Completed request:{json}` lines). */
function readRequestLog(path: string): BrokerRequest[] {
  if (!existsSync(path)) return []
  const out: BrokerRequest[] = []
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const start = line.indexOf('{')
    if (!line.startsWith('Completed request:') || start < 0) continue
    const entry = JSON.parse(line.slice(start)) as { requestHeader?: { clientId?: string; requestApiKeyName?: string }; principal?: string; listener?: string }
    out.push({
      clientId: entry.requestHeader?.clientId ?? '', principal: entry.principal ?? '', listener: entry.listener ?? '', apiKey: entry.requestHeader?.requestApiKeyName ?? '',
    })
  }
  return out
}
