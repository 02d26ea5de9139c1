import type { EcsEvent, EventInfo } from '@vigil/schemas'

// The normalized event is the `event` of the features topic: its shape lives in
// schemas/avro/features.avsc (a subset of Elastic Common Schema, nested as ECS documents are).
export type { EcsEvent }

export type EventOutcome = 'success' | 'failure' | 'unknown'

/**
 * The largest process.pid an event can carry: it is an Avro int in the features schema. A larger
 * one (RFC 5424 allows any 128 characters of PROCID) stays in the line, or the whole record would
 * fail to encode.
 */
export const MAX_PID = 2 ** 31 - 1

/**
 * What a family's parser reads from a message: the ECS fields it knows. The caller adds the
 * time, message, host, process, module and original line, which come from the envelope.
 */
export type ParsedFields = Omit<Partial<EcsEvent>, 'event' | 'timestamp' | 'message'> & {
  event: Pick<EventInfo, 'category' | 'type' | 'action'> & { outcome: EventOutcome } & Partial<Pick<EventInfo, 'dataset' | 'duration' | 'severity'>>
}
