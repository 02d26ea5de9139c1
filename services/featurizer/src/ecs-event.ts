// The normalized event every parser produces: a subset of Elastic Common Schema (ECS),
// nested as ECS documents are (`source.ip` is `event.source.ip`). Sigma field mappings and
// feature definitions name fields by their dotted ECS path.

export type EventOutcome = 'success' | 'failure' | 'unknown'

export interface EcsEvent {
  '@timestamp': number // event time, ms since epoch (from the line, not arrival)
  message: string // the message part of the line
  event: {
    kind: 'event'
    category: string[] // ECS categories: authentication, session, network, web, process, ...
    type: string[] // ECS types: start, end, info, denied, allowed, ...
    action: string // what happened, e.g. ssh_login_failed
    outcome: EventOutcome
    module: string // the log family that produced the event: sshd, sudo, web, firewall, zeek, syslog
    original: string // the whole original line as received
  }
  source?: { ip?: string; port?: number; domain?: string }
  destination?: { ip?: string; port?: number }
  user?: { name?: string; target?: { name?: string } }
  host?: { name?: string }
  process?: { name?: string; pid?: number }
  related?: { ip?: string[]; user?: string[] }
  // sshd-specific detail kept under the family's own namespace, as ECS advises for custom fields.
  // repeated: the line stands for N identical messages (rsyslog's "message repeated N times: [ ... ]").
  ssh?: { method?: string; invalid_user?: boolean; attempts?: number; repeated?: number }
}
