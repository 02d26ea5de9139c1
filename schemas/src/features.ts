import type { FeatureVector } from './generated.ts'

/** Name of one feature: a field of the `features` topic's FeatureVector. */
export type FeatureName = keyof FeatureVector

export type FeatureGroup = 'temporal' | 'frequency' | 'rate' | 'geography' | 'behaviour' | 'context'

/**
 * One feature, defined once. The featurizer computes it, the scorer and trainer read vectors by
 * these names, schemas/avro/features.avsc's FeatureVector and docs/features.md are generated from
 * this list (`npm run generate -w @vigil/schemas`), and a test keeps all of them in step.
 */
export interface FeatureDefinition {
  name: string
  group: FeatureGroup
  /** log families whose events give the feature a real value; `*` for all; others get `defaultValue` */
  families: readonly string[]
  /** how it is computed, for people */
  description: string
  unit: string
  /** the value when the feature does not apply to the event */
  defaultValue: number
  /** a clock feature's period of event time: a model learns it only from history that spans it */
  cycle?: ClockCycle
}

export type ClockCycle = 'day' | 'week'
export const CLOCK_CYCLE_MS: Readonly<Record<ClockCycle, number>> = { day: 86_400_000, week: 7 * 86_400_000 }

/** Per-entity windows: counts run over this much event time, ending at the event. */
export const FEATURE_WINDOW_SECONDS = 600

const ALL = ['*']
const AUTH = ['sshd', 'privilege', 'zeek']
const WEB = ['web', 'zeek']

/** Every feature, in vector order. The order is the models' input order: append, never reorder or remove. */
export const featureDefinitions = [
  { name: 'auth_attempts', group: 'frequency', families: AUTH, unit: 'count', defaultValue: 0,
    description: 'authentication attempts (failed or accepted) by the entity in the window, this event included; an sshd attempt counts once: by its verdict line, by its PAM failure line where the host wrote no verdict in the day before it, or by its `Invalid user` (or `User … not allowed`) line (sshd writes no verdict when the client tries no password); its verdict then does not count again' },
  { name: 'auth_failures', group: 'frequency', families: AUTH, unit: 'count', defaultValue: 0,
    description: 'failed authentications by the entity in the window' },
  { name: 'auth_failure_ratio', group: 'rate', families: AUTH, unit: 'ratio', defaultValue: 0,
    description: 'failed-authentication rate: auth_failures / auth_attempts over the window; 0 when there were no attempts' },
  { name: 'distinct_users', group: 'frequency', families: AUTH, unit: 'count', defaultValue: 0,
    description: 'distinct user names the entity tried in the window (HyperLogLog over one-minute buckets)' },
  { name: 'invalid_user_attempts', group: 'frequency', families: ['sshd'], unit: 'count', defaultValue: 0,
    description: 'attempts by the entity for user names that do not exist on the host, or that sshd refuses as it does those (AllowUsers, DenyUsers), in the window' },
  { name: 'events_in_window', group: 'frequency', families: ALL, unit: 'count', defaultValue: 1,
    description: 'events of any kind from the entity in the window, this event included' },
  { name: 'seconds_since_previous', group: 'behaviour', families: ALL, unit: 'seconds', defaultValue: FEATURE_WINDOW_SECONDS,
    description: "event time since the entity's previous event, capped at the window length" },
  { name: 'hour_of_day', group: 'temporal', families: ALL, unit: 'hour 0-23', defaultValue: 0, cycle: 'day',
    description: 'hour of the event time in the configured time zone (FEATURE_TIME_ZONE)' },
  { name: 'day_of_week', group: 'temporal', families: ALL, unit: 'day 0-6, 0 = Sunday', defaultValue: 0, cycle: 'week',
    description: 'day of the week of the event time in the configured time zone' },
  { name: 'is_weekend', group: 'temporal', families: ALL, unit: '0/1', defaultValue: 0, cycle: 'week',
    description: '1 when the event falls on Saturday or Sunday in the configured time zone' },
  { name: 'is_business_hours', group: 'temporal', families: ALL, unit: '0/1', defaultValue: 0, cycle: 'week',
    description: 'is 1 when the event falls within business hours (BUSINESS_HOURS on BUSINESS_DAYS) in the configured time zone' },
  { name: 'auth_attempts_per_minute', group: 'frequency', families: AUTH, unit: 'count/min', defaultValue: 0,
    description: 'authentication attempts by the entity in the minute ending at the event' },
  { name: 'requests_per_second', group: 'frequency', families: WEB, unit: 'requests/s', defaultValue: 0,
    description: 'HTTP requests by the entity over the 10 seconds ending at the event, divided by 10' },
  { name: 'distinct_destinations', group: 'frequency', families: ['zeek', 'firewall', 'sshd'], unit: 'count', defaultValue: 0,
    description: 'distinct destination addresses and ports the entity reached in the window (HyperLogLog)' },
  { name: 'distinct_url_paths', group: 'frequency', families: WEB, unit: 'count', defaultValue: 0,
    description: 'distinct URL paths the entity requested in the window (HyperLogLog)' },
  { name: 'http_4xx_ratio', group: 'rate', families: WEB, unit: 'ratio', defaultValue: 0,
    description: 'share of the entity\'s HTTP requests in the window answered 4xx' },
  { name: 'http_5xx_ratio', group: 'rate', families: WEB, unit: 'ratio', defaultValue: 0,
    description: 'share of the entity\'s HTTP requests in the window answered 5xx' },
  { name: 'geo_new_country_for_user', group: 'geography', families: AUTH, unit: '0/1', defaultValue: 0,
    description: '1 when the source country (IP database) was never seen in a successful login of this user' },
  { name: 'ip_new_for_user', group: 'geography', families: AUTH, unit: '0/1', defaultValue: 0,
    description: '1 when the source IP was never seen in a successful login of this user' },
  { name: 'geo_distance_from_usual_km', group: 'geography', families: AUTH, unit: 'km', defaultValue: 0,
    description: "great-circle distance from the source location to the mean location of the user's earlier successful logins; 0 when either is unknown" },
  { name: 'bytes', group: 'behaviour', families: ['web', 'zeek', 'firewall'], unit: 'bytes', defaultValue: 0,
    description: 'bytes of the event: network.bytes, else source plus destination bytes, else the HTTP response size' },
  { name: 'duration_seconds', group: 'behaviour', families: ['zeek', 'web'], unit: 'seconds', defaultValue: 0,
    description: 'session or request duration (event.duration), e.g. a Zeek connection or an HTTP request time' },
  { name: 'url_entropy', group: 'behaviour', families: WEB, unit: 'bits/char', defaultValue: 0,
    description: 'Shannon entropy of the requested URL (path and query)' },
  { name: 'user_agent_entropy', group: 'behaviour', families: WEB, unit: 'bits/char', defaultValue: 0,
    description: 'Shannon entropy of the user agent string' },
  { name: 'dns_query_entropy', group: 'behaviour', families: ['zeek'], unit: 'bits/char', defaultValue: 0,
    description: 'Shannon entropy of the DNS query name (long random names suggest tunnelling or DGA)' },
  { name: 'is_privileged_user', group: 'context', families: AUTH, unit: '0/1', defaultValue: 0,
    description: 'is 1 when user.name or user.target.name is in PRIVILEGED_USERS (root, admin, ...)' },
  { name: 'is_sensitive_endpoint', group: 'context', families: WEB, unit: '0/1', defaultValue: 0,
    description: 'is 1 when the URL path starts with one of SENSITIVE_PATHS (/admin, /wp-login.php, /.env, ...)' },
  { name: 'user_agent_is_browser', group: 'context', families: WEB, unit: '0/1', defaultValue: 0,
    description: 'is 1 when the user agent looks like a web browser' },
  { name: 'user_agent_is_cli', group: 'context', families: WEB, unit: '0/1', defaultValue: 0,
    description: 'is 1 when the user agent is a command-line tool or HTTP library (curl, wget, python-requests, Go, ...)' },
  { name: 'user_agent_is_scanner', group: 'context', families: WEB, unit: '0/1', defaultValue: 0,
    description: 'is 1 when the user agent names a vulnerability scanner (nikto, sqlmap, nmap, Netsparker, w3af, ...)' },
  { name: 'user_agent_is_bot', group: 'context', families: WEB, unit: '0/1', defaultValue: 0,
    description: 'is 1 when the user agent declares a crawler or bot (Googlebot, bingbot, ...)' },
] as const satisfies readonly FeatureDefinition[]

/** Feature names in vector order. */
export const featureNames: readonly FeatureName[] = featureDefinitions.map((f) => f.name) as FeatureName[]

/** The vector as numbers in `names` order, the form models take. */
export function toFeatureArray(vector: FeatureVector, names: readonly string[] = featureNames): number[] {
  return names.map((n) => (vector as unknown as Record<string, number>)[n] ?? 0)
}
