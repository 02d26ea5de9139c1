import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { allTopics, createCodec, topics, type Codec, type ServiceName } from '@vigil/schemas'
import { createTestDatabase, REPO_ROOT, startService, uniquePrefix, waitFor, type ServiceProcess, type StackEnv } from '@vigil/testkit'
import { createTopics, startBareRelay } from '../lib/kafka-bench.ts'
import { stackPids } from '../lib/cpu-usage.ts'
import { measureStage, type KafkaRecord, type StageProcess, type StageResult, type StageUnderTest } from './measure-stage.ts'
import { asIngested } from '../lib/workload.ts'

const PARTITIONS = 12
const LOG_DIR = join(REPO_ROOT, '.cache', 'bench-logs', 'scale')

/** What every stage of one bench run shares. */
export interface BenchRun {
  stack: StackEnv
  kafka: Kafka
  /** encodes and decodes with the stack's registry (schema ids are global, so any deployment reads its bytes) */
  codec: Codec
  /** the workload, one syslog line per event */
  lines: string[]
  /** the backlog: the workload's lines as the ingestor writes them to raw-logs */
  rawLogs: KafkaRecord[]
  /** how long the paced (latency) phase offers records, s */
  pacedSeconds: number
  /** the topic prefixes this run created, for removeTopics at the end */
  prefixes: string[]
}

/** A version the trainer published, and the database its artifact is in. */
export interface SeededModel {
  pgUrl: string
  control: KafkaRecord
}

/** Offered load of the paced phase: half of what one instance of the stage sustained (this one, when it is the first). */
export type PacedRate = (eventsPerSecond: number) => number

/** The bare kafkajs pipe: raw-logs records from one topic to another, `instances` processes in one group. */
export async function bareStage(run: BenchRun, instances: number, rate: PacedRate): Promise<StageResult> {
  const prefix = await newPrefix(run, 'bench-scale-bare')
  const [input, output] = [`${prefix}in`, `${prefix}out`]
  await createTopics(run.kafka, [input, output], PARTITIONS)
  const group = `${prefix}pipe`
  const processes = await Promise.all(Array.from({ length: instances }, () => startBarePipe(run.stack.KAFKA_BROKERS, input, output, group)))
  return withProcesses(processes, () => measure(run, {
    input, output, groups: [{ id: group, members: instances }], processes, backlog: run.rawLogs,
    paced: rawLogsPaced(run, rate, async (bytes) => (await run.codec.decode(topics.rawLogs, bytes)).receivedAt),
  }))
}

/** Featurizer instances: raw-logs → features (parse, Redis windows, features). Returns the prefix, whose features history seeds the model. */
export async function featurizerStage(run: BenchRun, instances: number, rate: PacedRate): Promise<{ result: StageResult; prefix: string }> {
  const prefix = await newPrefix(run, 'bench-scale-feat')
  await createTopics(run.kafka, [`${prefix}${topics.rawLogs.name}`], PARTITIONS)
  const services = await startInstances('featurizer', instances, serviceEnv(run, prefix))
  const processes = services.map(asStageProcess)
  const result = await withProcesses(processes, () => measure(run, {
    input: `${prefix}${topics.rawLogs.name}`, output: `${prefix}${topics.features.name}`,
    groups: [{ id: `${prefix}featurizer`, members: instances }], processes, backlog: run.rawLogs,
    paced: rawLogsPaced(run, rate, async (bytes) => (await run.codec.decode(topics.features, bytes)).receivedAt),
  }))
  return { result, prefix }
}

/**
 * A first model, as the trainer builds it: one trainer reads the features a featurizer stage wrote
 * (its history), trains and publishes a version; its model-control record is copied to every
 * scorer stage, which loads the artifact from the same database.
 */
export async function seedModel(run: BenchRun, featuresPrefix: string): Promise<SeededModel> {
  const pgUrl = await createTestDatabase(run.stack.PG_URL, 'bench_scale')
  const trainer = await startService('trainer', {
    ...serviceEnv(run, featuresPrefix), PG_URL: pgUrl,
    // The samples' event times span 2005 to now: train on all of it, soon after the history stops growing.
    TRAIN_WINDOW_MS: String(25 * 365 * 86_400_000), TRAIN_MIN_ROWS: '200', TRAIN_MAX_ROWS: '5000', TRAIN_SETTLE_MS: '2000',
  }, LOG_DIR)
  started.add(trainer.child)
  try {
    const controlTopic = `${featuresPrefix}${topics.modelControl.name}`
    const admin = run.kafka.admin()
    await admin.connect()
    await waitFor('the trainer to publish a first version', async () => {
      if (trainer.child.exitCode !== null) throw new Error(`the trainer exited; see ${trainer.logFile}`)
      const offsets = await admin.fetchTopicOffsets(controlTopic).catch(() => [])
      return offsets.some((p) => Number(p.high) > 0)
    }, 300_000, 1_000)
    await admin.disconnect()
    const [control] = await readRecords(run.kafka, controlTopic, 1)
    return { pgUrl, control: control! }
  } finally {
    await trainer.stop('SIGTERM')
  }
}

/** Scorer instances: features → scores with the seeded version, on the features a featurizer stage wrote. */
export async function scorerStage(run: BenchRun, instances: number, rate: PacedRate, model: SeededModel, features: KafkaRecord[]): Promise<StageResult> {
  const prefix = await newPrefix(run, 'bench-scale-score')
  await createTopics(run.kafka, [`${prefix}${topics.features.name}`], PARTITIONS)
  await publishModel(run, prefix, model)
  const services = await startInstances('scorer', instances, { ...serviceEnv(run, prefix), PG_URL: model.pgUrl })
  const processes = services.map(asStageProcess)
  // Latency: each paced features record is known by its event id; the score names it.
  const eventIds: string[] = []
  for (const f of features) eventIds.push((await run.codec.decode(topics.features, f.value)).eventId) // one at a time: see measureStage
  const sentAt = new Map<string, number>()
  return withProcesses(processes, () => measure(run, {
    input: `${prefix}${topics.features.name}`, output: `${prefix}${topics.scores.name}`,
    groups: [{ id: `${prefix}scorer`, members: instances }], processes, backlog: features,
    paced: {
      rate,
      record: async (i, at) => {
        sentAt.set(eventIds[i % features.length]!, at)
        return features[i % features.length]!
      },
      latencyOf: async (bytes, writtenAt) => writtenAt - sentAt.get((await run.codec.decode(topics.scores, bytes)).eventId)!,
    },
  }))
}

/** The whole pipeline from raw-logs to scores: featurizer and scorer instances together. */
export async function pipelineStage(run: BenchRun, featurizers: number, scorers: number, rate: PacedRate, model: SeededModel): Promise<StageResult> {
  const prefix = await newPrefix(run, 'bench-scale-pipe')
  await createTopics(run.kafka, [`${prefix}${topics.rawLogs.name}`, `${prefix}${topics.features.name}`], PARTITIONS)
  await publishModel(run, prefix, model)
  const [featurizing, scoring] = await Promise.all([
    startInstances('featurizer', featurizers, serviceEnv(run, prefix)),
    startInstances('scorer', scorers, { ...serviceEnv(run, prefix), PG_URL: model.pgUrl }),
  ])
  const processes = [...featurizing, ...scoring].map(asStageProcess)
  return withProcesses(processes, () => measure(run, {
    input: `${prefix}${topics.rawLogs.name}`, output: `${prefix}${topics.scores.name}`,
    groups: [{ id: `${prefix}featurizer`, members: featurizers }, { id: `${prefix}scorer`, members: scorers }], processes, backlog: run.rawLogs,
    paced: rawLogsPaced(run, rate, async (bytes) => (await run.codec.decode(topics.scores, bytes)).receivedAt),
  }))
}

function measure(run: BenchRun, stage: Omit<StageUnderTest, 'cpu' | 'paced'> & { paced: Omit<StageUnderTest['paced'], 'seconds'> }) {
  const { broker, redis } = stackPids()
  return measureStage(run.kafka, {
    ...stage,
    paced: { ...stage.paced, seconds: run.pacedSeconds },
    cpu: { stage: stage.processes.map((p) => p.pid), broker: broker ? [broker] : [], redis: redis ? [redis] : [], bench: [process.pid] },
  })
}

/** Paced raw-logs records: the workload's lines again, stamped as received when sent; `receivedAtOf` finds the stamp in an output. */
function rawLogsPaced(run: BenchRun, rate: PacedRate, receivedAtOf: (bytes: Buffer) => Promise<number>) {
  return {
    rate,
    record: async (i: number, at: number): Promise<KafkaRecord> => {
      const { key, record } = asIngested(run.lines[i % run.lines.length]!, at)
      return { key, value: await run.codec.encode(topics.rawLogs, record) }
    },
    latencyOf: async (bytes: Buffer, writtenAt: number) => writtenAt - await receivedAtOf(bytes),
  }
}

async function publishModel(run: BenchRun, prefix: string, model: SeededModel): Promise<void> {
  const topic = `${prefix}${topics.modelControl.name}`
  await createTopics(run.kafka, [topic], 1)
  const producer = run.kafka.producer()
  await producer.connect()
  await producer.send({ topic, acks: -1, messages: [model.control] })
  await producer.disconnect()
}

function serviceEnv(run: BenchRun, prefix: string): Record<string, string> {
  return {
    KAFKA_BROKERS: run.stack.KAFKA_BROKERS, REDIS_URL: run.stack.REDIS_URL, REDIS_KEY_PREFIX: prefix, TOPIC_PREFIX: prefix,
    TOPIC_PARTITIONS: String(PARTITIONS), LOG_LEVEL: 'warn',
    ...(run.stack.SCHEMA_REGISTRY_URL ? { SCHEMA_REGISTRY_URL: run.stack.SCHEMA_REGISTRY_URL } : {}),
  }
}

/**
 * A new deployment prefix, its schema subjects registered. Instances registering the same new
 * subject at once race in the registry client (one reads the subject's default compatibility
 * before another sets BACKWARD, or both set it), and the loser exits: so it is done here, once.
 */
async function newPrefix(run: BenchRun, label: string): Promise<string> {
  const prefix = uniquePrefix(label)
  run.prefixes.push(prefix)
  await createCodec({ registryUrl: run.stack.SCHEMA_REGISTRY_URL, kafkaName: (t) => `${prefix}${t.name}`, topics: allTopics() })
  return prefix
}

/** Starts `count` instances at once and waits until each is ready (the deployment's subjects registered first: registerSubjects). */
async function startInstances(name: ServiceName, count: number, env: Record<string, string>): Promise<ServiceProcess[]> {
  const instances = await Promise.all(Array.from({ length: count }, (_, i) => startService(name, { ...env, INSTANCE_ID: `${name}-${i + 1}` }, LOG_DIR)))
  for (const s of instances) started.add(s.child)
  await Promise.all(instances.map(async (s) => {
    // waitReady polls until its timeout even after the process exited: fail at once instead
    const exited = s.exited.then((code) => Promise.reject(new Error(`${name} exited with ${code} before it was ready; see ${s.logFile}`)))
    await Promise.race([s.waitReady(180_000), exited])
  }))
  return instances
}

/** Every child process this run started, so an interrupted run leaves none behind. */
const started = new Set<ChildProcess>()

/** Stops every child process still running (on an interrupted run). */
export function killStarted(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
}

const asStageProcess = (s: ServiceProcess): StageProcess => ({
  pid: s.child.pid!,
  signal: (signal) => s.child.kill(signal),
  stop: async () => {
    await s.stop('SIGTERM')
  },
})

async function startBarePipe(brokers: string, from: string, to: string, group: string): Promise<StageProcess> {
  const child = await startBareRelay(brokers, from, to, group)
  started.add(child)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return {
    pid: child.pid!,
    signal: (signal) => child.kill(signal),
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}

/** Runs `body`, then stops the processes whatever happened (thawed first, in case they were frozen). */
async function withProcesses<T>(processes: StageProcess[], body: () => Promise<T>): Promise<T> {
  try {
    return await body()
  } finally {
    for (const p of processes) p.signal('SIGCONT')
    await Promise.all(processes.map((p) => p.stop()))
  }
}

/** The first `count` records of a topic, as written. */
async function readRecords(kafka: Kafka, topic: string, count: number): Promise<KafkaRecord[]> {
  const records: KafkaRecord[] = []
  const consumer = kafka.consumer({ groupId: `${topic}-bench-reader-${Date.now()}` })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({ eachMessage: async ({ message }) => void records.push({ key: message.key, value: message.value! }) })
  await waitFor(`${count} records of ${topic}`, () => records.length >= count, 60_000, 100)
  await consumer.disconnect()
  return records.slice(0, count)
}

