import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Partitioners } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { dlqOf, topics, type Alert, type FeatureRecord } from '@vigil/schemas'
import { withKafkaRetries } from '@vigil/platform'
import {
  freePort, OPENSSH_SAMPLE, readLinesAsRecent, replayOverTcp, REPO_ROOT, startPipeline, uniquePrefix, waitFor, type Pipeline,
} from '@vigil/testkit'

// The real shippers, as Debian packages them, writing the OpenSSH sample to raw-logs: rsyslog's
// omkafka and syslog-ng's kafka-c() (each with its default template and a JSON one) and kcat. Each
// shipper feed goes to a pipeline of its own (featurizer, scorer, alerter), and the same lines go
// through our ingestor into a reference pipeline (all five services). Every feed's scorer runs the
// reference's model, so each feed must come out as the same typed events and the same alerts.
// The daemons are unpacked by scripts/install-test-deps.sh (rsyslog and syslog-ng conflict as
// Debian packages, and neither may replace the machine's own log daemon).

// The sample as live traffic: its day (Dec 10 of some year) moved to a recent Wednesday. RFC 3164 lines
// carry no year, and relays stamp one: rsyslog and syslog-ng assume the current year, while the featurizer
// infers the year that puts a line in the past. For a replay of last year's lines they disagree
// (every weekday differs); for lines from the last days, as shippers see them live, they agree.
const lines = readLinesAsRecent(OPENSSH_SAMPLE)
const LOG_DIR = join(REPO_ROOT, '.cache', 'test-logs', 'shippers')
const SHIPPERS_ROOT = join(REPO_ROOT, '.cache', 'shippers', 'root')

const FEEDS = ['rsyslog-plain', 'rsyslog-json', 'syslog-ng-plain', 'syslog-ng-json', 'kcat'] as const
type Feed = (typeof FEEDS)[number]
// Feeds whose shipper writes an RFC 3339 timestamp: it stamps the year-less BSD timestamp of the
// sample with a year by its own rule (the current year, but near New Year), where Vigil takes the
// latest year that is not more than a day ahead. Their event times may differ by that year only.
const STAMPS_YEAR: ReadonlySet<Feed> = new Set(['rsyslog-plain', 'rsyslog-json', 'syslog-ng-plain', 'syslog-ng-json'])
// What each feed's messages look like on raw-logs (the line of every event's evidence).
const RFC3339 = String.raw`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}`
const WRITTEN_AS: Record<Feed, RegExp> = {
  'rsyslog-plain': new RegExp(`^${RFC3339} LabSZ sshd\\[\\d+\\]: `),
  'rsyslog-json': new RegExp(`^\\{"@timestamp":"${RFC3339}", "host":"LabSZ", "severity":"info", "facility":"auth", "programname":"sshd", "procid":"\\d+", "msg":" `),
  'syslog-ng-plain': new RegExp(`^${RFC3339} LabSZ sshd\\[\\d+\\]: `),
  'syslog-ng-json': /^\{"PROGRAM":"sshd","PRIORITY":"info","PID":"\d+","MESSAGE":".*","ISODATE":"[^"]+","HOST":"LabSZ","FACILITY":"auth"\}$/,
  kcat: /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d LabSZ sshd\[\d+\]: /,
}

interface Shipper {
  name: string
  child: ChildProcess
  logFile: string
  stop(): Promise<number | null>
}

describe('log shippers writing raw-logs to Kafka', () => {
  let ref: Pipeline
  const feeds = new Map<Feed, Pipeline>()
  const shippers: Shipper[] = []
  let workDir: string
  // Started as soon as the reference has a model, so the feeds' scorers start early.
  // What each pipeline made of the lines, read side by side as soon as the lines are sent: the
  // pipelines work at once, and each read waits for its pipeline to finish.
  const outcomes = new Map<Feed | 'ref', { features: Promise<Outcome>; alerts: Promise<AlertOutcome[]> }>()

  beforeAll(async () => {
    const binaries = shipperBinaries()
    workDir = mkdtempSync(join(tmpdir(), 'vigil-shippers-'))
    mkdirSync(LOG_DIR, { recursive: true })
    const stack = inject('stack')
    const common = { stack, logDir: LOG_DIR, env: { MODEL_TARGET_ALERT_RATE: '0.01' } } // as the main job: a short history alerts on its top 1%

    // Pipelines start one after another (six side by side would be some twenty Node processes
    // starting at once on the machine's two cores), and each feed is sent as soon as its pipelines
    // are up. The reference goes first, so it has trained its model by the time the feeds' scorers need it.
    ref = await startPipeline({ ...common, prefix: uniquePrefix('ship-ref') })
    const pending: Promise<unknown>[] = [background(replayOverTcp('127.0.0.1', ref.syslogTcpPort, lines))]
    const models: Promise<void>[] = []
    const startFeed = async (feed: Feed) => {
      // The featurizer first creates the topics; then the alerter and a scorer on the reference's model registry.
      const p = await startPipeline({ ...common, prefix: uniquePrefix(`ship-${feed}`), instances: { trainer: 0, alerter: 0, scorer: 0, ingestor: 0 } })
      feeds.set(feed, p)
      const [alerter] = await Promise.all([p.add('alerter'), p.add('scorer', { PG_URL: ref.env.PG_URL! })])
      await alerter.waitReady()
      models.push(background(copyModel(ref, p)))
      return p.reader.kafkaName(topics.rawLogs)
    }
    const brokers = ref.env.KAFKA_BROKERS!.split(',')

    // kcat sends the file itself, one message per line, keyed by the host as the ingestor keys it
    // (one partition, in order).
    const kcatTopic = await startFeed('kcat')
    const liveSample = join(workDir, 'OpenSSH_2k-live.log')
    writeFileSync(liveSample, `${lines.join('\n')}\n`)
    const kcat = startShipper('kcat', 'kcat', ['-b', brokers.join(','), '-t', kcatTopic, '-P', '-k', 'LabSZ', '-l', liveSample])
    shippers.push(kcat)
    pending.push(background(new Promise<void>((resolve, reject) => kcat.child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`kcat exited with ${code}: ${tail(kcat.logFile)}`))))))

    // The daemons get the lines as syslog over TCP, as the ingestor does.
    const rsyslogDir = join(workDir, 'rsyslog')
    mkdirSync(rsyslogDir)
    const rsyslogPort = await freePort()
    writeFileSync(join(rsyslogDir, 'rsyslog.conf'), rsyslogConf({
      port: rsyslogPort, workDir: rsyslogDir, brokers, plain: await startFeed('rsyslog-plain'), json: await startFeed('rsyslog-json'),
    }))
    const rsyslog = startShipper('rsyslog', binaries.rsyslogd, [
      '-n', '-f', join(rsyslogDir, 'rsyslog.conf'), '-i', join(rsyslogDir, 'rsyslogd.pid'), '-M', binaries.rsyslogModules,
    ])
    shippers.push(rsyslog)
    await waitListening(rsyslog, rsyslogPort)
    pending.push(background(replayOverTcp('127.0.0.1', rsyslogPort, lines)))

    const syslogNgDir = join(workDir, 'syslog-ng')
    mkdirSync(syslogNgDir)
    const syslogNgPort = await freePort()
    writeFileSync(join(syslogNgDir, 'syslog-ng.conf'), syslogNgConf({
      port: syslogNgPort, brokers, plain: await startFeed('syslog-ng-plain'), json: await startFeed('syslog-ng-json'),
    }))
    const syslogNg = startShipper('syslog-ng', binaries.syslogNg, [
      '-F', '--stderr', '--no-caps', '-f', join(syslogNgDir, 'syslog-ng.conf'), `--module-path=${binaries.syslogNgModules}`,
      `--persist-file=${join(syslogNgDir, 'syslog-ng.persist')}`, `--pidfile=${join(syslogNgDir, 'syslog-ng.pid')}`, `--control=${join(syslogNgDir, 'syslog-ng.ctl')}`,
    ], { LD_LIBRARY_PATH: binaries.syslogNgLibs })
    shippers.push(syslogNg)
    await waitListening(syslogNg, syslogNgPort)
    pending.push(background(replayOverTcp('127.0.0.1', syslogNgPort, lines)))

    await Promise.all(pending)
    const modelCopied = background(Promise.all(models))
    for (const [name, p] of [['ref', ref] as const, ...feeds]) {
      outcomes.set(name, {
        features: background(featuresOf(p)),
        alerts: background(name === 'ref' ? finalAlerts(p) : modelCopied.then(() => finalAlerts(p))),
      })
    }
  })

  afterAll(async () => {
    await Promise.all(shippers.map((s) => s.stop()))
    await Promise.all([ref, ...feeds.values()].map((p) => p?.stop()))
    if (workDir) rmSync(workDir, { recursive: true, force: true })
  })

  const featuresOfFeed = async (name: Feed | 'ref') => {
    const { features, deadLettered } = await outcomes.get(name)!.features
    expect(deadLettered, 'raw-logs messages dead-lettered').toBe(0)
    expect(features).toHaveLength(lines.length)
    return features
  }

  it('the reference: every line through the ingestor is a typed sshd event', async () => {
    const features = await featuresOfFeed('ref')
    expect(features.filter((f) => f.family === 'sshd')).toHaveLength(lines.length)
  })

  it.each(FEEDS)('%s: every line is the same typed event as through the ingestor', async (feed) => {
    const reference = await featuresOfFeed('ref')
    const got = await featuresOfFeed(feed)
    for (const f of got) expect(f.event.event.original).toMatch(WRITTEN_AS[feed])
    if (feed === 'kcat') expect(got.map((f) => f.event.event.original).sort()).toEqual([...lines].sort())
    const ignoreYear = STAMPS_YEAR.has(feed)
    expect(got.map((f) => typedEvent(f, ignoreYear)).sort()).toEqual(reference.map((f) => typedEvent(f, ignoreYear)).sort())
    const refYear = new Date(reference[0]!.eventTime).getUTCFullYear()
    for (const f of got) expect(Math.abs(new Date(f.eventTime).getUTCFullYear() - refYear)).toBeLessThanOrEqual(ignoreYear ? 1 : 0)
    // And the same feature vector: the windows saw the same events in the same order.
    const vectorOf = (f: FeatureRecord) => `${typedEvent(f, ignoreYear)} ${JSON.stringify(f.vector)}`
    const differing = diffSorted(got.map(vectorOf), reference.map(vectorOf))
    expect(differing, `${feed}: lines whose feature vector differs from the reference's`).toEqual([])
  })

  it('the reference alerts on the sample\'s heaviest brute-force source and most of the top three', async () => {
    const alerted = (await outcomes.get('ref')!.alerts).map((a) => a.entity)
    const top = failedLoginsBySource(lines).slice(0, 3).map(([ip]) => ip)
    expect(alerted).toContain(top[0])
    expect(top.filter((ip) => alerted.includes(ip)).length).toBeGreaterThanOrEqual(2)
  })

  it.each(FEEDS)('%s: raises the same alerts as through the ingestor, with the same model', async (feed) => {
    const expected = await outcomes.get('ref')!.alerts
    expect(expected.length).toBeGreaterThan(0)
    expect(await outcomes.get(feed)!.alerts).toEqual(expected)
  })
})

// --------------------------------------------------------------------------------- shipper configs

/**
 * rsyslog: syslog over TCP in, two omkafka actions out: the default template (RSYSLOG_FileFormat)
 * and a JSON one. Keyed by HOSTNAME so one host's lines stay in order (partitions.auto hashes the
 * key). Only the modules it needs; no imuxsock or imklog; state in its own work directory.
 */
function rsyslogConf(o: { port: number; workDir: string; brokers: string[]; plain: string; json: string }): string {
  const broker = `[${o.brokers.map((b) => JSON.stringify(b)).join(', ')}]`
  return `global(workDirectory="${o.workDir}")
module(load="imtcp")
module(load="omkafka")

template(name="vigil_key" type="string" string="%hostname%")
template(name="vigil_json" type="list" option.jsonf="on") {
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="facility" name="syslogfacility-text" format="jsonf")
  property(outname="programname" name="programname" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="rawmsg" name="rawmsg" format="jsonf")
}

input(type="imtcp" address="127.0.0.1" port="${o.port}" ruleset="to_kafka")

ruleset(name="to_kafka") {
  action(type="omkafka" broker=${broker} topic="${o.plain}"
         key="vigil_key" dynaKey="on" partitions.auto="on")
  action(type="omkafka" broker=${broker} topic="${o.json}" template="vigil_json"
         key="vigil_key" dynaKey="on" partitions.auto="on")
}
`
}

/**
 * syslog-ng: syslog over TCP in, two kafka-c() destinations out: the default message template
 * ($ISODATE $HOST $MSGHDR$MSG) and format-json. keep-hostname(yes) keeps the sender's HOSTNAME
 * (the default replaces it with the name of the peer that sent the line).
 */
function syslogNgConf(o: { port: number; brokers: string[]; plain: string; json: string }): string {
  const servers = o.brokers.join(',')
  return `@version: 3.38
options { keep-hostname(yes); };

source s_vigil { network(ip("127.0.0.1") port(${o.port}) transport("tcp")); };

destination d_vigil_plain {
  kafka-c(bootstrap-servers("${servers}") topic("${o.plain}") key("\${HOST}") persist-name("vigil-plain"));
};
destination d_vigil_json {
  kafka-c(bootstrap-servers("${servers}") topic("${o.json}") key("\${HOST}") persist-name("vigil-json")
          message("$(format-json --scope rfc5424 --exclude DATE --key ISODATE)"));
};

log { source(s_vigil); destination(d_vigil_plain); destination(d_vigil_json); flags(flow-control); };
`
}

// ------------------------------------------------------------------------------------ processes

function shipperBinaries() {
  const missing = () => new Error(`the shippers are not installed under ${SHIPPERS_ROOT}: run bash scripts/install-test-deps.sh`)
  const rsyslogd = join(SHIPPERS_ROOT, 'usr', 'sbin', 'rsyslogd')
  const syslogNg = join(SHIPPERS_ROOT, 'usr', 'sbin', 'syslog-ng')
  const rsyslogModules = findDir(join(SHIPPERS_ROOT, 'usr', 'lib'), (d) => existsSync(join(d, 'rsyslog', 'omkafka.so')), 'rsyslog')
  const syslogNgLibs = join(SHIPPERS_ROOT, 'usr', 'lib', 'syslog-ng')
  const syslogNgModules = existsSync(syslogNgLibs) ? findDir(syslogNgLibs, (d) => existsSync(join(d, 'libkafka.so'))) : null
  if (!existsSync(rsyslogd) || !existsSync(syslogNg) || !rsyslogModules || !syslogNgModules) throw missing()
  return { rsyslogd, rsyslogModules, syslogNg, syslogNgLibs, syslogNgModules }
}

/** The first subdirectory of `parent` that `test` accepts, joined with `suffix`. */
function findDir(parent: string, test: (dir: string) => boolean, suffix = ''): string | null {
  for (const entry of readdirSync(parent, { withFileTypes: true })) {
    const dir = join(parent, entry.name)
    if (entry.isDirectory() && test(dir)) return join(dir, suffix)
  }
  return null
}

function startShipper(name: string, command: string, args: string[], env: Record<string, string> = {}): Shipper {
  const logFile = join(LOG_DIR, `${name}-${process.pid}.log`)
  const log = createWriteStream(logFile, { flags: 'w' })
  const child = spawn(command, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout!.pipe(log)
  child.stderr!.pipe(log)
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code))
    child.once('error', (err) => {
      log.write(`spawn failed: ${err.message}\n`)
      resolve(null)
    })
  })
  return {
    name, child, logFile,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      try {
        return await exited
      } finally {
        clearTimeout(timer)
      }
    },
  }
}

async function waitListening(shipper: Shipper, port: number): Promise<void> {
  await waitFor(`${shipper.name} to listen on port ${port}`, async () => {
    if (shipper.child.exitCode !== null) throw new Error(`${shipper.name} exited with ${shipper.child.exitCode}: ${tail(shipper.logFile)}`)
    return accepts(port)
  }, 20_000, 100)
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** A promise awaited later: a rejection before then is not an unhandled one. */
function background<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {})
  return promise
}

function tail(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '(no log)'
}

// --------------------------------------------------------------------------------- comparisons

/** What a line became, without where it was stored: the fields a detector reads. */
function typedEvent(f: FeatureRecord, ignoreYear: boolean): string {
  const e = f.event
  const time = new Date(f.eventTime).toISOString()
  return JSON.stringify([
    f.family, e.event.action, e.event.outcome, e.source?.ip ?? null, e.source?.port ?? null, e.user?.name ?? null,
    e.host?.name ?? null, e.process?.name ?? null, e.process?.pid ?? null, ignoreYear ? time.slice(4) : time, e.message,
    f.entity,
  ])
}

/** The entries of `got` not in `expected` and those of `expected` not in `got`, the first few of each. */
function diffSorted(got: string[], expected: string[]): string[] {
  const unmatched = new Map<string, number>()
  for (const e of expected) unmatched.set(e, (unmatched.get(e) ?? 0) + 1)
  const extra = got.filter((g) => {
    const n = unmatched.get(g) ?? 0
    if (n > 0) unmatched.set(g, n - 1)
    return n === 0
  })
  const missing = [...unmatched].flatMap(([e, n]) => Array<string>(n).fill(e))
  return [...extra.slice(0, 3).map((g) => `got      ${g}`), ...missing.slice(0, 3).map((e) => `expected ${e}`)]
}

/** Source IPs by failed password attempts in the sample, most first. */
function failedLoginsBySource(sample: string[]): Array<[string, number]> {
  const counts = new Map<string, number>()
  for (const line of sample) {
    const m = /Failed password for (?:invalid user )?\S+ from (\d+\.\d+\.\d+\.\d+)/.exec(line)
    if (m) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1)
  }
  return [...counts].sort((a, b) => b[1] - a[1])
}

/** Publishes the reference's model versions on a feed's model-control, so its scorer runs the same model. */
async function copyModel(from: Pipeline, to: Pipeline): Promise<void> {
  const versions = await from.reader.readAll(topics.modelControl, 1, 120_000)
  const producer = to.reader.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    await producer.send({
      topic: to.reader.kafkaName(topics.modelControl),
      messages: await Promise.all(versions.map(async (v) => ({ key: v.key, value: await to.reader.codec.encode(topics.modelControl, v.value) }))),
    })
  } finally {
    await producer.disconnect()
  }
}

interface Outcome {
  features: FeatureRecord[]
  deadLettered: number
}

/** Every line's feature record, once every line reached features or the raw-logs dead-letter topic. */
async function featuresOf(p: Pipeline): Promise<Outcome> {
  await featurized(p)
  return { features: (await p.reader.readAll(topics.features)).map((r) => r.value), deadLettered: await p.reader.count(dlqOf(topics.rawLogs)) }
}

async function featurized(p: Pipeline): Promise<void> {
  await waitFor('every line to reach features or the dead-letter topic', async () =>
    (await p.reader.count(topics.features)) + (await p.reader.count(dlqOf(topics.rawLogs))) >= lines.length, 120_000, 500)
}

/** An alert as the shipper tests compare them. */
interface AlertOutcome { entity: string; detector: string; severity: string }

/**
 * The alerts (sorted), once the pipeline is done: every line featurized, every feature scored and
 * every score consumed by the alerter (its committed offsets at the end of scores).
 */
async function finalAlerts(p: Pipeline): Promise<AlertOutcome[]> {
  const { reader } = p
  await featurized(p)
  const features = await reader.count(topics.features)
  await waitFor('every feature to be scored or dead-lettered', async () =>
    (await reader.count(topics.scores)) + (await reader.count(dlqOf(topics.features))) >= features, 120_000, 500)
  const admin = reader.kafka.admin()
  await admin.connect()
  try {
    const scoresTopic = reader.kafkaName(topics.scores)
    await waitFor('the alerter to consume every score', async () => {
      const ends = await withKafkaRetries(() => admin.fetchTopicOffsets(scoresTopic))
      const [committed] = await withKafkaRetries(() => admin.fetchOffsets({ groupId: `${p.env.TOPIC_PREFIX}alerter`, topics: [scoresTopic] }))
      const at = new Map(committed!.partitions.map((c) => [c.partition, Number(c.offset)]))
      return ends.every((e) => Number(e.high) === Number(e.low) || (at.get(e.partition) ?? -1) >= Number(e.high))
    }, 60_000, 500)
  } finally {
    await admin.disconnect()
  }
  // Per alert, its entity, detector and the highest severity published: whether a rise went out as a
  // record of its own depends on where the alerter's batches fell, which differs from run to run.
  const highest = new Map<string, Alert>()
  for (const { value } of await reader.readAll(topics.alerts)) {
    if ((highest.get(value.alertId)?.severityId ?? -1) < value.severityId) highest.set(value.alertId, value)
  }
  return [...highest.values()].map((a) => ({ entity: a.entity.id, detector: a.detector, severity: a.severity }))
    .sort((x, y) => `${x.entity} ${x.detector} ${x.severity}`.localeCompare(`${y.entity} ${y.detector} ${y.severity}`))
}
