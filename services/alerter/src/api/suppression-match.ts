import { cidrContains, parseCidr, parseIp } from './cidr.ts'

export const suppressionScopes = ['entity', 'cidr', 'user', 'rule', 'detector'] as const
export type SuppressionScope = (typeof suppressionScopes)[number]

/** What a suppression covers: the part of it a preview needs. */
export interface SuppressionMatch {
  scope: SuppressionScope
  /** entity: its id; cidr: a network (canonical after `normalizeMatch`); user: a user name (usersOf); rule: a Sigma rule id; detector: a detector name */
  value: string
  /** entity scope only: the entity kind (e.g. source.ip); absent, any kind */
  entityKind?: string | null | undefined
}

/** The fields of an alert a suppression is matched against. */
export interface AlertSubject {
  detector: string
  entity: { kind: string; id: string }
  /** the original lines the alert cites: the user scope looks for the users they name */
  evidence?: ReadonlyArray<{ line: string }> | undefined
}

/** Sigma rule alerts carry the detector sigma:<rule id>, as the trainer's flags name their source. */
export const RULE_DETECTOR_PREFIX = 'sigma:'

/** ECS user entities: user.name, and source.user.name and the like. */
const isUserKind = (kind: string) => kind === 'user.name' || kind.endsWith('.user.name')

// Where a log line names a user (the event's user.name, or the user it acts as). Alerts are
// keyed by address or host, and carry no user field, so the lines they cite are where the user
// is: sshd ("Failed password for [invalid user ]NAME from", "Invalid user NAME", "User NAME from",
// "authenticating user NAME"), PAM ("session opened for user NAME", user=/ruser=/logname=), sudo
// ("sudo: NAME : TTY=…", USER=NAME) and su ("(to NAME) NAME on"). A name is a run without
// space, and without the punctuation these phrasings put after it.
const NAME = String.raw`([^\s;,()\[\]]+)`
const USER_PHRASES = [
  new RegExp(String.raw`\bfor (?:(?:invalid|illegal) user )?${NAME} from\b`, 'g'),
  new RegExp(String.raw`\b(?:invalid|illegal|authenticating|for) user ${NAME}`, 'gi'),
  new RegExp(String.raw`\bUser ${NAME} from\b`, 'g'),
  new RegExp(String.raw`\b(?:user|ruser|logname)=${NAME}`, 'gi'),
  new RegExp(String.raw`\bsudo(?:\[\d+\])?:\s+${NAME} : `, 'g'),
  new RegExp(String.raw`\(to ${NAME}\) ${NAME} on\b`, 'g'),
]

/** The user names a log line names (USER_PHRASES), in order, repeats included. */
export function usersNamedIn(line: string): string[] {
  return USER_PHRASES.flatMap((phrase) => [...line.matchAll(phrase)].flatMap((m) => m.slice(1).filter((name) => name !== undefined)))
}

/** Whether `user` is the alert's entity (a user.name entity) or a user one of its original lines names. */
const involvesUser = (a: AlertSubject, user: string) =>
  (a.entity.id === user && isUserKind(a.entity.kind)) || (a.evidence ?? []).some((e) => usersNamedIn(e.line).includes(user))

/**
 * The canonical form of a match, or an Error saying what is wrong with it: a CIDR as
 * network/prefix (a bare address is one host), a rule id without its sigma: prefix.
 */
export function normalizeMatch<M extends SuppressionMatch>(match: M): M {
  const value = match.value.trim()
  if (value === '') throw new Error('value must not be empty')
  if (match.entityKind != null && match.scope !== 'entity') throw new Error('entityKind applies to the entity scope only')
  if (match.scope === 'cidr') return { ...match, value: parseCidr(value).text }
  if (match.scope === 'rule') {
    const ruleId = value.startsWith(RULE_DETECTOR_PREFIX) ? value.slice(RULE_DETECTOR_PREFIX.length) : value
    if (ruleId === '') throw new Error('rule id must not be empty')
    return { ...match, value: ruleId }
  }
  return { ...match, value }
}

/** The test of whether a suppression covers an alert: the one definition of each scope. */
export function compileMatch(match: SuppressionMatch): (alert: AlertSubject) => boolean {
  const { value } = match
  switch (match.scope) {
    case 'entity': {
      const kind = match.entityKind ?? null
      return (a) => a.entity.id === value && (kind === null || a.entity.kind === kind)
    }
    case 'cidr': {
      const cidr = parseCidr(value)
      return (a) => {
        const ip = parseIp(a.entity.id)
        return ip !== null && cidrContains(cidr, ip)
      }
    }
    case 'user':
      return (a) => involvesUser(a, value)
    case 'rule': {
      const detector = RULE_DETECTOR_PREFIX + value
      return (a) => a.detector === detector
    }
    case 'detector':
      return (a) => a.detector === value
  }
}

/**
 * A SQL condition on the alerts table that every alert `compileMatch` covers satisfies (a
 * superset: it only narrows what is read; the compiled test decides). Parameters start at $`first`.
 */
export function candidateCondition(match: SuppressionMatch, first: number): { sql: string; params: string[] } {
  switch (match.scope) {
    case 'entity':
      return { sql: `entity_id = $${first}`, params: [match.value] }
    case 'user':
      return {
        sql: `(entity_id = $${first} OR EXISTS (SELECT 1 FROM jsonb_array_elements(body->'evidence') e WHERE strpos(e->>'line', $${first}) > 0))`,
        params: [match.value],
      }
    case 'cidr':
      return { sql: `entity_id ~ '^[0-9A-Fa-f:.]+$'`, params: [] }
    case 'rule':
      return { sql: `detector = $${first}`, params: [RULE_DETECTOR_PREFIX + match.value] }
    case 'detector':
      return { sql: `detector = $${first}`, params: [match.value] }
  }
}
