// The featurizer benchmark: parse + features with the real Redis on the real samples, events/s of one
// featurizer process, beside a bare consume→produce of the same messages in the same run.
// Target: the featurizer keeps at least half the bare pipe's rate.  Run: npm run bench:featurize
import { join } from 'node:path'
import { allTopics, createCodec, topics } from '@vigil/schemas'
import { removeTopics, REPO_ROOT, stackFromEnv, startNativeStack, startService, uniquePrefix } from '@vigil/testkit'
import { benchKafka, createTopics, produceAll, startBareRelay, writeRate } from '../lib/kafka-bench.ts'
import { printTable } from '../lib/stats.ts'
import { asIngested, buildWorkload, WORKLOAD_LINES_PER_REPEAT } from '../lib/workload.ts'

const N = Number(process.env.BENCH_EVENTS ?? 60_000)
const PARTITIONS = 12
const stack = stackFromEnv() ?? startNativeStack()
const kafka = benchKafka(stack.KAFKA_BROKERS)

// The scale benchmark's workload: the real loghub OpenSSH, Linux and Apache samples from 12 hosts
// each, as the ingestor writes them (keyed by host, its syslog header read), in the Confluent wire
// format when the stack has a registry, under the round's own topic names as the ingestor registers them.
const HOSTS = 12
/** every topic of the run, deleted at the end */
const prefixes: string[] = []
const lines = buildWorkload(Math.ceil(N / WORKLOAD_LINES_PER_REPEAT), HOSTS).slice(0, N)
async function rawLogsAsIngested(prefix: string): Promise<Array<{ key: string; value: Buffer }>> {
  const codec = await createCodec({ registryUrl: stack.SCHEMA_REGISTRY_URL, kafkaName: (t) => `${prefix}${t.name}`, topics: allTopics() })
  const receivedAt = Date.now()
  return lines.map((line) => {
    const { key, record } = asIngested(line, receivedAt)
    return { key, value: codec.encode(topics.rawLogs, record) }
  })
}

async function bare(): Promise<number> {
  const prefix = uniquePrefix('bench-feat-bare')
  prefixes.push(prefix)
  const [from, to] = [`${prefix}raw-logs`, `${prefix}features`]
  await createTopics(kafka, [from, to], PARTITIONS)
  await produceAll(kafka, from, await rawLogsAsIngested(prefix))
  const relay = await startBareRelay(stack.KAFKA_BROKERS, from, to, `${prefix}relay`)
  const rate = await writeRate(kafka, to, N)
  relay.kill('SIGTERM')
  return rate
}

async function featurizer(): Promise<number> {
  const prefix = uniquePrefix('bench-feat')
  prefixes.push(prefix)
  await createTopics(kafka, [`${prefix}raw-logs`], PARTITIONS)
  await produceAll(kafka, `${prefix}raw-logs`, await rawLogsAsIngested(prefix))
  const service = await startService('featurizer', {
    KAFKA_BROKERS: stack.KAFKA_BROKERS, REDIS_URL: stack.REDIS_URL, REDIS_KEY_PREFIX: prefix, TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn', ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}), ...(process.env.BENCH_NODE_ARGS ? { NODE_ARGS: process.env.BENCH_NODE_ARGS } : {}),
    // BENCH_SERVICE_ENV='CONSUMER_CONCURRENCY=12 …': settings to try on the featurizer
    ...Object.fromEntries((process.env.BENCH_SERVICE_ENV ?? '').split(' ').filter(Boolean).map((kv) => kv.split('=', 2) as [string, string])),
    ...(stack.SCHEMA_REGISTRY_URL ? { SCHEMA_REGISTRY_URL: stack.SCHEMA_REGISTRY_URL } : {}),
  }, join(REPO_ROOT, '.cache', 'bench-logs'))
  await service.waitReady()
  const rate = await writeRate(kafka, `${prefix}${topics.features.name}`, N)
  await service.stop()
  return rate
}

// The machine is shared: the two pipes alternate for ROUNDS rounds, so both meet the same load, and
// the ratio is judged on the median of the rounds' ratios.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
console.log(`featurizer benchmark: ${N} raw-logs records (loghub OpenSSH, Linux and Apache samples, ${HOSTS} hosts each), ${PARTITIONS} partitions, Redis ${stack.REDIS_URL}, ${ROUNDS} alternating rounds`)
const rows: string[][] = []
const ratios: number[] = []
for (let round = 1; round <= ROUNDS; round++) {
  const bareRate = await bare()
  const featurizerRate = await featurizer()
  ratios.push(featurizerRate / bareRate)
  rows.push([String(round), bareRate.toFixed(0), featurizerRate.toFixed(0), (featurizerRate / bareRate).toFixed(2)])
}
printTable(['round', 'bare consume→produce (kafkajs), events/s', 'featurizer (parse, Redis windows, features), events/s', 'featurizer / bare'], rows)
const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]!
await removeTopics(kafka, prefixes)
console.log(`featurizer / bare, median of ${ROUNDS} rounds: ${median.toFixed(2)} (target ≥ 0.5)`)
process.exit(0)
