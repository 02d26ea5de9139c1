import { createHash } from 'node:crypto'
import type { CompiledDetection } from './compile-rule.ts'
import type { DetectionMatch } from './engine.ts'
import type { EventSource, FieldReader } from './field-mapping.ts'
import type { LoadedDetection } from './load-rules.ts'
import { SigmaRuleError } from './parse-rule.ts'
import type { Attribution, CorrelationRule, CorrelationType, CountCondition } from './rule-model.ts'
import type { SigmaEvent } from './sigma-event.ts'

/**
 * Sigma correlation rules over a stream. Each referenced rule is a step; an event that matches
 * steps of a correlation is observed in the state of its group (the group-by values), and the
 * state says atomically whether the correlation fires. Semantics, per group, on event time t:
 * - event_count: the distinct events in (t - timespan, t]; fires when the count meets the condition.
 * - value_count: the distinct values of `condition.field` in the window; the same.
 * - temporal: the distinct steps seen in the window; fires when their count meets the condition
 *   (default: every step).
 * - temporal_ordered: every step, in the listed order of event time (a tie allowed), the last less
 *   than one timespan after the first, whatever order the events arrive in (a score arrives after
 *   the features of its event, and often after those of the next one). The window keeps at most
 *   MAX_ORDERED_EVENTS events per group, the oldest leaving first.
 * When a correlation fires, its group's window is cleared, so the next alert needs fresh events.
 * Windows run on the newest event time the group has seen: an event older than that by more than
 * the timespan no longer counts.
 * Each observation (an event at its steps) is answered once: observed again, a redelivery or the
 * same event twice in a batch, it counts nothing more and gets what it got the first time, the same
 * firing if it completed one. So a batch handled again after its alerts failed to be stored raises
 * them again (the alert store counts each event once), and a replay never fires a second time. The
 * answers are kept for as long as the window would keep their events.
 * An observation may carry a quote (the caller's, e.g. the event's evidence), kept with the member
 * it made for as long as the member is in the window, and returned with a firing that names the
 * member: so an alert can cite the events of earlier batches it counted. A value_count member is
 * quoted by its latest event, a temporal step by the event that came to it last. A window keeps at
 * most MAX_FIRING_MEMBERS quotes, those of the first members to come.
 */
export interface CompiledCorrelation {
  rule: CorrelationRule
  /** the referenced detections, in the rule's order */
  steps: LoadedDetection[]
  /** the group of an event matched by step `step` (in that event's source), or null when a group-by field is absent */
  groupOf(step: number, event: SigmaEvent, source: EventSource): { key: string; values: Record<string, string> } | null
  /** value_count: the counted field's value in the event, or null */
  valueOf(step: number, event: SigmaEvent, source: EventSource): string | null
}

/** What the state store is asked for one event (already matched to steps of one correlation). */
export interface Observation {
  /** the correlation rule's id, so keys are per rule */
  correlationId: string
  type: CorrelationType
  /** hash of the group-by values */
  groupKey: string
  /** the steps this event matched (indices into the rule's list) */
  steps: number[]
  stepCount: number
  eventId: string
  /** event time, ms */
  time: number
  timespanMs: number
  condition: CountCondition
  /** value_count: the value counted */
  value: string | null
  /** what to return for this event's member with a firing that names it (see above), or null */
  quote?: string | null
}

/** Evidence returned with a firing: the first members, enough for an alert to cite. */
export const MAX_FIRING_MEMBERS = 100
/**
 * Events a temporal_ordered window keeps per group. A chain is found from the latest start, so
 * dropping the oldest events loses only chains that would start before every kept event and whose
 * later steps arrive later still; it bounds the work per observation in a flood.
 */
export const MAX_ORDERED_EVENTS = 1000

/** When a correlation fires: how many it counted and the evidence (event ids; for value_count, the values). */
export interface Firing {
  count: number
  members: string[]
  /**
   * per member, the quote its observation gave, null when it gave none; all null when the firing is
   * given again to an observation seen before (quotes are not kept with the outcomes)
   */
  quotes: Array<string | null>
}

/** Correlation state shared by every alerter instance (Redis), or one process's (memory, for tests). */
export interface CorrelationState {
  /** Records the observation and, atomically with it, decides whether the correlation fires. */
  observe(o: Observation): Promise<Firing | null>
  close(): Promise<void>
}

/** A fired correlation, with the attribution of the correlation rule and of every rule it names (DRL 1.1). */
export interface CorrelationMatch {
  kind: 'correlation'
  rule: Attribution
  type: CorrelationType
  correlated: Attribution[]
  groupBy: Record<string, string>
  count: number
  /** event ids (event_count, temporal, temporal_ordered) or values (value_count) that made it fire */
  members: string[]
  /** per member, its quote (see CorrelationState) or null */
  quotes: Array<string | null>
  /** the event that completed it */
  eventId: string
  eventTime: number
}

/** Resolves a correlation rule against the loaded detections. */
export function compileCorrelation(rule: CorrelationRule, detections: readonly LoadedDetection[]): CompiledCorrelation {
  const steps = rule.rules.map((ref) => {
    const found = detections.find((d) => d.rule.attribution.id === ref || d.rule.name === ref)
    if (found === undefined) throw new SigmaRuleError('CORRELATION_UNRESOLVED', `correlation names rule ${ref}, which is not loaded`)
    return found
  })
  const { condition } = rule
  if (condition.gt === undefined && condition.gte === undefined && condition.eq === undefined) {
    throw new SigmaRuleError('CORRELATION_UNSUPPORTED', 'a condition with only an upper bound (lt, lte, neq) needs the window to close, which a stream does not wait for')
  }
  if (rule.type === 'temporal_ordered' && (condition.gte !== rule.rules.length || Object.keys(condition).length !== 1)) {
    throw new SigmaRuleError('CORRELATION_UNSUPPORTED', 'temporal_ordered takes no condition but "every rule in order"')
  }

  // Per step and source, a reader for each group-by field (through the aliases) and for the counted value.
  const fieldOf = (name: string, step: LoadedDetection): string => {
    const alias = rule.aliases.get(name)
    if (alias === undefined) return name
    const field = alias.get(step.rule.attribution.id) ?? (step.rule.name !== null ? alias.get(step.rule.name) : undefined)
    if (field === undefined) throw new SigmaRuleError('CORRELATION_UNRESOLVED', `alias ${name} names no field for rule ${step.rule.attribution.id}`)
    return field
  }
  const readers = steps.map((step) => new Map(step.compiled.map((c: CompiledDetection) => {
    const read = (name: string): FieldReader => {
      const field = fieldOf(name, step)
      const reader = c.source.reader(field)
      if (reader === null) throw new SigmaRuleError('CORRELATION_UNRESOLVED', `field ${field} has no source in ${c.source.key} events (rule ${step.rule.attribution.id})`)
      return reader
    }
    return [c.source.key, { group: rule.groupBy.map((g) => [g, read(g)] as const), value: rule.valueField === null ? null : read(rule.valueField) }]
  })))

  return {
    rule,
    steps,
    groupOf(step, event, source) {
      const r = readers[step]?.get(source.key)
      if (r === undefined) return null
      const values: Record<string, string> = {}
      for (const [name, read] of r.group) {
        const v = first(read(event))
        if (v === null) return null
        values[name] = v
      }
      return { key: createHash('sha1').update(JSON.stringify(values)).digest('base64url'), values }
    },
    valueOf(step, event, source) {
      const read = readers[step]?.get(source.key)?.value
      return read ? first(read(event)) : null
    },
  }
}

function first(v: unknown): string | null {
  const x = Array.isArray(v) ? v[0] : v
  return x === null || x === undefined || x === '' ? null : String(x)
}

export interface Correlator {
  /**
   * Feeds one event's detection matches to every correlation that names a matched rule; returns
   * those that fired. `quote` gives the event's quote, asked for only when a correlation observes it.
   * A batch's events may be observed one after the other without awaiting each: one group's
   * observations still reach the state in the order of the calls, each once the one before it
   * settled, and none after one that failed (a retried batch then applies it before them); different
   * groups' go out together.
   */
  observe(event: SigmaEvent, source: EventSource, matches: readonly DetectionMatch[], quote?: () => string): Promise<CorrelationMatch[]>
}

export function createCorrelator(correlations: readonly CompiledCorrelation[], state: CorrelationState): Correlator {
  // rule id → the correlations (and step indices) that name it
  const byRule = new Map<string, { correlation: CompiledCorrelation; step: number }[]>()
  for (const correlation of correlations) {
    correlation.steps.forEach((s, step) => {
      const id = s.rule.attribution.id
      byRule.set(id, [...(byRule.get(id) ?? []), { correlation, step }])
    })
  }
  // Per group (correlation and group key): the last observation handed over and not yet settled.
  // A group's window is one sequence: its observations go one after another, each after the one
  // before it settled (a Redis client may run a command again after its connection came back, or
  // after the script cache lost the script, behind commands sent later). Groups are independent, so
  // a batch's observations of different groups go out together, not one round trip each.
  const pending = new Map<string, Promise<unknown>>()
  const inGroupOrder = (o: Observation): Promise<Firing | null> => {
    const key = `${o.correlationId}\u0000${o.groupKey}`
    const before = pending.get(key)
    const observed = before ? before.then(() => state.observe(o)) : state.observe(o)
    pending.set(key, observed)
    const forget = () => {
      if (pending.get(key) === observed) pending.delete(key)
    }
    observed.then(forget, forget)
    return observed
  }
  return {
    async observe(event, source, matches, quote) {
      const steps = new Map<CompiledCorrelation, number[]>()
      for (const m of matches) {
        for (const { correlation, step } of byRule.get(m.rule.id) ?? []) steps.set(correlation, [...(steps.get(correlation) ?? []), step])
      }
      const observed: Array<Promise<CorrelationMatch | null>> = []
      let quoted: string | null | undefined
      for (const [correlation, matched] of steps) {
        const { rule } = correlation
        // The group must be the same whichever step read it; the first step's reading decides.
        const group = correlation.groupOf(matched[0]!, event, source)
        if (group === null) continue
        const value = rule.type === 'value_count' ? correlation.valueOf(matched[0]!, event, source) : null
        if (rule.type === 'value_count' && value === null) continue
        observed.push(inGroupOrder({
          correlationId: rule.attribution.id, type: rule.type, groupKey: group.key, steps: matched, stepCount: correlation.steps.length,
          eventId: event.eventId, time: event.eventTime, timespanMs: rule.timespanMs, condition: rule.condition, value,
          quote: quoted === undefined ? (quoted = quote?.() ?? null) : quoted,
        }).then((firing) => firing && {
          kind: 'correlation', rule: rule.attribution, type: rule.type, correlated: correlation.steps.map((s) => s.rule.attribution),
          groupBy: group.values, count: firing.count, members: firing.members, quotes: firing.quotes, eventId: event.eventId, eventTime: event.eventTime,
        }))
      }
      return (await Promise.all(observed)).filter((f) => f !== null)
    },
  }
}

/** Whether a count meets every bound of the condition. */
export function meets(count: number, c: CountCondition): boolean {
  return (c.gt === undefined || count > c.gt) && (c.gte === undefined || count >= c.gte) && (c.lt === undefined || count < c.lt)
    && (c.lte === undefined || count <= c.lte) && (c.eq === undefined || count === c.eq) && (c.neq === undefined || count !== c.neq)
}

/**
 * The state in one process's memory: the same semantics as the Redis store, for unit tests and
 * single-instance use. Not shared: two alerters with it would each see half of a group.
 */
export function createMemoryCorrelationState(): CorrelationState {
  interface Group {
    /** member → time (event_count: event ids; value_count: values; temporal: steps; temporal_ordered: step|event id) */
    window: Map<string, number>
    /** temporal: step → event id last seen at it */
    evidence: Map<string, string>
    /** window member → the quote of the event that put it there */
    quotes: Map<string, string>
    /** observation → what it got: null or the firing it completed */
    outcomes: Map<string, Firing | null>
    /** observation → its event time */
    seen: Map<string, number>
  }
  const groups = new Map<string, Group>()
  return {
    async observe(o) {
      const key = `${o.correlationId}\u0000${o.groupKey}`
      const g = groups.get(key) ?? { window: new Map(), evidence: new Map(), quotes: new Map(), outcomes: new Map(), seen: new Map() }
      groups.set(key, g)
      const observation = `${o.eventId}#${o.steps.join(',')}`
      const known = g.outcomes.get(observation)
      if (known !== undefined) return known

      let newest = o.time
      for (const t of g.seen.values()) newest = Math.max(newest, t)
      const from = newest - o.timespanMs
      if (o.time <= from) return null
      for (const [m, t] of g.seen) {
        if (t > from) continue
        g.seen.delete(m)
        g.outcomes.delete(m)
      }
      for (const [m, t] of g.window) {
        if (t > from) continue
        g.window.delete(m)
        g.quotes.delete(m)
      }
      g.seen.set(observation, o.time)
      // At most as many quotes as a firing returns members, the first to come (a member's own is replaced).
      const setQuote = (member: string) => {
        if (!o.quote) g.quotes.delete(member)
        else if (g.quotes.size < MAX_FIRING_MEMBERS || g.quotes.has(member)) g.quotes.set(member, o.quote)
      }
      // members: the window's members that made it fire; named: what the firing names for each
      const answer = (fired: { count: number; members: string[]; named: string[] } | null) => {
        if (fired === null) {
          g.outcomes.set(observation, null)
          return null
        }
        const { count, members, named } = fired
        const kept = members.slice(0, MAX_FIRING_MEMBERS)
        const firing = { count, members: named.slice(0, MAX_FIRING_MEMBERS), quotes: kept.map((m) => g.quotes.get(m) ?? null) }
        g.window.clear()
        g.evidence.clear()
        g.quotes.clear()
        // As the Redis state keeps it: the quotes are not kept with the outcome.
        g.outcomes.set(observation, { ...firing, quotes: firing.quotes.map(() => null) })
        return firing
      }

      if (o.type === 'temporal_ordered') {
        for (const step of o.steps) {
          const member = `${String(step).padStart(4, '0')}|${o.eventId}`
          g.window.set(member, o.time)
          setQuote(member)
        }
        const entries = [...g.window].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        for (const [m] of entries.slice(0, Math.max(0, entries.length - MAX_ORDERED_EVENTS))) {
          g.window.delete(m)
          g.quotes.delete(m)
        }
        const chain = latestChain(entries.slice(-MAX_ORDERED_EVENTS), o.stepCount, o.timespanMs)
        return answer(chain === null ? null : { count: o.stepCount, members: chain, named: chain.map((m) => m.slice(m.indexOf('|') + 1)) })
      }

      if (o.type === 'temporal') {
        // A step's evidence is the event that came to it last.
        for (const step of o.steps) {
          g.window.set(String(step), Math.max(o.time, g.window.get(String(step)) ?? Number.NEGATIVE_INFINITY))
          g.evidence.set(String(step), o.eventId)
          setQuote(String(step))
        }
      } else {
        // A value's quote is of its latest event.
        const member = o.type === 'value_count' ? o.value! : o.eventId
        const current = g.window.get(member)
        if (current === undefined || o.time > current) {
          g.window.set(member, o.time)
          setQuote(member)
        }
      }
      const count = g.window.size
      if (!meets(count, o.condition)) return answer(null)
      if (o.type === 'temporal') {
        const steps = [...g.window.keys()].sort()
        return answer({ count, members: steps, named: steps.map((s) => g.evidence.get(s) ?? '') })
      }
      const members = [...g.window.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).map(([m]) => m)
      return answer({ count, members, named: members })
    },
    async close() {
      groups.clear()
    },
  }
}

/**
 * temporal_ordered: a chain of events through every step in order, the last less than a timespan
 * after the first, as their window members (step|event id); null when there is none. `entries` (step|event id → time) in
 * time order, a tie by member. best[s] is the chain through step s with the latest start, which
 * leaves the most room for the steps after it.
 */
function latestChain(entries: ReadonlyArray<readonly [string, number]>, stepCount: number, timespanMs: number): string[] | null {
  const best: Array<{ start: number; last: string; members: string[] } | undefined> = []
  for (const [member, time] of entries) {
    const bar = member.indexOf('|')
    const step = Number(member.slice(0, bar))
    const id = member.slice(bar + 1)
    if (step === 0) {
      if (best[0] === undefined || time >= best[0].start) best[0] = { start: time, last: id, members: [member] }
      continue
    }
    const before = best[step - 1]
    // One event is not two steps of a chain.
    if (before === undefined || before.last === id || time - before.start >= timespanMs) continue
    if (best[step] === undefined || before.start >= best[step]!.start) best[step] = { start: before.start, last: id, members: [...before.members, member] }
  }
  return best[stepCount - 1]?.members ?? null
}
