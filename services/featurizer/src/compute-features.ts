import { FEATURE_WINDOW_SECONDS, featureDefinitions, type FeatureName, type FeatureVector } from '@vigil/schemas'
import type { WindowMarks, WindowStats } from './adapters/feature-store.ts'
import { haversineKm } from './adapters/geo.ts'
import { createTemporalFeatures, type TemporalFeatures } from './features/temporal-features.ts'
import { shannonEntropy, userAgentClass } from './features/text-features.ts'
import type { NormalizedEvent } from './normalize-event.ts'

/** Settings the features depend on, from the featurizer's config. */
export interface FeatureContext {
  temporal: (eventTime: number) => TemporalFeatures
  /** URL path prefixes, lower case (isSensitivePath compares case-blind) */
  sensitivePaths: readonly string[]
  privilegedUsers: ReadonlySet<string>
}

/** The feature settings from the featurizer's config: time zone, business hours, sensitive paths, privileged users. */
export function createFeatureContext(settings: {
  timeZone: string; businessHours: [number, number]; businessDays: [number, number]; sensitivePaths: string[]; privilegedUsers: string[]
}): FeatureContext {
  const [startHour, endHour] = settings.businessHours
  const [firstDay, lastDay] = settings.businessDays
  const days = new Set(Array.from({ length: lastDay - firstDay + 1 }, (_, i) => firstDay + i))
  return {
    temporal: createTemporalFeatures(settings.timeZone, { startHour, endHour, days }),
    sensitivePaths: settings.sensitivePaths.map((p) => p.toLowerCase()),
    privilegedUsers: new Set(settings.privilegedUsers),
  }
}

// sshd writes several lines per login attempt (pam_unix, "Invalid user", the verdict); one of them
// counts as the attempt, or one attempt would count several times: the verdict, but for the
// exceptions below.
const SSHD_ATTEMPT_ACTIONS = new Set(['ssh_login_failed', 'ssh_login_succeeded'])

// Except where the verdicts are not in the stream: Red Hat's syslog sent sshd's own lines to
// /var/log/secure and its `sshd(pam_unix)` lines to /var/log/messages, so a host shipping only
// messages shows each failed password as a PAM `authentication failure` and nothing else
// (loghub's Linux sample: 489 of them). Such a line counts as the attempt when its host wrote no
// verdict in the day before it; then its verdict, if one follows on the same connection, does not
// count again (FeatureStore.sshdSessions).
const SSHD_PAM_FAILURE_ACTION = 'ssh_pam_auth_failure'

// And except where the client named a user that does not exist, or one that AllowUsers or DenyUsers
// turns away, and tried no password: OpenSSH 3's `Illegal user jordan from 211.141.89.73` is all the
// honeynet's secure log (sotm34) holds of 318 such tries, 128 of them from one address in three
// minutes; a scanner today that offers a name and disconnects leaves `Invalid user` (or `User root
// from … not allowed because …`) alone too. That line is the attempt; the connection's first failed
// verdict, when one follows, does not count again (FeatureStore.sshdSessions).
const SSHD_INVALID_USER_ACTIONS = new Set(['ssh_invalid_user', 'ssh_user_not_allowed'])

// su and sudo write their verdict themselves (`FAILED SU`, `3 incorrect password attempts`) beside
// the PAM lines of the same attempt (one sudo prompt left with Ctrl-C wrote three); only the verdict
// counts for them, as for sshd. Other programs' PAM lines (login, vsftpd) are their attempts' only record.
const VERDICT_WRITING_PROGRAMS = new Set(['su', 'sudo'])

// OpenSSH 8 on writes a client that closed (or reset) before sending its identification in two
// lines of one process: `error: kex_exchange_identification: Connection closed by remote host` (or
// `read: Connection reset by peer`), which names no client, then `Connection closed by ADDRESS port
// PORT` (or reset), which does and is written at LogLevel INFO for other reasons too (a known
// scanner's version string, and at VERBOSE a client leaving its session). Read together
// (FeatureStore.sshdSessions), the second line is what older sshd wrote in one:
// `Did not receive identification string from ADDRESS`, and takes its action.
const SSHD_KEX_UNIDENTIFIED = /^(?:error: )?kex_exchange_identification: (?:Connection closed by remote host|read: Connection reset by peer)$/
const SSHD_CLOSING_ACTIONS = new Set(['ssh_connection_closed', 'ssh_connection_reset'])
export const SSHD_NO_IDENTIFICATION_ACTION = 'ssh_no_identification'

/** An sshd line as its host's sessions read it (FeatureStore.sshdSessions). */
export interface SshdLine {
  /** the host that wrote it (syslog hostname) */
  host: string
  /** event time */
  time: number
  /** sshd's process id: the lines of one connection share it */
  pid: number | null
  /** the client address the line names, if it names one */
  ip: string | null
  /**
   * 'kex-unidentified': sshd's error that the client closed or reset before its identification;
   * 'closing': a line that ends a connection, naming its client, neither [preauth] nor a user's
   */
  kind: 'failed-verdict' | 'accepted-verdict' | 'pam-failure' | 'invalid-user' | 'kex-unidentified' | 'closing' | 'other'
  eventId: string
}

/** The event as an SshdLine, or null when sshd did not write it. */
export function sshdLineOf(event: NormalizedEvent): SshdLine | null {
  if (event.family !== 'sshd') return null
  const action = event.ecs.event.action
  const kind = SSHD_ATTEMPT_ACTIONS.has(action) ? (event.ecs.event.outcome === 'failure' ? 'failed-verdict' : 'accepted-verdict')
    : action === SSHD_PAM_FAILURE_ACTION ? 'pam-failure'
    : SSHD_INVALID_USER_ACTIONS.has(action) ? 'invalid-user'
    : action === 'ssh_kex_failed' && SSHD_KEX_UNIDENTIFIED.test(event.ecs.message.trimEnd()) ? 'kex-unidentified'
    : SSHD_CLOSING_ACTIONS.has(action) && event.ecs.source?.ip && !event.ecs.user?.name && !event.ecs.message.trimEnd().endsWith('[preauth]') ? 'closing'
    : 'other'
  return { host: event.ecs.host?.name ?? '', time: event.ecs.timestamp, pid: event.ecs.process?.pid ?? null, ip: event.ecs.source?.ip ?? null, kind, eventId: event.eventId }
}

// pam_unix names the user of an authentication failure only when the user exists: the line of an
// unknown one has no `user=` (and follows a `check pass; user unknown`).
function isUnknownUserPamFailure(event: NormalizedEvent): boolean {
  return event.ecs.event.action === SSHD_PAM_FAILURE_ACTION && !event.ecs.user?.name
}

function isAuthAttempt(event: NormalizedEvent, sshdCounts: boolean | undefined): boolean {
  const e = event.ecs.event
  if (event.family === 'sshd') {
    if (SSHD_ATTEMPT_ACTIONS.has(e.action)) return sshdCounts ?? true
    return (e.action === SSHD_PAM_FAILURE_ACTION || SSHD_INVALID_USER_ACTIONS.has(e.action)) && sshdCounts === true
  }
  if (!e.category.includes('authentication') || e.outcome === 'unknown') return false
  return !(e.action.startsWith('pam_') && VERDICT_WRITING_PROGRAMS.has(event.ecs.process?.name ?? ''))
}

/**
 * How the event counts towards its entity's windows and its user's login history. `sshdCounts`,
 * for an sshd verdict, PAM failure or `Invalid user` line, whether it is the attempt
 * (SshdSessionAnswer.counts); without it a verdict is, the others are not.
 */
export function windowMarksOf(event: NormalizedEvent, sshdCounts?: boolean): WindowMarks {
  const ecs = event.ecs
  const authAttempt = isAuthAttempt(event, sshdCounts)
  // A verdict that its PAM failure or its `Invalid user` line counted for still names the user it
  // tried, and still reads that user's login history (a failure only reads it): its line may be the
  // only one that names the address (the PAM line named the client by host name).
  const triesUser = authAttempt || (event.family === 'sshd' && SSHD_ATTEMPT_ACTIONS.has(ecs.event.action))
  const status = ecs.http?.response?.status_code ?? null
  const ip = ecs.source?.ip ?? null
  const user = ecs.user?.name ?? null
  const geo = ecs.source?.geo ?? null
  return {
    authAttempt,
    authFailure: authAttempt && ecs.event.outcome === 'failure',
    invalidUser: authAttempt && (ecs.ssh?.invalid_user === true || isUnknownUserPamFailure(event)),
    user: triesUser ? user : null,
    httpRequest: status !== null,
    http4xx: status !== null && status >= 400 && status < 500,
    http5xx: status !== null && status >= 500,
    urlPath: ecs.url?.path ?? null,
    // A daemon's own event reaches no destination: sshd's "Server listening on 0.0.0.0 port 22" names
    // the address it listens on, which counted as a host's destination at every restart.
    destination: ecs.destination?.ip && !ecs.event.category.includes('process') ? `${ecs.destination.ip}:${ecs.destination.port ?? ''}` : null,
    login: triesUser && user && ip ? {
      user, ip, country: geo?.country_iso_code ?? null, lat: geo?.location?.lat ?? null, lon: geo?.location?.lon ?? null,
      success: ecs.event.outcome === 'success',
    } : null,
    weight: Math.min(MAX_REPEAT_WEIGHT, Math.max(1, ecs.ssh?.repeated ?? 1)),
  }
}

// rsyslog's "message repeated N times" counts N times in the windows, one sorted-set member each, so
// N is Redis work: one forged line with N = 10^6 held Redis for 16 s and took 443 MB. Past a hundred
// in ten minutes every count feature already says "a burst"; the line keeps its N in ssh.repeated.
const MAX_REPEAT_WEIGHT = 100

/**
 * The feature vector of one event; each field is defined in schemas/src/features.ts. A feature
 * outside the event's families (an sshd line's URL features, a web request's failed-auth counts)
 * takes its definition's default: the entity's windows count every family, but a vector should only
 * carry what its definition says it means for this kind of event.
 */
export function computeFeatures(event: NormalizedEvent, stats: WindowStats, context: FeatureContext): FeatureVector {
  const vector = computeAllFeatures(event, stats, context)
  for (const [name, value] of notApplicableTo(event.family)) vector[name] = value
  return vector
}

/** Per family, the features that do not apply to it and their defaults. */
const notApplicable = new Map<string, Array<[FeatureName, number]>>()
function notApplicableTo(family: string): Array<[FeatureName, number]> {
  let defaults = notApplicable.get(family)
  if (!defaults) {
    defaults = featureDefinitions
      .filter((d) => !(d.families as readonly string[]).includes('*') && !(d.families as readonly string[]).includes(family))
      .map((d) => [d.name as FeatureName, d.defaultValue])
    notApplicable.set(family, defaults)
  }
  return defaults
}

function computeAllFeatures(event: NormalizedEvent, stats: WindowStats, context: FeatureContext): FeatureVector {
  const ecs = event.ecs
  const t = ecs.timestamp
  const sincePrevious = stats.previousEventTime === null
    ? FEATURE_WINDOW_SECONDS
    : Math.min(FEATURE_WINDOW_SECONDS, Math.max(0, (t - stats.previousEventTime) / 1000))
  const ua = ecs.user_agent?.original ?? null
  const uaClass = userAgentClass(ua)
  const path = ecs.url?.path ?? null
  const geo = ecs.source?.geo?.location ?? null
  const user = stats.user
  const bytes = ecs.network?.bytes ?? sumOrNull(ecs.source?.bytes, ecs.destination?.bytes) ?? ecs.http?.response?.bytes ?? 0
  const names = [ecs.user?.name, ecs.user?.target?.name].filter((n): n is string => !!n)
  return {
    auth_attempts: stats.authAttempts,
    auth_failures: stats.authFailures,
    auth_failure_ratio: stats.authAttempts === 0 ? 0 : stats.authFailures / stats.authAttempts,
    distinct_users: stats.distinctUsers,
    invalid_user_attempts: stats.invalidUserAttempts,
    events_in_window: stats.events,
    seconds_since_previous: sincePrevious,
    ...context.temporal(t),
    auth_attempts_per_minute: stats.authAttemptsLastMinute,
    requests_per_second: stats.httpRequestsLast10s / 10,
    distinct_destinations: stats.distinctDestinations,
    distinct_url_paths: stats.distinctPaths,
    http_4xx_ratio: stats.httpRequests === 0 ? 0 : stats.http4xx / stats.httpRequests,
    http_5xx_ratio: stats.httpRequests === 0 ? 0 : stats.http5xx / stats.httpRequests,
    geo_new_country_for_user: user && ecs.source?.geo?.country_iso_code && !user.countryKnown ? 1 : 0,
    ip_new_for_user: user && !user.ipKnown ? 1 : 0,
    geo_distance_from_usual_km: user && geo && user.usualLat !== null && user.usualLon !== null
      ? haversineKm(geo.lat, geo.lon, user.usualLat, user.usualLon) : 0,
    bytes,
    duration_seconds: ecs.event.duration ? ecs.event.duration / 1e9 : 0,
    url_entropy: shannonEntropy(ecs.url?.original ?? path),
    user_agent_entropy: shannonEntropy(ua),
    dns_query_entropy: shannonEntropy(ecs.dns?.question?.name),
    is_privileged_user: names.some((n) => context.privilegedUsers.has(n)) ? 1 : 0,
    is_sensitive_endpoint: path && isSensitivePath(path, context.sensitivePaths) ? 1 : 0,
    user_agent_is_browser: uaClass === 'browser' ? 1 : 0,
    user_agent_is_cli: uaClass === 'cli' ? 1 : 0,
    user_agent_is_scanner: uaClass === 'scanner' ? 1 : 0,
    user_agent_is_bot: uaClass === 'bot' ? 1 : 0,
  }
}

function sumOrNull(a: number | null | undefined, b: number | null | undefined): number | null {
  return a == null && b == null ? null : (a ?? 0) + (b ?? 0)
}

/**
 * Whether a URL path falls under one of the sensitive prefixes, compared as the web server would
 * resolve it: nginx and Apache serve `//admin`, `/%61dmin` and `/./x/../admin` as `/admin`, and a
 * scanner that writes them so must not pass as an ordinary request. Case is ignored: `/Admin` reaches
 * /admin on case-insensitive file systems and many applications' routers (`sensitivePaths` are
 * lower case, as FeatureContext holds them).
 */
export function isSensitivePath(path: string, sensitivePaths: readonly string[]): boolean {
  const resolved = resolvePath(path).toLowerCase()
  return sensitivePaths.some((p) => resolved.startsWith(p))
}

// What a path needs for resolvePath to change it; most paths have none of it.
const UNRESOLVED = /%|\\|\/\/|\/\.\.?(?:\/|$)/

function resolvePath(path: string): string {
  if (!UNRESOLVED.test(path)) return path
  let decoded = path
  // Twice at most: %252e is a scanner's way past a filter that decodes once.
  for (let i = 0; i < 2 && decoded.includes('%'); i++) {
    try {
      decoded = decodeURIComponent(decoded)
    } catch {
      break
    }
  }
  const segments: string[] = []
  for (const segment of decoded.replaceAll('\\', '/').split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') segments.pop()
    else segments.push(segment)
  }
  return `/${segments.join('/')}${decoded.endsWith('/') && segments.length > 0 ? '/' : ''}`
}
