import type { DeliveredMessage } from '@vigil/platform'
import type { Entity, Evidence, RawLog } from '@vigil/schemas'
import { parseSyslogTimestamp } from '@vigil/syslog'
import type { EcsEvent } from './ecs-event.ts'
import { parseSshd } from './parsers/sshd.ts'

/** A raw line after parsing: its ECS event, the entity whose window it joins, and where it came from. */
export interface NormalizedEvent {
  eventId: string
  entity: Entity
  receivedAt: number
  family: string
  ecs: EcsEvent
  evidence: Evidence
}

/**
 * Parses one raw-logs message into an ECS event. Lines of a family we do not parse yet, or shapes a
 * parser does not know, become generic events: every line yields an event, none is dropped.
 */
export function normalizeEvent(message: DeliveredMessage<RawLog>): NormalizedEvent {
  const raw = message.value
  const header = raw.syslog
  const text = header?.message ?? raw.line
  const eventTime = (header && parseSyslogTimestamp(header, raw.receivedAt)) ?? raw.receivedAt
  // sshd logs as `sshd`, and its PAM module on older systems as `sshd(pam_unix)`.
  const sshd = header?.appName?.startsWith('sshd') ? parseSshd(text) : null
  const family = sshd ? 'sshd' : 'generic'
  const ecs: EcsEvent = {
    '@timestamp': eventTime,
    message: text,
    event: {
      kind: 'event', category: [], type: ['info'], action: 'log', outcome: 'unknown', module: family, original: raw.line,
      ...sshd?.event,
    },
    ...(sshd?.source ? { source: sshd.source } : {}),
    ...(sshd?.destination ? { destination: sshd.destination } : {}),
    ...(sshd?.user ? { user: sshd.user } : {}),
    ...(sshd?.ssh ? { ssh: sshd.ssh } : {}),
    ...(header?.hostname ? { host: { name: header.hostname } } : {}),
    ...(header?.appName ? { process: { name: header.appName, ...(pidOf(header.procId)) } } : {}),
  }
  return {
    eventId: `${message.topic}/${message.partition}/${message.offset}`,
    entity: entityOf(ecs),
    receivedAt: raw.receivedAt,
    family,
    ecs,
    evidence: { topic: message.topic, partition: message.partition, offset: message.offset, line: raw.line },
  }
}

/** Whose window an event joins: the remote address when there is one, else the host that logged it. */
function entityOf(ecs: EcsEvent): Entity {
  if (ecs.source?.ip) return { kind: 'source.ip', id: ecs.source.ip }
  if (ecs.host?.name) return { kind: 'host.name', id: ecs.host.name }
  return { kind: 'host.name', id: 'unknown' }
}

function pidOf(procId: string | null): { pid?: number } {
  const pid = procId ? Number(procId) : NaN
  return Number.isInteger(pid) ? { pid } : {}
}
