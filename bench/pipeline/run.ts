// The pipeline benchmark: for N replayed lines, Vigil's end-to-end events/s and ingest→score latency,
// beside a bare kafkajs relay (three consume→produce hops, raw-logs → features → scores → alerts,
// forwarding bytes) on the same broker, topic layout and keys, in the same run.
// Run: npm run bench:pipeline   (BENCH_LINES=20000 by default)
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { topics, type RawLog } from '@vigil/schemas'
import { OPENSSH_SAMPLE, readLinesAsRecent, replayOverTcp, REPO_ROOT, stackFromEnv, startNativeStack, startPipeline, uniquePrefix, waitFor } from '@vigil/testkit'
import { createTopics, startBareRelay } from '../lib/kafka-bench.ts'
import { printTable, quantile } from '../lib/stats.ts'

const N = Number(process.env.BENCH_LINES ?? 20_000)
const PARTITIONS = 12
const sample = readLinesAsRecent(OPENSSH_SAMPLE)
const lines = Array.from({ length: N }, (_, i) => sample[i % sample.length]!)
const stack = stackFromEnv() ?? startNativeStack()

interface Result { name: string; eventsPerSecond: number; p50: number; p99: number }

async function bareRelay(): Promise<Result> {
  const prefix = uniquePrefix('bench-bare')
  const chain = [topics.rawLogs, topics.features, topics.scores, topics.alerts].map((t) => `${prefix}${t.name}`)
  const kafka = new Kafka({ clientId: 'bench', brokers: stack.KAFKA_BROKERS.split(','), logLevel: logLevel.WARN })
  await createTopics(kafka, chain, PARTITIONS)
  const relays: ChildProcess[] = []
  for (let hop = 0; hop < 3; hop++) {
    // Timestamps forwarded: each alert's latency runs from the producer that filled raw-logs.
    relays.push(await startBareRelay(stack.KAFKA_BROKERS, chain[hop]!, chain[hop + 1]!, `${prefix}relay-${hop}`, true))
  }
  // The same records the ingestor would write: schema-valid raw-logs JSON keyed by the sending host.
  const now = Date.now()
  const records = lines.map((line): { key: string; value: Buffer } => {
    const value: RawLog = { line, receivedAt: now, transport: 'syslog-tcp', peer: '127.0.0.1:1', syslog: null }
    return { key: 'LabSZ', value: Buffer.from(JSON.stringify(value)) }
  })
  const latencies: number[] = []
  let last = 0
  const sink = kafka.consumer({ groupId: `${prefix}sink` })
  await sink.connect()
  await sink.subscribe({ topic: chain[3]!, fromBeginning: true })
  await sink.run({
    eachBatch: async ({ batch }) => {
      const arrived = Date.now()
      for (const m of batch.messages) latencies.push(arrived - Number(m.timestamp))
      last = arrived
    },
  })
  await new Promise((r) => setTimeout(r, 3_000)) // let the relays' groups settle before timing
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  const started = Date.now()
  for (let i = 0; i < records.length; i += 500) {
    const at = Date.now()
    await producer.send({ topic: chain[0]!, acks: -1, messages: records.slice(i, i + 500).map((r) => ({ ...r, timestamp: String(at) })) })
  }
  await waitFor('the bare relay to deliver every record', () => latencies.length >= N, 300_000, 100)
  const result = { name: 'bare kafkajs relay (3 hops)', eventsPerSecond: N / ((last - started) / 1000), p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) }
  await producer.disconnect()
  await sink.disconnect()
  for (const r of relays) r.kill('SIGTERM')
  return result
}

async function vigil(): Promise<Result> {
  const pipeline = await startPipeline({ stack, prefix: uniquePrefix('bench-vigil'), logDir: join(REPO_ROOT, '.cache', 'bench-logs'), env: { LOG_LEVEL: 'warn' } })
  try {
    // Warm-up: the sample trains the first model, so the timed lines meet a ready scorer.
    await replayOverTcp('127.0.0.1', pipeline.syslogTcpPort, sample)
    await waitFor('the warm-up to be scored', async () => (await pipeline.reader.count(topics.scores)) >= sample.length, 180_000, 500)
    const started = Date.now()
    await replayOverTcp('127.0.0.1', pipeline.syslogTcpPort, lines)
    const scores = (await pipeline.reader.readAll(topics.scores, sample.length + N, 600_000)).filter((s) => s.value.receivedAt >= started)
    const latencies = scores.map((s) => s.value.scoredAt - s.value.receivedAt)
    const last = Math.max(...scores.map((s) => s.value.scoredAt))
    return { name: 'Vigil: ingest → raw-logs → features → scores', eventsPerSecond: N / ((last - started) / 1000), p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) }
  } finally {
    await pipeline.stop()
  }
}

console.log(`pipeline benchmark: ${N} lines of the OpenSSH sample, ${PARTITIONS} partitions, broker ${stack.KAFKA_BROKERS}`)
const bare = await bareRelay()
const ours = await vigil()
printTable(['pipeline', 'events/s', 'p50 latency ms', 'p99 latency ms'], [bare, ours].map((r) => [r.name, r.eventsPerSecond.toFixed(0), r.p50, r.p99]))
console.log(`Vigil / bare relay throughput: ${(ours.eventsPerSecond / bare.eventsPerSecond).toFixed(2)}`)
process.exit(0)
