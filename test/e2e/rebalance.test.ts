import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { dlqOf, evidenceOf, topics, type FeatureRecord, type Score, type Topic } from '@vigil/schemas'
import { withKafkaRetries } from '@vigil/platform'
import {
  OPENSSH_SAMPLE, type Pipeline, readLinesAsRecent, type ReadRecord, removeTopics, replayOverTcp, REPO_ROOT, type ServiceProcess, spreadOverHosts, startPipeline,
  toSyslog, type TopicReader, uniquePrefix, waitFor,
} from '@vigil/testkit'

// The OpenSSH sample from 8 hosts (so raw-logs uses several partitions), replayed while featurizer
// and scorer instances join, stop gracefully and crash; then every line is accounted for at every topic.
//
// What at-least-once allows, and so what is asserted: a crash (SIGKILL), or a commit lost in a
// rebalance, re-delivers what an instance had written but not yet committed; its next owner resumes
// at the committed offset, so the records processed twice form, per partition, one run of
// consecutive offsets per membership change. Hence: every event at least once; an extra copy is the
// same event (same id, line, entity, time, family); per partition, repeats form at most one run per
// membership change; and the crash, which is made to land while the instance has output written but
// not committed, does cause repeats. Scores are keyed by event id and alerts by alert id: the
// alerter counts each event once in Postgres and publishes no alert twice.
const lines = spreadOverHosts(readLinesAsRecent(OPENSSH_SAMPLE), 8)
const WARM_UP = 300
/** The main replay's pace while instances come and go; it slows down rather than end before the crash. */
const LINES_PER_SECOND = 60
/** Lines held back for the crash, and released in bursts so the instances are busy when it comes. */
const HELD_BACK = 900
/** Membership changes per group: one joins, one leaves (SIGTERM), one is killed, one joins to take over. */
const CHANGES = 4

describe('featurizer and scorer instances come and go during a replay', () => {
  let pipeline: Pipeline | undefined
  let killed = 0
  const tails: Tail[] = []
  afterAll(async () => {
    await Promise.all(tails.map((t) => t.close()))
    if (!pipeline) return
    const stopped = await pipeline.stop()
    await removeTopics(pipeline.reader.kafka, [pipeline.env.TOPIC_PREFIX!])
    // Every instance not killed (the survivors, the services left alone) still stops cleanly; the killed ones exited by signal.
    expect(stopped.filter((s) => s.code !== 0).map((s) => s.code)).toEqual(Array(killed).fill(null))
  })

  it('accounts for every line once in features, scores and alerts; repeats are re-deliveries only', async () => {
    pipeline = await startPipeline({
      stack: inject('stack'), prefix: uniquePrefix('rebalance'), logDir: join(REPO_ROOT, '.cache', 'test-logs', 'rebalance'),
      // A first model from the warm-up alone, trained on all of it whatever the alerter's Sigma rules
      // flag meanwhile; alerts on its top 1%, as the main job runs it, so there are alerts to check.
      env: { TRAIN_MIN_ROWS: '200', TRAIN_EXCLUDE_FLAGGED: 'false', TRAIN_SETTLE_MS: '1000', MODEL_TARGET_ALERT_RATE: '0.01' },
    })
    const p = pipeline
    const { reader } = p
    const [f1] = p.services.featurizer as [ServiceProcess]
    const [s1] = p.services.scorer as [ServiceProcess]

    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines.slice(0, WARM_UP))
    await s1.waitReady()
    // What has been written, read as it comes: to tell when an instance has output not yet committed.
    const features = await startTail(reader, topics.features)
    const scored = await startTail(reader, topics.scores)
    tails.push(features, scored)

    const replay = steerableReplay(p.syslogTcpPort, lines.slice(WARM_UP))
    const midStream = async () => expect(await reader.count(topics.rawLogs)).toBeLessThan(lines.length - 100)
    await waitFor('the main replay to be flowing', async () => (await reader.count(topics.scores)) > WARM_UP + 50, 30_000, 100)

    // 1. A featurizer and a scorer join mid-stream.
    const [f2, s2] = await Promise.all([p.add('featurizer'), p.add('scorer')])
    await Promise.all([f2.waitReady(), s2.waitReady()])
    await Promise.all([waitStable(p, 'featurizer', 2), waitStable(p, 'scorer', 2)])
    await midStream()

    // 2. The first of each stops gracefully: it finishes its batch, commits and exits 0 within the budget.
    const graceful = await Promise.all([f1.stop('SIGTERM'), s1.stop('SIGTERM')])
    for (const { code, ms } of graceful) {
      expect(code).toBe(0)
      expect(ms).toBeLessThan(10_000)
    }
    await Promise.all([waitStable(p, 'featurizer', 1), waitStable(p, 'scorer', 1)])
    await midStream()

    // 3. The remaining instance of each, now its group's only member, is killed while it has output
    // written but not committed (bursts of input keep it busy): no shutdown, no commit. Its partitions
    // wait for its session to time out (30 s, kafkajs's default); then the instances that joined
    // meanwhile take them over from the last committed offsets and process that input again.
    const rawTopic = reader.kafkaName(topics.rawLogs)
    const featuresTopic = reader.kafkaName(topics.features)
    const feed = () => replay.release(100)
    // the scorer first, while features still flow to it
    const scorerTries = await crashWithOutputInFlight(p, s2, 'scorer', featuresTopic, scored,
      (s) => features.coordinatesOf(s.eventId), [features], feed)
    killed++
    const featurizerTries = await crashWithOutputInFlight(p, f2, 'featurizer', rawTopic, features,
      (f) => [{ partition: f.evidence.partition, offset: f.evidence.offset }], [], feed)
    killed++
    expect(await reader.count(topics.features)).toBeLessThan(lines.length - 100)
    // 4. New instances join while the dead ones still hold their partitions.
    const [f3, s3] = await Promise.all([p.add('featurizer'), p.add('scorer')])
    replay.rest()
    await Promise.all([f3.waitReady(), s3.waitReady()])
    await replay.done

    // Everything is through once each stage's group has committed the end of its input.
    await waitDrained(p, 'featurizer', topics.rawLogs)
    await waitDrained(p, 'scorer', topics.features)
    await waitDrained(p, 'alerter', topics.scores)
    await waitDrained(p, 'alerter-sigma', topics.features) // the alerter's Sigma rules read features too (when enabled)
    const [raw, rawDlq, featureRecords, featuresDlq, scores, alerts] = await Promise.all([
      reader.readAll(topics.rawLogs), reader.readAll(dlqOf(topics.rawLogs)), reader.readAll(topics.features),
      reader.readAll(dlqOf(topics.features)), reader.readAll(topics.scores), reader.readAll(topics.alerts),
    ])

    // raw-logs: the ingestor was left alone, so every line is there exactly once.
    expect(rawDlq.filter((d) => d.value.service === 'ingestor')).toEqual([])
    expect(raw.map((r) => r.value.line).sort()).toEqual(lines.map((l) => toSyslog(l)).sort())
    expect(new Set(raw.map((r) => r.partition)).size).toBeGreaterThanOrEqual(4) // the hosts spread the lines

    // features: every raw record's event at least once, or dead-lettered with its reason; nothing else.
    const eventIdOf = (partition: number, offset: string) => `${rawTopic}/${partition}/${offset}`
    const deadLettered = new Map(rawDlq.filter((d) => d.value.service === 'featurizer').map((d) => [eventIdOf(d.value.partition!, d.value.offset!), d.value]))
    for (const d of deadLettered.values()) expect(d.errorCode).not.toBe('')
    const featuresById = groupBy(featureRecords, (f) => f.value.eventId)
    const expected = raw.map((r) => eventIdOf(r.partition, r.offset))
    expect(expected.filter((id) => !featuresById.has(id) && !deadLettered.has(id))).toEqual([]) // none missing
    expect(expected.filter((id) => featuresById.has(id) && deadLettered.has(id))).toEqual([]) // none both
    const known = new Set(expected)
    expect([...featuresById.keys()].filter((id) => !known.has(id))).toEqual([]) // none invented
    // A repeat is the same event: same line, coordinates, entity, time and family.
    for (const copies of featuresById.values()) {
      const identity = (f: FeatureRecord) => JSON.stringify([f.evidence, f.event.event.original, f.entity, f.eventTime, f.family])
      expect(new Set(copies.map((c) => identity(c.value))).size).toBe(1)
    }
    // Repeats are re-deliveries: per raw-logs partition, runs of consecutive offsets, one per membership change at most.
    const rawRepeats = new Map(raw.map((r) => {
      const id = eventIdOf(r.partition, r.offset)
      return [`${r.partition}/${r.offset}`, deadLettered.has(id) ? 'unknown' as const : featuresById.get(id)!.length > 1]
    }))
    expect(runsPerPartition(raw, rawRepeats).filter(([, runs]) => runs > CHANGES)).toEqual([])

    // scores: every feature record scored, nothing the scorer could not score, no score without its features.
    expect(featuresDlq).toEqual([])
    const scoresById = groupBy(scores, (s) => s.value.eventId)
    expect([...featuresById.keys()].filter((id) => !scoresById.has(id))).toEqual([])
    expect([...scoresById.keys()].filter((id) => !featuresById.has(id))).toEqual([])
    for (const [id, copies] of scoresById) {
      const featureCopies = featuresById.get(id)!
      // each copy on features was scored (at least once)
      expect(copies.length).toBeGreaterThanOrEqual(featureCopies.length)
      const vectors = featureCopies.map((f) => canonical(f.value.vector))
      for (const s of copies) {
        // a score is of one of the event's feature records, with its evidence
        expect(vectors).toContain(canonical(s.value.features))
        expect(s.value.evidence).toEqual(evidenceOf(featureCopies[0]!.value))
      }
      // the same features scored again give the same score (one model version ran throughout)
      const byVector = groupBy(copies, (s) => canonical(s.value.features))
      for (const same of byVector.values()) expect(new Set(same.map((s) => `${s.value.modelVersion} ${s.value.score}`)).size).toBe(1)
    }
    // Re-scored feature records (those whose event is on features once, so the extra scores are theirs) form runs too.
    const rescored = new Map(featureRecords.map((f) => {
      const id = f.value.eventId
      const single = featuresById.get(id)!.length === 1
      return [`${f.partition}/${f.offset}`, single ? scoresById.get(id)!.length > 1 : 'unknown' as const]
    }))
    expect(runsPerPartition(featureRecords, rescored).filter(([, runs]) => runs > CHANGES)).toEqual([])

    // The crashes re-delivered what was in flight: some events were featurized twice, some feature records scored twice.
    const repeats = (byId: Map<string, unknown[]>) => [...byId.values()].reduce((n, copies) => n + copies.length - 1, 0)
    const rescoredCount = [...scoresById].reduce((n, [id, copies]) => n + copies.length - featuresById.get(id)!.length, 0)
    expect(repeats(featuresById)).toBeGreaterThan(0)
    expect(rescoredCount).toBeGreaterThan(0)
    const changed = [...featuresById.values()].filter((copies) => new Set(copies.map((c) => canonical(c.value.vector))).size > 1).length
    console.log(`rebalance: ${raw.length} lines over ${new Set(raw.map((r) => r.partition)).size} partitions; featurized twice ${repeats(featuresById)} `
      + `(${changed} with other window counts the second time), scored twice ${rescoredCount} more; ${alerts.length} alerts; `
      + `crashes caught on try ${featurizerTries} (featurizer) and ${scorerTries} (scorer)`)

    // alerts: on the topic once, and once more for each severity it rose to, in rising order (never the
    // same severity twice); the same alerts in Postgres, each event counted once.
    expect(alerts.length).toBeGreaterThan(0)
    const published = groupBy(alerts, (a) => a.value.alertId)
    for (const copies of published.values()) {
      const severities = copies.map((a) => a.value.severityId)
      expect(severities, `${copies[0]!.value.detector} ${copies[0]!.value.entity.id}`).toEqual([...new Set(severities)].sort((a, b) => a - b))
    }
    const db = new pg.Client({ connectionString: p.env.PG_URL })
    await db.connect()
    try {
      const stored = await db.query<{ alert_id: string; published: boolean; event_count: number; counted: string }>(
        `SELECT a.alert_id, a.published, a.event_count, (SELECT count(*) FROM alert_events e WHERE e.alert_id = a.alert_id) AS counted FROM alerts a`)
      expect(stored.rows.map((r) => r.alert_id).sort()).toEqual([...published.keys()].sort())
      for (const r of stored.rows) {
        expect(r.published).toBe(true)
        expect(r.event_count).toBe(Number(r.counted))
      }
      // The events the model alerted on: every event whose scores all reached the threshold, and only events with one that did.
      const alerted = new Set((await db.query<{ event_id: string }>(
        `SELECT e.event_id FROM alert_events e JOIN alerts a USING (alert_id) WHERE a.detector = 'model:default'`)).rows.map((r) => r.event_id))
      expect(alerted.size).toBeGreaterThan(0)
      const over = (s: ReadRecord<Score>) => s.value.score >= (s.value.threshold ?? 1) // as the alerter judges (no ALERT_SCORE_THRESHOLD set)
      const always = [...scoresById].filter(([, copies]) => copies.every(over)).map(([id]) => id)
      const ever = new Set([...scoresById].filter(([, copies]) => copies.some(over)).map(([id]) => id))
      expect(always.filter((id) => !alerted.has(id))).toEqual([])
      expect([...alerted].filter((id) => !ever.has(id))).toEqual([])
    } finally {
      await db.end()
    }
  })
})

interface Coordinates {
  partition: number
  offset: string
}

/** A topic read as it is written. */
interface Tail<T = unknown> {
  values: T[]
  /** called once, as soon as the next records arrive (before they are decoded) */
  onArrival: (() => void) | null
  /** where the records with this event id are */
  coordinatesOf(eventId: string): Coordinates[]
  /** Resolves once every record the topic holds now has been read. */
  caughtUp(): Promise<void>
  close(): Promise<void>
}

async function startTail<T extends { eventId: string }>(reader: TopicReader, topic: Topic<T>): Promise<Tail<T>> {
  const values: T[] = []
  const byEventId = new Map<string, Coordinates[]>()
  const tail: Tail<T> = {
    values,
    onArrival: null,
    coordinatesOf: (eventId) => byEventId.get(eventId) ?? [],
    caughtUp: async () => {
      await waitFor(`reading ${reader.kafkaName(topic)} to its end`, async () => values.length >= (await reader.count(topic)), 30_000, 20)
    },
    close: () => consumer.disconnect(),
  }
  const consumer = reader.kafka.consumer({ groupId: `test-tail-${randomUUID()}`, maxWaitTimeInMs: 50 })
  await consumer.connect()
  await consumer.subscribe({ topic: reader.kafkaName(topic), fromBeginning: true })
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const arrival = tail.onArrival
      tail.onArrival = null
      arrival?.()
      for (const m of batch.messages) {
        const value = await reader.codec.decode(topic, m.value)
        values.push(value)
        byEventId.set(value.eventId, [...(byEventId.get(value.eventId) ?? []), { partition: batch.partition, offset: m.offset }])
      }
    },
  })
  return tail
}

/**
 * Kills `instance`, its group's only member, at a moment it has written output for input whose
 * offsets it has not committed. It is frozen (SIGSTOP) the moment its output topic grows; frozen, it
 * can neither write nor commit, so what the topics say holds until it is killed. If no output is in
 * flight after all, it is thawed and the next growth tried. `feed` releases more input while the
 * output does not grow. `inputsOf` gives the input an output record came from; the output and
 * `tails` are read to their end before each look.
 */
async function crashWithOutputInFlight<T>(
  p: Pipeline, instance: ServiceProcess, group: string, inputTopic: string, output: Tail<T>,
  inputsOf: (value: T) => Coordinates[], tails: Tail[], feed: () => boolean,
): Promise<number> {
  const admin = p.reader.kafka.admin()
  await admin.connect()
  try {
    for (let tries = 1; ; tries++) {
      const arrived = new Promise<void>((resolve) => {
        output.onArrival = () => {
          instance.child.kill('SIGSTOP')
          resolve()
        }
      })
      let idle = 0
      while (!(await Promise.race([arrived.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 1_000))]))) {
        if (!feed() && ++idle > 10) throw new Error(`the ${group} never had output in flight when frozen (${tries} tries), though it was fed all the input`)
      }
      await Promise.all([output, ...tails].map((t) => t.caughtUp()))
      const [committed] = await withKafkaRetries(() => admin.fetchOffsets({ groupId: `${p.env.TOPIC_PREFIX}${group}`, topics: [inputTopic] }))
      const next = new Map(committed!.partitions.map((c) => [c.partition, Number(c.offset)])) // -1: nothing committed yet
      if (output.values.some((value) => inputsOf(value).some((input) => Number(input.offset) >= (next.get(input.partition) ?? -1)))) {
        const { code } = await instance.stop('SIGKILL')
        expect(code).toBeNull()
        return tries
      }
      instance.child.kill('SIGCONT')
    }
  } finally {
    output.onArrival = null
    if (instance.child.exitCode === null && instance.child.signalCode === null) instance.child.kill('SIGCONT')
    await admin.disconnect()
  }
}

/**
 * Sends `lines` over syslog TCP at LINES_PER_SECOND, except the last HELD_BACK: those trickle (5/s)
 * unless released, some at a time (`release`) or all (`rest`), to go at once. Whatever the machine's
 * speed, lines are still flowing at each change, and instances are busy when they are killed.
 */
function steerableReplay(port: number, lines: string[]) {
  let released = 0
  let hurry = false
  const heldFrom = lines.length - HELD_BACK
  const done = (async () => {
    const socket = connect({ host: '127.0.0.1', port })
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    for (let i = 0; i < lines.length; i++) {
      if (!socket.write(`${toSyslog(lines[i]!)}\n`)) await new Promise((r) => socket.once('drain', r))
      if (hurry || (i >= heldFrom && i < heldFrom + released)) continue
      await new Promise((r) => setTimeout(r, 1000 / (i < heldFrom ? LINES_PER_SECOND : 5)))
    }
    await new Promise<void>((resolve) => socket.end(resolve))
  })()
  return {
    /** Lets `n` more held-back lines go at once; false when none are left. */
    release(n: number): boolean {
      if (released >= HELD_BACK) return false
      released += n
      return true
    },
    rest: () => void (hurry = true),
    done,
  }
}

function groupBy<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) {
    const key = keyOf(item)
    const group = groups.get(key)
    if (group) group.push(item)
    else groups.set(key, [item])
  }
  return groups
}

/** A feature vector as text with its keys in order, so two equal vectors compare equal. */
function canonical(vector: object): string {
  return JSON.stringify(Object.entries(vector).sort(([a], [b]) => a.localeCompare(b)))
}

/**
 * Per partition, how many maximal runs of repeated records there are, walking the offsets in order:
 * `true` records extend a run, `false` ones end it, and 'unknown' ones (which cannot be told) neither.
 */
function runsPerPartition(records: Array<ReadRecord<unknown>>, repeated: Map<string, boolean | 'unknown'>): Array<[number, number]> {
  const byPartition = groupBy(records, (r) => String(r.partition))
  return [...byPartition].map(([partition, rs]) => {
    let runs = 0
    let inRun = false
    for (const r of rs.sort((a, b) => Number(a.offset) - Number(b.offset))) {
      const mark = repeated.get(`${r.partition}/${r.offset}`)
      if (mark === 'unknown') continue
      if (mark && !inRun) runs++
      inRun = mark === true
    }
    return [Number(partition), runs]
  })
}

/** Waits until the service's consumer group is stable with `members` members. */
async function waitStable(p: Pipeline, service: 'featurizer' | 'scorer', members: number): Promise<void> {
  const admin = p.reader.kafka.admin()
  await admin.connect()
  try {
    await waitFor(`the ${service} group to be stable with ${members} members`, async () => {
      const [group] = (await admin.describeGroups([`${p.env.TOPIC_PREFIX}${service}`])).groups
      return group?.state === 'Stable' && group.members.length === members
    }, 60_000, 250)
  } finally {
    await admin.disconnect()
  }
}

/** Waits until the consumer group (if the deployment has it) has committed the end of every partition of `topic`. */
async function waitDrained(p: Pipeline, group: string, topic: Parameters<Pipeline['reader']['count']>[0]): Promise<void> {
  const admin = p.reader.kafka.admin()
  await admin.connect()
  try {
    const groupId = `${p.env.TOPIC_PREFIX}${group}`
    if (!(await admin.listGroups()).groups.some((g) => g.groupId === groupId)) return
    const name = p.reader.kafkaName(topic)
    await waitFor(`the ${group} group to commit the end of ${name}`, async () => {
      const ends = new Map((await withKafkaRetries(() => admin.fetchTopicOffsets(name))).map((o) => [o.partition, o.high]))
      const [committed] = await withKafkaRetries(() => admin.fetchOffsets({ groupId, topics: [name] }))
      return committed!.partitions.every((c) => c.offset === ends.get(c.partition) || (ends.get(c.partition) === '0'))
    }, 90_000, 500)
  } finally {
    await admin.disconnect()
  }
}
