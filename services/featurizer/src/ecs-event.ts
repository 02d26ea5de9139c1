import type { EcsEvent, EventInfo } from '@vigil/schemas'

// The normalized event is the `event` of the features topic: its shape lives in
// schemas/avro/features.avsc (a subset of Elastic Common Schema, nested as ECS documents are).
export type { EcsEvent }

export type EventOutcome = 'success' | 'failure' | 'unknown'

/**
 * What a family's parser reads from a message: the ECS fields it knows. The caller adds the
 * time, message, host, process, module and original line, which come from the envelope.
 */
export type ParsedFields = Omit<Partial<EcsEvent>, 'event' | 'timestamp' | 'message'> & {
  event: Pick<EventInfo, 'category' | 'type' | 'action'> & { outcome: EventOutcome } & Partial<Pick<EventInfo, 'dataset' | 'duration' | 'severity'>>
}
