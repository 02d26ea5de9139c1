import type { Admin } from 'kafkajs'
import { errorCode } from './errors.ts'
import type { Logger } from './logger.ts'
import type { Metrics } from './metrics.ts'

/** How often the lag is read from the broker (ms): a few times per Prometheus scrape interval of 15–30 s. */
export const CONSUMER_LAG_REFRESH_MS = 10_000

/** The part of kafkajs's admin client the reporter uses. */
export type LagAdmin = Pick<Admin, 'connect' | 'disconnect' | 'fetchOffsets' | 'fetchTopicOffsets'>

/** One consumer of this instance: a group reading a topic. */
export interface ConsumedTopic {
  /** logical group name, as the service names it (the `group` label) */
  group: string
  /** the group's Kafka name, with the deployment prefix */
  groupId: string
  /** logical topic name (the `topic` label) */
  topic: string
  /** the topic's Kafka name, with the deployment prefix */
  kafkaTopic: string
  /** where the group starts on a partition it has never committed: the log start, or the end */
  fromBeginning: boolean
}

export interface ConsumerLagReporter {
  /**
   * Starts reporting `consumed`; returns the function to call with the partitions assigned to this
   * instance at each rebalance (an empty list once the consumer stops or crashes).
   */
  track(consumed: ConsumedTopic): (partitions: number[]) => void
  /** Stops the timer and disconnects the admin client; safe to call more than once. */
  close(): Promise<void>
}

/**
 * Messages a group has still to process on one partition, as `kafka-consumer-groups --describe`
 * counts them (LAG): the end offset (high watermark) minus the group's committed offset. A partition
 * the group has never committed counts from where the group will start: the log start offset with
 * `fromBeginning`, otherwise nothing (the tool shows "-").
 */
export function lagOf(end: { high: string; low: string }, committed: string, fromBeginning: boolean): number {
  const high = Number(end.high)
  const from = Number(committed) >= 0 ? Number(committed) : fromBeginning ? Number(end.low) : high
  return Math.max(0, high - from)
}

/**
 * Sets `app_consumer_lag_messages{group,topic,partition}` for the partitions assigned to this
 * instance, every `refreshMs`, from the broker's end and committed offsets. It is read from the
 * broker rather than from kafkajs's `batch.offsetLag()`, which compares a batch with the end as of
 * that fetch (about 0 after every fetch that drains the partition) and changes only when a batch
 * succeeds (so not while a dependency outage holds one). Summed over the pods of a deployment, the
 * series of a group add up to its lag: each pod reports only its own partitions, and drops a
 * partition's series when a rebalance takes it away.
 */
export function createConsumerLagReporter(
  createAdmin: () => LagAdmin, metrics: Pick<Metrics, 'consumerLag'>, log: Logger, refreshMs = CONSUMER_LAG_REFRESH_MS,
): ConsumerLagReporter {
  const tracked = new Map<ConsumedTopic, Set<number>>()
  let admin: LagAdmin | undefined
  let connected: Promise<void> | undefined
  let timer: NodeJS.Timeout | undefined
  let refreshing: Promise<void> | undefined
  let refreshAgain = false
  let closed = false
  // A broker that stays away would otherwise log a line every refresh: each distinct error once, until a refresh succeeds.
  const errorsLogged = new Set<string>()

  const labelsOf = (c: ConsumedTopic, partition: number) => ({ group: c.group, topic: c.topic, partition: String(partition) })

  function schedule(ms: number) {
    clearTimeout(timer)
    if (closed) return
    timer = setTimeout(() => void runRefresh(), ms)
    timer.unref() // a command-line tool that consumed must still exit
  }

  function runRefresh() {
    refreshing = refresh().catch(onRefreshFailed).finally(() => {
      refreshing = undefined
      schedule(refreshAgain ? 0 : refreshMs)
      refreshAgain = false
    })
    return refreshing
  }

  /** Reads now (a new assignment shows at once), or right after the refresh under way. */
  function refreshSoon() {
    if (refreshing) refreshAgain = true
    else schedule(0)
  }

  async function refresh() {
    const assigned = [...tracked].filter(([, partitions]) => partitions.size > 0).map(([c]) => c)
    if (closed || assigned.length === 0) return
    admin ??= createAdmin()
    await (connected ??= admin.connect().catch((err: unknown) => {
      connected = undefined
      throw err
    }))
    if (closed) return void (await admin.disconnect()) // closed while connecting
    // Committed offsets before end offsets: a commit in between shows as lag for one period, never as a negative one.
    const committed = await Promise.all(assigned.map((c) => admin!.fetchOffsets({ groupId: c.groupId, topics: [c.kafkaTopic] })))
    const topicNames = [...new Set(assigned.map((c) => c.kafkaTopic))]
    const ends = new Map(await Promise.all(topicNames.map(async (t) => [t, await admin!.fetchTopicOffsets(t)] as const)))
    if (closed) return
    assigned.forEach((c, i) => {
      // the assignment as it is now: a rebalance during the requests may have taken partitions away
      for (const partition of tracked.get(c) ?? []) {
        const end = ends.get(c.kafkaTopic)?.find((e) => e.partition === partition)
        const offset = committed[i]?.find((t) => t.topic === c.kafkaTopic)?.partitions.find((p) => p.partition === partition)?.offset ?? '-1'
        if (end) metrics.consumerLag.set(labelsOf(c, partition), lagOf(end, offset, c.fromBeginning))
      }
    })
    if (errorsLogged.size > 0) log.info('reading consumer lag from the broker again')
    errorsLogged.clear()
  }

  function onRefreshFailed(err: unknown) {
    if (closed) return
    const key = `${errorCode(err)} ${(err as Error)?.message ?? String(err)}`
    if (errorsLogged.has(key)) return
    errorsLogged.add(key)
    log.warn({ err }, 'could not read consumer lag from the broker: app_consumer_lag_messages keeps its last values until it can')
  }

  return {
    track(consumed) {
      const partitions = new Set<number>()
      tracked.set(consumed, partitions)
      return (assignment) => {
        for (const p of partitions) if (!assignment.includes(p)) metrics.consumerLag.remove(labelsOf(consumed, p))
        partitions.clear()
        for (const p of assignment) partitions.add(p)
        if (assignment.length > 0) refreshSoon()
      }
    },

    async close() {
      if (closed) return
      closed = true
      clearTimeout(timer)
      // A refresh under way fails with the disconnection, or disconnects itself once its connect
      // returns; either way it logs and sets nothing after close, and shutdown does not wait for it.
      await admin?.disconnect().catch(() => {})
    },
  }
}
