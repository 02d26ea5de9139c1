// The scale benchmark: events/s and p99 latency of the featurizer and the scorer with 1, 2 and 4
// instances in their consumer groups, beside the bare kafkajs pipe (consume → produce, no work) at
// the same instance counts, in the same run; then the whole pipeline (raw-logs → scores) at its best
// setting; and, for each, where the limit is, from the CPU the instances, the broker, Redis and the
// machine used while the backlog drained.
// Each setting: the instances start and their group settles, a backlog of the real loghub samples
// (OpenSSH, Linux, Apache; many hosts and entities, repeated earlier in time) is written while they are
// frozen, the rate at which they drain it is measured, then records are offered at half of one
// instance's rate and the latency (input written → output written) is measured.
// Run: npm run bench:scale   (about 4 minutes on 2 cores)   or   npm run bench:scale -- --quick   (1 and 2 instances, a quarter of the data)
import { cpus, loadavg } from 'node:os'
import { createCodec, topics } from '@vigil/schemas'
import { removeTopics, stackFromEnv, startNativeStack } from '@vigil/testkit'
import { benchKafka } from '../lib/kafka-bench.ts'
import { printTable } from '../lib/stats.ts'
import type { StageResult } from './measure-stage.ts'
import { bareStage, featurizerStage, killStarted, pipelineStage, scorerStage, seedModel, type BenchRun, type PacedRate } from './stages.ts'
import { asIngested, buildWorkload } from '../lib/workload.ts'

const quick = process.argv.includes('--quick')
const plan = quick
  ? { repeats: 1, hosts: 12, instances: [1, 2], pacedSeconds: 4 }
  : { repeats: 4, hosts: 12, instances: [1, 2, 4], pacedSeconds: 8 }

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killStarted()
    process.exit(130)
  })
}
process.on('exit', killStarted)

const stack = stackFromEnv() ?? startNativeStack()
const kafka = benchKafka(stack.KAFKA_BROKERS)
const codec = await createCodec({ registryUrl: stack.SCHEMA_REGISTRY_URL, kafkaName: (t) => `bench-scale-${t.name}`, topics: [topics.rawLogs] })
const lines = buildWorkload(plan.repeats, plan.hosts)
const receivedAt = Date.now()
const rawLogs = await Promise.all(lines.map(async (line) => {
  const { key, record } = asIngested(line, receivedAt)
  return { key, value: await codec.encode(topics.rawLogs, record) }
}))
const run: BenchRun = { stack, kafka, codec, lines, rawLogs, pacedSeconds: plan.pacedSeconds, prefixes: [] }

const started = Date.now()
const loadAtStart = loadavg()
console.log(`scale benchmark${quick ? ' (--quick)' : ''}: ${lines.length} events (loghub OpenSSH, Linux, Apache; ${plan.hosts} hosts each; ${plan.repeats}×), 12 partitions, ${cpus().length} cores, broker ${stack.KAFKA_BROKERS}`)
console.log(`load average at start: ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`)

interface Row { stage: string; instances: string; result: StageResult; bare: StageResult | undefined }
const rows: Row[] = []

// Whatever happens, the run's topics go (a dozen topics of 12 partitions per setting).
const { bare, featurizer, scorer, whole } = await measureAll().finally(() => removeTopics(kafka, run.prefixes))
printTable(
  ['stage', 'instances', 'events/s', 'vs bare pipe', 'p99 ms (p50)', 'offered/s', 'CPU % stage (busiest)', 'broker %', 'Redis %', 'machine %', 'limit'],
  rows.map(({ stage, instances, result: r, bare: b }) => [
    stage, instances, r.eventsPerSecond.toFixed(0), b ? (r.eventsPerSecond / b.eventsPerSecond).toFixed(2) : '',
    `${r.p99.toFixed(0)} (${r.p50.toFixed(0)})`, r.pacedPerSecond.toFixed(0),
    `${r.cpu.groups.stage!.toFixed(0)} (${r.cpu.busiest.stage!.toFixed(0)})`, r.cpu.groups.broker!.toFixed(0), r.cpu.groups.redis!.toFixed(0), r.cpu.machine.toFixed(0),
    limitOf(r),
  ]),
)
for (const [name, results] of [['featurizer', featurizer], ['scorer', scorer], ['bare pipe', bare]] as const) {
  const one = results.get(1)!.eventsPerSecond
  console.log(`${name}: ${[...results].map(([k, r]) => `${k} → ${(r.eventsPerSecond / one).toFixed(2)}×`).join(', ')} of one instance`)
}
console.log(`whole pipeline at its best setting (${whole.featurizers} featurizer + ${whole.scorers} scorer): ${whole.result.eventsPerSecond.toFixed(0)} events/s, `
  + `p99 ${whole.result.p99.toFixed(0)} ms at ${whole.result.pacedPerSecond.toFixed(0)} events/s offered (its ratio is to the one-hop bare pipe; the pipeline is two hops)`)
console.log('CPU % is of one core (a Node instance runs its handlers on one); machine % is of all cores, whoever used them (other load included).')
console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; took ${((Date.now() - started) / 60_000).toFixed(1)} min`)
process.exit(0)

/** Every stage at every setting, then the whole pipeline. */
async function measureAll() {
  const bare = await scaleOut('bare kafkajs pipe', (k, rate) => bareStage(run, k, rate), null)
  let featuresPrefix = ''
  const featurizer = await scaleOut('featurizer', async (k, rate) => {
    const { result, prefix } = await featurizerStage(run, k, rate)
    if (k === 1) featuresPrefix = prefix
    return result
  }, bare)
  const model = await seedModel(run, featuresPrefix)
  const scorer = await scaleOut('scorer', (k, rate) => scorerStage(run, k, rate, model, featurizer.get(1)!.outputs), bare)
  // The whole pipeline: one of each, and each stage at its own best count; the better of the two is its figure.
  const settings = [[1, 1], [best(featurizer), best(scorer)]].filter(([f, s], i, all) => all.findIndex(([f2, s2]) => f2 === f && s2 === s) === i)
  const pipelines: Array<{ featurizers: number; scorers: number; result: StageResult }> = []
  for (const [featurizers, scorers] of settings as Array<[number, number]>) {
    progress(`pipeline: ${featurizers} featurizer(s) + ${scorers} scorer(s)`)
    const result = await pipelineStage(run, featurizers, scorers, (eventsPerSecond) => eventsPerSecond / 2, model)
    pipelines.push({ featurizers, scorers, result })
    rows.push({ stage: 'pipeline raw-logs → scores', instances: `${featurizers}+${scorers}`, result, bare: bare.get(1) })
  }
  const whole = pipelines.reduce((a, b) => (b.result.eventsPerSecond > a.result.eventsPerSecond ? b : a))
  return { bare, featurizer, scorer, whole }
}

/** Runs one stage at each instance count, beside `bare` at the same count; the paced phase offers half of what one instance sustained. */
async function scaleOut(
  stage: string, measure: (instances: number, rate: PacedRate) => Promise<StageResult>, bare: Map<number, StageResult> | null,
): Promise<Map<number, StageResult>> {
  const results = new Map<number, StageResult>()
  for (const k of plan.instances) {
    progress(`${stage} × ${k}`)
    const one = results.get(1)?.eventsPerSecond
    const result = await measure(k, (eventsPerSecond) => (one ?? eventsPerSecond) / 2)
    results.set(k, result)
    progress(`${stage} × ${k}: ${result.eventsPerSecond.toFixed(0)} events/s (drained in ${result.drainSeconds.toFixed(1)} s); p99 ${result.p99.toFixed(0)} ms at ${result.pacedPerSecond.toFixed(0)}/s; machine CPU ${result.cpu.machine.toFixed(0)}%; phases (s): ${Object.entries(result.phases).map(([name, seconds]) => `${name} ${seconds.toFixed(1)}`).join(', ')}`)
    rows.push({ stage, instances: String(k), result, bare: bare?.get(k) })
  }
  return results
}

/** The instance count with the highest rate; fewer instances when within 5% of it. */
function best(results: Map<number, StageResult>): number {
  const top = Math.max(...[...results.values()].map((r) => r.eventsPerSecond))
  return [...results].find(([, r]) => r.eventsPerSecond >= 0.95 * top)![0]
}

/**
 * Where the limit was while the backlog drained. In order: every core busy (whoever used them, the
 * other load on a shared machine included); one instance's event loop (Node runs handlers on one
 * core); Redis (one core); the broker; else the stage mostly waited on round trips.
 */
function limitOf(r: StageResult): string {
  const { groups, busiest, machine, cores } = r.cpu
  const other = Math.max(0, machine * cores - (groups.stage! + groups.broker! + groups.redis! + groups.bench!))
  if (machine >= 90) {
    const shares = { stage: groups.stage!, broker: groups.broker!, Redis: groups.redis!, 'bench itself': groups.bench!, 'other load': other }
    const top = Object.entries(shares).sort((a, b) => b[1] - a[1]).slice(0, 2).map(([name, pct]) => `${name} ${pct.toFixed(0)}%`)
    return `CPU: all ${cores} cores busy (${top.join(', ')})`
  }
  if (busiest.stage! >= 85) return 'CPU: one instance\'s core'
  if (busiest.redis! >= 85) return 'Redis (its one core)'
  if (groups.broker! >= 85 * Math.min(cores, 2)) return 'broker'
  return 'round trips (no CPU saturated)'
}

function progress(what: string): void {
  console.log(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${what}`)
}
