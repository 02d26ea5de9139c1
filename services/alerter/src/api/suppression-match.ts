import { canonicalIp } from '@vigil/schemas'
import { evidenceUsersSql } from '../adapters/alert-users.ts'
import { SIGMA_DETECTOR_PREFIX } from '../rules/sigma-alerts.ts'
import { cidrContains, parseCidr, parseIp } from './cidr.ts'

export const suppressionScopes = ['entity', 'cidr', 'user', 'rule', 'detector'] as const
export type SuppressionScope = (typeof suppressionScopes)[number]

/** What a suppression covers: the part of it a preview needs. */
export interface SuppressionMatch {
  scope: SuppressionScope
  /** entity: its id; cidr: a network (canonical after `normalizeMatch`); user: a user name; rule: a Sigma rule id; detector: a detector name */
  value: string
  /** entity scope only: the entity kind (e.g. source.ip); absent, any kind */
  entityKind?: string | null | undefined
}

/** The fields of an alert a suppression is matched against. */
export interface AlertSubject {
  detector: string
  entity: { kind: string; id: string }
  /** the events the alert cites: the user scope matches the users they name (ECS related.user, parsed by the featurizer) */
  evidence?: ReadonlyArray<{ users?: readonly string[] | undefined }> | undefined
  /** every user the alert's events named, those beyond the events it cites too (the alerts table's users column) */
  users?: readonly string[] | undefined
}

/** ECS user entities: user.name, and source.user.name and the like. */
const isUserKind = (kind: string) => kind === 'user.name' || kind.endsWith('.user.name')

/** Whether `user` is the alert's entity (a user.name entity) or a user one of the events it cites names. */
const involvesUser = (a: AlertSubject, user: string) =>
  (a.entity.id === user && isUserKind(a.entity.kind)) || a.users?.includes(user) === true || (a.evidence ?? []).some((e) => e.users?.includes(user) === true)

/**
 * involvesUser as a condition on the alerts table (columns qualified by `table`), the user bound to
 * the parameter `param` (e.g. `$3`): what the user scope's preview and the alert list's `user` filter
 * read. The users column holds every user the events named (migrations/013), under a GIN index;
 * a row written before it and not yet backfilled is read from its evidence.
 */
export const userInvolvedSql = (param: string, table = 'alerts') =>
  `(((${table}.entity_kind = 'user.name' OR ${table}.entity_kind LIKE '%.user.name') AND ${table}.entity_id = ${param})`
  + ` OR ${table}.users @> ARRAY[${param}::text]`
  + ` OR (${table}.users IS NULL AND ${evidenceUsersSql(table)} @> ARRAY[${param}::text]))`

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
    const ruleId = value.startsWith(SIGMA_DETECTOR_PREFIX) ? value.slice(SIGMA_DETECTOR_PREFIX.length) : value
    if (ruleId === '') throw new Error('rule id must not be empty')
    return { ...match, value: ruleId }
  }
  // An address as the featurizer writes entities (a firewall's IPv6 with every digit is the same host).
  return { ...match, value: match.scope === 'entity' ? canonicalIp(value) : value }
}

/** The test of whether a suppression covers an alert: the one definition of each scope. */
export function compileMatch(match: SuppressionMatch): (alert: AlertSubject) => boolean {
  const { value } = match
  switch (match.scope) {
    case 'entity': {
      // A suppression stored before entities were written one way may spell its address otherwise.
      const id = canonicalIp(value)
      const kind = match.entityKind ?? null
      return (a) => a.entity.id === id && (kind === null || a.entity.kind === kind)
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
      const detector = SIGMA_DETECTOR_PREFIX + value
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
      return { sql: `entity_id = $${first}`, params: [canonicalIp(match.value)] }
    case 'user':
      return { sql: userInvolvedSql(`$${first}`), params: [match.value] }
    case 'cidr':
      return { sql: `entity_id ~ '^[0-9A-Fa-f:.]+$'`, params: [] }
    case 'rule':
      return { sql: `detector = $${first}`, params: [SIGMA_DETECTOR_PREFIX + match.value] }
    case 'detector':
      return { sql: `detector = $${first}`, params: [match.value] }
  }
}
