import type { DeliveredMessage } from '@vigil/platform'
import type { Entity, RawLog, RawLogPosition } from '@vigil/schemas'
import { hostOfPeer, parseSyslogTimestamp } from '@vigil/syslog'
import type { EcsEvent, ParsedFields } from './ecs-event.ts'
import { parserFor, type ParserInput } from './parsers/index.ts'

/** A raw line after parsing: its ECS event, the entity whose window it joins, and where it came from. */
export interface NormalizedEvent {
  eventId: string
  entity: Entity
  receivedAt: number
  /** the family that claimed the line (sshd, web, zeek, ...), or syslog for lines no family claims */
  family: string
  /** false when the family claimed the line but its parser did not know the shape */
  parsed: boolean
  ecs: EcsEvent
  /** where the line is in raw-logs; the line itself is ecs.event.original */
  evidence: RawLogPosition
}

/** The family of lines no parser claims: syslog from any program, kept as a typed generic event. */
export const GENERIC_FAMILY = 'syslog'

/**
 * Parses one raw-logs message into an ECS event. Every line yields an event: a line of a family
 * whose parser does not know its shape, and a line no family claims, become generic events.
 */
export function normalizeEvent(message: DeliveredMessage<RawLog>): NormalizedEvent {
  const raw = message.value
  const header = raw.syslog ?? null
  const input: ParserInput = {
    message: header?.message ?? raw.line,
    appName: header?.appName ?? null,
    line: raw.line,
    zeek: raw.zeek ? { log: raw.zeek.log, fields: raw.zeek.fields ?? null } : null,
  }
  const parser = parserFor(input)
  const fields: ParsedFields | null = parser ? safeCall(parser.parse, input) : null
  const family = parser?.family ?? GENERIC_FAMILY
  // The line's own time: the family's (a Zeek ts, an access log's [date]), else the syslog header's; arrival time only when the line has none.
  const eventTime = (fields && parser?.eventTime ? safeCall(parser.eventTime, input) : null)
    ?? (header && parseSyslogTimestamp({ timestamp: header.timestamp ?? null }, raw.receivedAt)) ?? raw.receivedAt
  const host = header?.hostname ?? (/tcp|udp/.test(raw.transport) ? (raw.peer ? hostOfPeer(raw.peer) : null) : null)
  const { event: parsedEvent, ...rest } = fields ?? { event: { category: [], type: ['info'], action: 'log', outcome: 'unknown' as const } }
  const ecs: EcsEvent = {
    ...rest,
    timestamp: eventTime,
    message: (fields && parser?.message ? safeCall(parser.message, input) : null) ?? input.message,
    event: { kind: 'event', module: family, original: raw.line, ...parsedEvent },
    ...(host ? { host: { name: host } } : {}),
    ...(header?.appName ? { process: { name: header.appName, ...pidOf(header.procId ?? null), ...rest.process } } : {}),
    ...(header ? {
      log: { ...rest.log, syslog: { facility: header.facility, severity: header.severity, msgid: header.msgId ?? null, structured_data: header.structuredData ?? [] } },
    } : {}),
  }
  return {
    eventId: `${message.topic}/${message.partition}/${message.offset}`,
    entity: entityOf(ecs),
    receivedAt: raw.receivedAt,
    family,
    parsed: parser === null || fields !== null,
    ecs,
    evidence: { topic: message.topic, partition: message.partition, offset: message.offset },
  }
}

// Parsers promise not to throw; a bug in one must still not stop the stream.
function safeCall<T>(read: (input: ParserInput) => T | null, input: ParserInput): T | null {
  try {
    return read(input)
  } catch {
    return null
  }
}


/**
 * Whose window an event joins: the remote address when there is one, else the host that logged it.
 * Not the user: a user's events come from many hosts, whose streams reach the featurizer on
 * different partitions in no fixed order, and windows fed that way would not be reproducible.
 */
function entityOf(ecs: EcsEvent): Entity {
  if (ecs.source?.ip) return { kind: 'source.ip', id: ecs.source.ip }
  if (ecs.host?.name) return { kind: 'host.name', id: ecs.host.name }
  return { kind: 'host.name', id: 'unknown' }
}

function pidOf(procId: string | null): { pid?: number } {
  const pid = procId ? Number(procId) : NaN
  return Number.isInteger(pid) ? { pid } : {}
}
