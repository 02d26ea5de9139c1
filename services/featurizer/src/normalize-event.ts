import { BlockList, isIPv4 } from 'node:net'
import type { DeliveredMessage } from '@vigil/platform'
import { canonicalIp, type Entity, type EntityKind, type RawLog, type RawLogPosition } from '@vigil/schemas'
import { hostOfPeer, isZonelessSyslogTimestamp, parseSyslogTimestamp } from '@vigil/syslog'
import { MAX_PID, type EcsEvent, type ParsedFields } from './ecs-event.ts'
import { parserFor, type FamilyParser, type ParserInput } from './parsers/index.ts'
import { createSourceTimeZones, type SourceTimeZones } from './source-time-zones.ts'

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
  /** the line's own time was more than FUTURE_TOLERANCE_MS after its arrival; it is dated at its arrival */
  datedAhead: boolean
}

/**
 * How far after its arrival a line's own time may be. A line dated later (a sender's clock running
 * fast, or a forged date: syslog over UDP is anyone's to write) is dated at its arrival instead: its
 * date would otherwise move its entity's windows forward, and their trim would wipe the entity's
 * real history, one datagram resetting an attacker's failed-login counts. Five minutes covers clocks
 * that drift without being wrong.
 */
export const FUTURE_TOLERANCE_MS = 5 * 60_000

/** The family of lines no parser claims: syslog from any program, kept as a typed generic event. */
export const GENERIC_FAMILY = 'syslog'

/**
 * Parses one raw-logs message into an ECS event. Every line yields an event: a line of a family
 * whose parser does not know its shape, and a line no family claims, become generic events.
 */
export function normalizeEvent(message: DeliveredMessage<RawLog>, timeZones: SourceTimeZones = ALL_UTC): NormalizedEvent {
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
  const host = header?.hostname ?? (/tcp|udp/.test(raw.transport) ? (raw.peer ? hostOfPeer(raw.peer) : null) : null)
  // Arrival time only when the line has none of its own, or one before the Unix epoch: no log line
  // is that old, but a Zeek `ts` of -9e12 is a number like any other, and a time that far out does
  // not even survive Avro's long encoding intact.
  const stated = lineTime(input, parser, fields !== null, header, raw.receivedAt, host, timeZones)
  const ownTime = stated !== null && stated >= 0 ? stated : raw.receivedAt
  const datedAhead = ownTime > raw.receivedAt + FUTURE_TOLERANCE_MS
  const eventTime = datedAhead ? raw.receivedAt : ownTime
  const evidence: RawLogPosition = { topic: message.topic, partition: message.partition, offset: message.offset }
  const { event: parsedEvent, ...rest } = fields ?? { event: { category: [], type: ['info'], action: 'log', outcome: 'unknown' as const } }
  if (rest.source?.ip) rest.source.ip = canonicalIp(rest.source.ip)
  if (rest.source?.domain) rest.source.domain = canonicalName(rest.source.domain)
  if (rest.destination?.ip) rest.destination.ip = canonicalIp(rest.destination.ip)
  const ecs: EcsEvent = {
    ...rest,
    timestamp: eventTime,
    message: carriedText((fields && parser?.message ? safeCall(parser.message, input) : null) ?? input.message, evidence),
    event: { kind: 'event', module: family, original: carriedText(raw.line, evidence), ...parsedEvent },
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
    evidence,
    datedAhead,
  }
}

const ALL_UTC = createSourceTimeZones('UTC', {})

/**
 * The line's own time: the family's (a Zeek ts, an access log's [date]), else the syslog header's;
 * a time that names no zone is the sender's wall clock, in the sender's zone. Null when the line has none.
 */
function lineTime(
  input: ParserInput, parser: FamilyParser | null, parsed: boolean, header: RawLog['syslog'], receivedAt: number, host: string | null, timeZones: SourceTimeZones,
): number | null {
  const familyTime = parsed && parser?.eventTime ? safeCall(parser.eventTime, input) : null
  if (familyTime !== null) return parser!.eventTimeIsWallClock && !timeZones.allUtc ? timeZones.toUtc(familyTime, host) : familyTime
  const timestamp = header?.timestamp ?? null
  if (timestamp === null) return null
  // The year of a BSD time is inferred from the arrival, in UTC: a zone's hours move it across New Year only in the last hours of the year.
  const wallClock = parseSyslogTimestamp({ timestamp }, receivedAt)
  if (wallClock === null || timeZones.allUtc || !isZonelessSyslogTimestamp(timestamp)) return wallClock
  return timeZones.toUtc(wallClock, host)
}

/**
 * The most of a line a features record carries, in UTF-8 bytes, in each of `message` and
 * `event.original` (and so in a score's evidence line). A record carries the line twice and the
 * broker refuses one over 1 MB (max.message.bytes): a 600 KB line a shipper wrote to raw-logs made
 * a features record it refused, and the event was never scored. A longer text is cut here, after
 * the parsers have read the whole line, and ends with a mark naming the whole line's place in
 * raw-logs (the evidence), where its exact bytes stay. Parsed fields are not cut: a record still
 * too large (a 600 KB URL, say) is dead-lettered by the platform as OUTPUT_TOO_LARGE.
 */
export const MAX_CARRIED_LINE_BYTES = 256 * 1024

/** `text`, or its first MAX_CARRIED_LINE_BYTES and the mark `…[cut at <n> of <total> bytes; whole line at <topic>/<partition>/<offset>]`. */
export function carriedText(text: string, evidence: RawLogPosition): string {
  if (text.length * 3 <= MAX_CARRIED_LINE_BYTES) return text // a UTF-16 unit is at most 3 UTF-8 bytes
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length <= MAX_CARRIED_LINE_BYTES) return text
  // A character cut in two decodes as U+FFFD: left out.
  const head = bytes.subarray(0, MAX_CARRIED_LINE_BYTES).toString('utf8').replace(/\uFFFD$/, '')
  return `${head}…[cut at ${MAX_CARRIED_LINE_BYTES} of ${bytes.length} bytes; whole line at ${evidence.topic}/${evidence.partition}/${evidence.offset}]`
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
 * Every host's name for itself (`rhost=localhost` on a local login), and the suffix of names that
 * resolve to loopback (RFC 6761): not a client of its own, and as one entity it would join every
 * host's local lines into one window. The named-source rule of
 * services/alerter/rules/vigil/ssh-brute-force.yml leaves out the same names (a test holds the two together).
 */
export const LOOPBACK_NAMES: ReadonlySet<string> = new Set(['localhost', 'localhost.localdomain', 'localhost6', 'localhost6.localdomain6', 'ip6-localhost', 'ip6-loopback'])
export const LOOPBACK_SUFFIX = '.localhost'
const isLoopbackName = (name: string) => LOOPBACK_NAMES.has(name) || name.endsWith(LOOPBACK_SUFFIX)

/**
 * Every host's addresses for itself, likewise: a server behind a proxy on its own host logs 127.0.0.1
 * for every client, and as one entity that would join every such host's lines into one window, and
 * one partition. The failed-login rule of ssh-brute-force.yml leaves out the same networks.
 */
export const LOOPBACK_NETWORKS = ['127.0.0.0/8', '::1/128'] as const
const loopbackAddresses = new BlockList()
for (const network of LOOPBACK_NETWORKS) {
  const [address, prefix] = network.split('/') as [string, string]
  loopbackAddresses.addSubnet(address, Number(prefix), isIPv4(address) ? 'ipv4' : 'ipv6')
}
const isLoopbackAddress = (ip: string) => loopbackAddresses.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6')

/**
 * Whose window an event joins: the remote address when there is one (not the host's own), else the remote host's name
 * when the line gives only that (pam_unix's `rhost=` where sshd resolves names, an access log with
 * HostnameLookups on), else the host that logged it. A name is the client's, not the server's: filed
 * under the server, every named attacker of an hour shared its window and its alert.
 * Not the user: a user's events come from many hosts, whose streams reach the featurizer on
 * different partitions in no fixed order, and windows fed that way would not be reproducible.
 */
export function entityOf(ecs: EcsEvent): Entity & { kind: EntityKind } {
  if (ecs.source?.ip && !isLoopbackAddress(ecs.source.ip)) return { kind: 'source.ip', id: ecs.source.ip }
  const remoteName = ecs.source?.domain
  if (remoteName && !isLoopbackName(remoteName)) return { kind: 'source.domain', id: remoteName }
  if (ecs.host?.name) return { kind: 'host.name', id: ecs.host.name }
  return { kind: 'host.name', id: 'unknown' }
}

/**
 * A host name as one spelling, lower case and without the root's trailing dot, so that one client is
 * one entity and one Sigma group (DNS names are case-insensitive; `Evil.Example.COM.` is `evil.example.com`).
 */
function canonicalName(name: string): string {
  const lower = name.toLowerCase()
  return lower.length > 1 && lower.endsWith('.') ? lower.slice(0, -1) : lower
}

function pidOf(procId: string | null): { pid?: number } {
  const pid = procId ? Number(procId) : NaN
  return Number.isInteger(pid) && pid >= 0 && pid <= MAX_PID ? { pid } : {}
}
