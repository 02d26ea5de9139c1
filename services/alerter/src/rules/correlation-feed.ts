import {
  createCorrelator, type CompiledCorrelation, type CorrelationMatch, type CorrelationState, type DetectionMatch, type EventSource, type SigmaEvent,
} from '@vigil/sigma'

/** One event with the detection rules it matched, in stream order. */
export interface MatchedEvent {
  event: SigmaEvent
  source: EventSource
  matches: DetectionMatch[]
  /** the event's quote, which a correlation keeps while it counts the event (see @vigil/sigma's CorrelationState) */
  quote?: () => string
}

/**
 * A fired correlation, with its rule's timespan (ms): the event-time window it counted over; and, for
 * value_count, the field whose distinct values it counted (its members).
 */
export type FeedFiring = CorrelationMatch & { timespanMs: number; valueField: string | null }

export interface CorrelationFeed {
  /** Feeds a batch's events in order to the correlations their matches name; returns each event's firings. */
  observe(events: readonly MatchedEvent[]): Promise<FeedFiring[][]>
}

/**
 * The correlator of @vigil/sigma over a batch. Its state (in Redis, so every alerter instance sees
 * every group) answers an event it has seen with what it answered the first time: a redelivered
 * batch counts nothing twice and gets back the firings it completed, so their alerts are raised if
 * storing them failed the first time. Within a batch, a firing an event repeated there completed
 * is returned once.
 */
export function createCorrelationFeed(correlations: readonly CompiledCorrelation[], state: CorrelationState): CorrelationFeed {
  const correlator = createCorrelator(correlations, state)
  const ruleOf = new Map(correlations.map((c) => [c.rule.attribution.id, c.rule]))
  return {
    async observe(events) {
      // In stream order, none awaited on its own: the correlator keeps each group's observations in
      // order, and sends different groups' together, rather than one round trip per event.
      const observed = await Promise.all(events.map(({ event, source, matches, quote }) => correlator.observe(event, source, matches, quote)))
      const returned = new Set<string>()
      const out: FeedFiring[][] = []
      for (const fired of observed) {
        const firings: FeedFiring[] = []
        for (const firing of fired) {
          const id = `${firing.rule.id}\u0000${JSON.stringify(firing.groupBy)}\u0000${firing.eventId}`
          if (returned.has(id)) continue
          returned.add(id)
          const { timespanMs, valueField } = ruleOf.get(firing.rule.id)!
          firings.push({ ...firing, timespanMs, valueField })
        }
        out.push(firings)
      }
      return out
    },
  }
}
