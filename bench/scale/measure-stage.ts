import { randomUUID } from 'node:crypto'
import { AssignerProtocol, Partitioners, type Kafka } from 'kafkajs'
import { waitFor } from '@vigil/testkit'
import { quantile } from '../lib/stats.ts'
import { cpuBetween, cpuSnapshot, type CpuUsage } from '../lib/cpu-usage.ts'

/** A process of the stage under test (a service instance or a bare pipe). */
export interface StageProcess {
  pid: number
  signal(signal: NodeJS.Signals): void
  stop(): Promise<void>
}

export interface KafkaRecord {
  key: Buffer | string | null
  value: Buffer
}

export interface StageUnderTest {
  /** Kafka topic names */
  input: string
  output: string
  /** the consumer groups the stage's processes form, with the members each must have before timing */
  groups: Array<{ id: string; members: number }>
  processes: StageProcess[]
  /** records the stage works through as fast as it can: one output each */
  backlog: KafkaRecord[]
  /** the paced phase: records offered at a fixed rate for `seconds`, each stamped with when it was sent */
  paced: {
    /** the offered rate, given what the backlog phase measured (events/s) */
    rate(eventsPerSecond: number): number
    seconds: number
    record(i: number, sentAt: number): Promise<KafkaRecord>
    /** ms from an output's input being sent to the output being written (its CreateTime) */
    latencyOf(output: Buffer, writtenAt: number): Promise<number>
  }
  /** processes whose CPU is sampled while the backlog drains, by group name */
  cpu: Record<string, number[]>
}

export interface StageResult {
  /** outputs per second while the backlog drained: from the thaw to the last output's CreateTime */
  eventsPerSecond: number
  /** from thawing the processes to the backlog's last output, s */
  drainSeconds: number
  /** how long each phase of the measurement took, s */
  phases: Record<string, number>
  /** the paced phase's offered rate, events/s */
  pacedPerSecond: number
  /** latency in the paced phase, ms */
  p50: number
  p99: number
  cpu: CpuUsage
  /** the backlog's outputs, in arrival order (the scorer stage's input comes from the featurizer's) */
  outputs: KafkaRecord[]
}

/**
 * Measures one stage at one setting. The processes must already be running: once their groups are
 * stable they are frozen (SIGSTOP) while the backlog is written, so the writer neither competes
 * for the two cores nor limits the rate, then thawed (SIGCONT) all at once; the stopped time is a
 * few seconds, far below the 30 s session timeout. Then the paced phase offers records at a fixed
 * rate and measures latency.
 */
export async function measureStage(kafka: Kafka, stage: StageUnderTest): Promise<StageResult> {
  const phases: Record<string, number> = {}
  let phaseStart = Date.now()
  const phase = (name: string) => {
    phases[name] = (Date.now() - phaseStart) / 1000
    phaseStart = Date.now()
  }
  const admin = kafka.admin()
  await admin.connect()
  try {
    for (const group of stage.groups) await waitGroupStable(admin, group.id, group.members)
  } finally {
    await admin.disconnect()
  }
  phase('group settles')
  const meter = await startMeter(kafka, stage.output)
  phase('meter joins')
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    const n = stage.backlog.length
    for (const p of stage.processes) p.signal('SIGSTOP')
    await writeAll(producer, stage.input, stage.backlog)
    phase('backlog written')
    const before = cpuSnapshot(stage.cpu)
    for (const p of stage.processes) p.signal('SIGCONT')
    const thawedAt = Date.now()
    await waitFor(`${n} outputs on ${stage.output}`, () => meter.records.length >= n, 600_000, 100)
    const after = cpuSnapshot(stage.cpu)
    // From the thaw to the last output written: a backlog goes in a few large batches per partition,
    // so the span between first and last output would leave out the whole first round.
    const drainSeconds = Math.max(0.001, (Math.max(...meter.records.slice(0, n).map((r) => r.writtenAt)) - thawedAt) / 1000)
    const eventsPerSecond = n / drainSeconds
    phase('backlog drained')

    const perSecond = stage.paced.rate(eventsPerSecond)
    const count = Math.max(10, Math.round(perSecond * stage.paced.seconds))
    const pacedFrom = Date.now()
    for (let sent = 0; sent < count;) {
      const due = Math.min(count, Math.floor(((Date.now() - pacedFrom) * perSecond) / 1000) + 1)
      if (due > sent) {
        const sentAt = Date.now()
        const records = await Promise.all(Array.from({ length: due - sent }, (_, k) => stage.paced.record(sent + k, sentAt)))
        await producer.send({ topic: stage.input, acks: -1, messages: records })
        sent = due
      } else {
        await new Promise((r) => setTimeout(r, 5))
      }
    }
    phase('paced records sent')
    await waitFor(`${count} paced outputs on ${stage.output}`, () => meter.records.length >= n + count, 300_000, 100)
    phase('paced outputs read')
    // One at a time: the registry client caches a schema only once fetched, so concurrent first decodes would each fetch it.
    const latencies: number[] = []
    for (const r of meter.records.slice(n)) latencies.push(await stage.paced.latencyOf(r.value, r.writtenAt))
    return {
      eventsPerSecond, drainSeconds, phases, pacedPerSecond: perSecond, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99),
      cpu: cpuBetween(before, after, stage.cpu),
      outputs: meter.records.slice(0, n).map((r) => ({ key: r.key, value: r.value })),
    }
  } finally {
    await producer.disconnect()
    await meter.close()
  }
}

/** Waits until the group is stable with `members` members, each holding partitions. */
export async function waitGroupStable(admin: ReturnType<Kafka['admin']>, groupId: string, members: number): Promise<void> {
  await waitFor(`consumer group ${groupId} stable with ${members} members`, async () => {
    const [group] = (await admin.describeGroups([groupId])).groups
    if (!group || group.state !== 'Stable' || group.members.length !== members) return false
    return group.members.every((m) => {
      const assigned = AssignerProtocol.MemberAssignment.decode(m.memberAssignment)
      return assigned !== null && Object.values(assigned.assignment).some((partitions) => partitions.length > 0)
    })
  }, 180_000, 250)
}

/** Writes `records` with several requests in flight, as a log shipper catching up would. */
async function writeAll(producer: ReturnType<Kafka['producer']>, topic: string, records: KafkaRecord[]): Promise<void> {
  const chunks: KafkaRecord[][] = []
  for (let i = 0; i < records.length; i += 1_000) chunks.push(records.slice(i, i + 1_000))
  for (let i = 0; i < chunks.length; i += 8) {
    await Promise.all(chunks.slice(i, i + 8).map((messages) => producer.send({ topic, acks: -1, messages })))
  }
}

interface MeteredRecord {
  key: Buffer | null
  value: Buffer
  /** the record's CreateTime: when the stage's producer wrote it */
  writtenAt: number
}

/** Reads a stage's output topic from the beginning and keeps every record (no decoding while timing). */
async function startMeter(kafka: Kafka, topic: string) {
  const records: MeteredRecord[] = []
  const consumer = kafka.consumer({ groupId: `bench-meter-${randomUUID()}`, maxWaitTimeInMs: 100 })
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()))
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) records.push({ key: m.key, value: m.value!, writtenAt: Number(m.timestamp) })
    },
  })
  await joined
  return { records, close: () => consumer.disconnect() }
}
