import {
  createCorrelator, type CompiledCorrelation, type CorrelationMatch, type CorrelationState, type Correlator, type DetectionMatch, type EventSource,
  type SigmaEvent,
} from '@vigil/sigma'
import type { GuardKey, ReplayGuard } from './replay-guard.ts'

/** One event with the detection rules it matched, in stream order. */
export interface MatchedEvent {
  event: SigmaEvent
  source: EventSource
  matches: DetectionMatch[]
}

/** A fired correlation, with its rule's timespan (ms): the event-time window it counted over. */
export type FeedFiring = CorrelationMatch & { timespanMs: number }

export interface CorrelationFeed {
  /** Feeds a batch's events in order to the correlations their matches name; returns each event's firings. */
  observe(events: readonly MatchedEvent[]): Promise<FeedFiring[][]>
}

/**
 * The correlator of @vigil/sigma with a replay guard in front (replay-guard.ts): per correlation,
 * an event already counted in one of its firings is not fed to it again. The state and the guard
 * live in Redis, so every alerter instance sees every group.
 */
export function createCorrelationFeed(
  correlations: readonly CompiledCorrelation[], state: CorrelationState, guard: ReplayGuard, idleTtlMs: number,
): CorrelationFeed {
  // One correlator per correlation, so an event can be kept from one correlation and fed to another.
  const feeds = correlations.map((correlation) => ({ correlation, correlator: createCorrelator([correlation], state) as Correlator }))

  return {
    async observe(events) {
      const plans: { index: number; feed: (typeof feeds)[number]; key: GuardKey; member: string }[] = []
      events.forEach(({ event, source, matches }, index) => {
        for (const feed of feeds) {
          const step = firstStep(feed.correlation, matches)
          if (step === -1) continue
          // The group and member as the correlator reads them: its first matched step decides.
          const group = feed.correlation.groupOf(step, event, source)
          if (group === null) continue
          const member = feed.correlation.rule.type === 'value_count' ? feed.correlation.valueOf(step, event, source) : event.eventId
          if (member === null) continue
          plans.push({ index, feed, key: { correlationId: feed.correlation.rule.attribution.id, groupKey: group.key }, member })
        }
      })
      const firedBefore = await guard.fired(plans.map(({ key, member }) => ({ key, member })))
      // Firings within this batch: a batch may carry the same event twice.
      const firedNow = new Set<string>()
      const id = (key: GuardKey, member: string) => `${key.correlationId}\u0000${key.groupKey}\u0000${member}`
      const out: FeedFiring[][] = events.map(() => [])
      for (const [i, plan] of plans.entries()) {
        if (firedBefore[i] || firedNow.has(id(plan.key, plan.member))) continue
        const { event, source, matches } = events[plan.index]!
        for (const firing of await plan.feed.correlator.observe(event, source, matches)) {
          out[plan.index]!.push({ ...firing, timespanMs: plan.feed.correlation.rule.timespanMs })
          for (const m of firing.members) firedNow.add(id(plan.key, m))
          await guard.remember(plan.key, firing.members, plan.feed.correlation.rule.timespanMs + idleTtlMs)
        }
      }
      return out
    },
  }
}

/** The first of the correlation's steps that the event's matches name (in match order, as the correlator reads them), or -1. */
function firstStep(correlation: CompiledCorrelation, matches: readonly DetectionMatch[]): number {
  for (const m of matches) {
    const step = correlation.steps.findIndex((s) => s.rule.attribution.id === m.rule.id)
    if (step !== -1) return step
  }
  return -1
}
