import type { Alert, Evidence, FeatureRecord } from './generated.ts'

/**
 * What a score or an alert cites of the event a features record describes: where its line is in
 * raw-logs, the line itself (a features record carries it once, as the event's original), and
 * every user the event names (ECS related.user), which is what a `user` suppression matches.
 */
export function evidenceOf(record: Pick<FeatureRecord, 'evidence' | 'event'>): Evidence {
  return { ...record.evidence, line: record.event.event.original, users: record.event.related?.user ?? [] }
}

/** The users the events an alert cites name, each once, in the order they were first named. */
export function usersNamedIn(alert: Pick<Alert, 'evidence'>): string[] {
  return [...new Set(alert.evidence.flatMap((e) => e.users ?? []))]
}
