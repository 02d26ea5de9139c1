import type { ClaimedNotification, Outbox } from './outbox.ts'
import { retryDelayMs, type RetryPolicy } from './retry-policy.ts'
import type { SinkEvents } from './sink-events.ts'
import { SinkError, type Sink } from './sink.ts'

export interface DispatchPolicy extends RetryPolicy {
  /** wait when nothing is due before looking again, ms */
  pollMs: number
  /** how long a claim holds a row, ms; must outlast one delivery (the sink's timeout) */
  leaseMs: number
}

/** How often the backlog gauges are refreshed, ms. */
const BACKLOG_EVERY_MS = 5_000
/** Tries to record an outcome before leaving the row to its lapsing claim. */
const RECORD_TRIES = 3

export interface SinkDispatcher {
  /** Looks for due rows now rather than after the poll interval (new rows were enqueued). */
  nudge(): void
  /** Stops claiming, lets the delivery in flight finish and record its outcome. */
  close(): Promise<void>
}

/**
 * One sink's delivery loop: claim the most overdue row, deliver it, record the outcome. Each sink
 * has its own loop, so a sink that is down delays only its own notifications.
 *
 * A failure that can pass schedules the row again with exponential backoff (or the receiver's
 * Retry-After), and pauses this loop too, growing with each failure in a row: a dead sink is probed,
 * not flooded with every pending alert. The first success after failures makes every backed-off row
 * of the sink due at once. A refusal marks the row failed with its reason.
 */
export function createSinkDispatcher(deps: { sink: Sink; outbox: Outbox; policy: DispatchPolicy; events: SinkEvents; random?: () => number }): SinkDispatcher {
  const { sink, outbox, policy, events, random = Math.random } = deps
  let stopping = false
  let failuresInARow = 0
  let wake: (() => void) | null = null
  let idle = false

  const sleep = (ms: number, idleWait: boolean) => new Promise<void>((resolve) => {
    if (stopping) return resolve()
    const done = () => {
      clearTimeout(timer)
      wake = null
      idle = false
      resolve()
    }
    const timer = setTimeout(done, ms)
    wake = done
    idle = idleWait
  })

  /** Runs an outbox update, retrying briefly; false when it could not be recorded or the claim had lapsed. */
  const record = async (claim: ClaimedNotification, update: () => Promise<boolean>): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        if (!(await update())) events.claimLost(claim)
        return
      } catch (err) {
        if (attempt >= RECORD_TRIES) return events.outcomeNotRecorded(claim, err)
        await new Promise((r) => setTimeout(r, policy.pollMs * attempt))
      }
    }
  }

  /** Delivers one claimed row and records the outcome; returns how long the loop should pause, ms. */
  const deliver = async (claim: ClaimedNotification): Promise<number> => {
    const started = performance.now()
    try {
      await sink.deliver({ alertId: claim.alertId, alert: claim.alert, eventCount: claim.eventCount, attempt: claim.attempt })
    } catch (err) {
      const failure = err instanceof SinkError ? err : new SinkError('SINK_BROKEN', (err as Error)?.message ?? String(err), false, undefined, { cause: err })
      const reason = `${failure.code}: ${failure.message}`
      if (!failure.canRetry) {
        await record(claim, () => outbox.markFailed(claim, reason))
        events.failed(claim, failure)
        return 0
      }
      failuresInARow++
      const rowDelayMs = failure.retryAfterMs ?? retryDelayMs(claim.attempt, policy, random)
      await record(claim, () => outbox.scheduleRetry(claim, rowDelayMs, reason))
      events.retried(claim, failure, rowDelayMs)
      return failure.retryAfterMs ?? retryDelayMs(failuresInARow, policy, random)
    }
    events.delivered(claim, (performance.now() - started) / 1000)
    await record(claim, () => outbox.markDelivered(claim))
    if (failuresInARow > 0) {
      failuresInARow = 0
      await outbox.expedite(sink.name).catch((err) => events.outboxUnavailable(sink.name, err))
    }
    return 0
  }

  const reportBacklog = async () => {
    try {
      events.backlog(sink.name, await outbox.backlog(sink.name))
    } catch (err) {
      events.outboxUnavailable(sink.name, err)
    }
  }

  const loop = (async () => {
    let backlogAt = 0
    while (!stopping) {
      if (performance.now() - backlogAt >= BACKLOG_EVERY_MS) {
        backlogAt = performance.now()
        await reportBacklog()
      }
      let claim: ClaimedNotification | null
      try {
        claim = await outbox.claim(sink.name, policy.leaseMs)
      } catch (err) {
        events.outboxUnavailable(sink.name, err)
        await sleep(policy.pollMs, false)
        continue
      }
      if (!claim) {
        await sleep(policy.pollMs, true)
        continue
      }
      const pauseMs = await deliver(claim)
      if (pauseMs > 0 && !stopping) await sleep(pauseMs, false)
    }
  })()

  return {
    nudge() {
      if (idle) wake?.()
    },
    async close() {
      stopping = true
      wake?.()
      await loop
    },
  }
}
