import { describe, expect, it } from 'vitest'
import { featureNames, FEATURE_WINDOW_SECONDS } from '@vigil/schemas'
import type { WindowStats } from '../../../src/adapters/feature-store.ts'
import { computeFeatures, isSensitivePath, sshdLineOf, windowMarksOf, type FeatureContext } from '../../../src/compute-features.ts'
import { createTemporalFeatures } from '../../../src/features/temporal-features.ts'
import type { NormalizedEvent } from '../../../src/normalize-event.ts'

const context: FeatureContext = {
  temporal: createTemporalFeatures('UTC', { startHour: 8, endHour: 18, days: new Set([1, 2, 3, 4, 5]) }),
  sensitivePaths: ['/admin', '/.env'],
  privilegedUsers: new Set(['root']),
}
const quiet: WindowStats = {
  events: 1, authAttempts: 0, authAttemptsLastMinute: 0, authFailures: 0, invalidUserAttempts: 0, distinctUsers: 0, httpRequests: 0,
  httpRequestsLast10s: 0, http4xx: 0, http5xx: 0, distinctPaths: 0, distinctDestinations: 0, previousEventTime: null, lateBeyondGrace: false, user: null,
}

function event(family: string, ecs: Partial<Omit<NormalizedEvent['ecs'], 'event'>> & { event: Partial<NormalizedEvent['ecs']['event']> }): NormalizedEvent {
  return {
    eventId: 'raw-logs/0/1', entity: { kind: 'source.ip', id: '1.2.3.4' }, receivedAt: 0, family, parsed: true, datedAhead: false,
    evidence: { topic: 'raw-logs', partition: 0, offset: '1' },
    ecs: {
      timestamp: Date.UTC(2025, 11, 10, 10, 0), message: 'm', ...ecs,
      event: { kind: 'event', category: [], type: [], action: 'log', outcome: 'unknown', module: family, original: 'x', ...ecs.event },
    },
  }
}

describe('computeFeatures', () => {
  it('gives every defined feature, and defaults to an event with no history', () => {
    const vector = computeFeatures(event('syslog', { event: {} }), quiet, context)
    expect(Object.keys(vector).sort()).toEqual([...featureNames].sort())
    expect(vector.seconds_since_previous).toBe(FEATURE_WINDOW_SECONDS)
    expect(vector.auth_failure_ratio).toBe(0)
  })

  it('turns a brute-force window into rates', () => {
    const failed = event('sshd', { event: { category: ['authentication'], action: 'ssh_login_failed', outcome: 'failure' }, source: { ip: '1.2.3.4' }, user: { name: 'root' } })
    const marks = windowMarksOf(failed)
    expect(marks).toMatchObject({ authAttempt: true, authFailure: true, user: 'root' })
    const vector = computeFeatures(failed, { ...quiet, events: 40, authAttempts: 20, authFailures: 19, distinctUsers: 5, previousEventTime: failed.ecs.timestamp - 2000 }, context)
    expect(vector).toMatchObject({ auth_attempts: 20, auth_failures: 19, auth_failure_ratio: 0.95, distinct_users: 5, seconds_since_previous: 2, is_privileged_user: 1, hour_of_day: 10, is_business_hours: 1 })
  })

  it('counts the pam_unix line of an sshd attempt only where it stands alone, and then not its verdict', () => {
    const pam = event('sshd', { event: { category: ['authentication'], action: 'ssh_pam_auth_failure', outcome: 'failure' }, source: { ip: '1.2.3.4' }, host: { name: 'web1' }, user: { name: 'root' }, process: { pid: 42 } })
    expect(windowMarksOf(pam)).toMatchObject({ authAttempt: false, authFailure: false, user: null, login: null })
    expect(windowMarksOf(pam, false)).toMatchObject({ authAttempt: false, user: null })
    expect(windowMarksOf(pam, true)).toMatchObject({ authAttempt: true, authFailure: true, invalidUser: false, user: 'root', login: { user: 'root', ip: '1.2.3.4', success: false } })
    expect(sshdLineOf(pam)).toEqual({ host: 'web1', time: pam.ecs.timestamp, pid: 42, ip: '1.2.3.4', kind: 'pam-failure', eventId: pam.eventId })
    // A verdict is the attempt unless its PAM failure stood alone and counted; either way it names the user tried.
    const verdict = event('sshd', { event: { category: ['authentication'], action: 'ssh_login_failed', outcome: 'failure' }, source: { ip: '1.2.3.4' }, user: { name: 'root' } })
    expect(windowMarksOf(verdict)).toMatchObject({ authAttempt: true, authFailure: true, user: 'root' })
    expect(windowMarksOf(verdict, false)).toMatchObject({ authAttempt: false, authFailure: false, user: 'root', login: { user: 'root', ip: '1.2.3.4', success: false } })
    // Other sshd lines are never the attempt.
    const closed = event('sshd', { event: { category: ['session'], action: 'ssh_connection_closed', outcome: 'unknown' }, host: { name: 'web1' } })
    expect(windowMarksOf(closed, true).authAttempt).toBe(false)
    expect(sshdLineOf(closed)).toMatchObject({ kind: 'other', pid: null, ip: null })
    expect(sshdLineOf(event('privilege', { event: { category: ['authentication'], action: 'pam_auth_failure', outcome: 'failure' } }))).toBeNull()
  })

  it('counts the Invalid user line of an sshd attempt where its sessions say so, as an attempt on a user that does not exist', () => {
    // OpenSSH 3 on the honeynet (sotm34): nothing else is written of the attempt
    const illegal = event('sshd', { event: { category: ['authentication'], action: 'ssh_invalid_user', outcome: 'failure' }, source: { ip: '211.141.89.73' }, host: { name: 'combo' }, user: { name: 'jordan' }, ssh: { invalid_user: true }, process: { pid: 30159 } })
    expect(sshdLineOf(illegal)).toEqual({ host: 'combo', time: illegal.ecs.timestamp, pid: 30159, ip: '211.141.89.73', kind: 'invalid-user', eventId: illegal.eventId })
    expect(windowMarksOf(illegal, true)).toMatchObject({ authAttempt: true, authFailure: true, invalidUser: true, user: 'jordan', login: { user: 'jordan', ip: '211.141.89.73', success: false } })
    expect(windowMarksOf(illegal, false)).toMatchObject({ authAttempt: false, invalidUser: false, user: null })
    expect(windowMarksOf(illegal)).toMatchObject({ authAttempt: false }) // no answer (a host without a name): its verdict counts
    // AllowUsers or DenyUsers turning a user away writes its own line instead, the same attempt
    // (sshd's verdicts then say "invalid user", and so does the parser: ssh.invalid_user)
    const notAllowed = event('sshd', { event: { category: ['authentication'], action: 'ssh_user_not_allowed', outcome: 'failure' }, source: { ip: '5.188.10.180' }, host: { name: 'web1' }, user: { name: 'root' }, ssh: { invalid_user: true }, process: { pid: 3001 } })
    expect(sshdLineOf(notAllowed)).toMatchObject({ kind: 'invalid-user', pid: 3001, ip: '5.188.10.180' })
    expect(windowMarksOf(notAllowed, true)).toMatchObject({ authAttempt: true, authFailure: true, invalidUser: true, user: 'root' })
    // input_userauth_request names the same user for the same connection: never the attempt
    const request = event('sshd', { event: { category: ['authentication'], action: 'ssh_invalid_user_request', outcome: 'failure' }, host: { name: 'combo' }, user: { name: 'jordan' }, ssh: { invalid_user: true }, process: { pid: 30159 } })
    expect(sshdLineOf(request)).toMatchObject({ kind: 'other' })
    expect(windowMarksOf(request, true).authAttempt).toBe(false)
  })

  it('takes an sshd PAM failure without a user for an unknown user, as pam_unix writes it', () => {
    const pam = event('sshd', { event: { category: ['authentication'], action: 'ssh_pam_auth_failure', outcome: 'failure' }, source: { ip: '1.2.3.4' }, host: { name: 'web1' } })
    expect(windowMarksOf(pam, true)).toMatchObject({ authAttempt: true, authFailure: true, invalidUser: true, user: null })
  })

  it('reads web requests: status classes, sensitive paths, user agents, entropy', () => {
    const request = event('web', {
      event: { category: ['web'], action: 'http_request', outcome: 'failure' },
      url: { original: '/.env?x=1', path: '/.env' }, http: { response: { status_code: 404, bytes: 512 } }, user_agent: { original: 'sqlmap/1.7' },
    })
    expect(windowMarksOf(request)).toMatchObject({ httpRequest: true, http4xx: true, http5xx: false, urlPath: '/.env' })
    const vector = computeFeatures(request, { ...quiet, httpRequests: 10, http4xx: 8, httpRequestsLast10s: 30 }, context)
    expect(vector).toMatchObject({ http_4xx_ratio: 0.8, requests_per_second: 3, is_sensitive_endpoint: 1, user_agent_is_scanner: 1, bytes: 512 })
    expect(vector.url_entropy).toBeGreaterThan(2)
  })

  it('counts one attempt for each su or sudo verdict, not for the PAM lines beside it, and other programs\' PAM lines', () => {
    const auth = (program: string, action: string) => windowMarksOf(event('privilege', {
      event: { category: ['authentication'], action, outcome: 'failure' }, process: { name: program }, user: { name: 'alice' },
    })).authAttempt
    // sudo left at its prompt with Ctrl-C, then su with a wrong password: two attempts, five lines.
    expect(['pam_conversation_failed', 'pam_no_password', 'sudo_auth_failure'].map((a) => auth('sudo', a))).toEqual([false, false, true])
    expect(['pam_auth_failure', 'su_failed'].map((a) => auth('su', a))).toEqual([false, true])
    expect(auth('login', 'pam_auth_failure')).toBe(true)
  })

  it('counts the destination a connection reached, not the address a daemon listens on', () => {
    const connection = event('sshd', { event: { category: ['network'], action: 'ssh_connection' }, source: { ip: '1.2.3.4' }, destination: { ip: '10.0.0.5', port: 22 } })
    expect(windowMarksOf(connection).destination).toBe('10.0.0.5:22')
    // Dec 10 06:55:46 LabSZ sshd[24200]: Server listening on 0.0.0.0 port 22.
    const listening = event('sshd', { event: { category: ['process'], type: ['start'], action: 'ssh_server_listening' }, destination: { ip: '0.0.0.0', port: 22 } })
    expect(windowMarksOf(listening).destination).toBeNull()
  })

  it('counts a repeated message at most a hundred times in the windows', () => {
    const repeated = (n: number) => windowMarksOf(event('sshd', {
      event: { category: ['authentication'], action: 'ssh_login_failed', outcome: 'failure' }, source: { ip: '1.2.3.4' }, ssh: { repeated: n },
    })).weight
    expect([repeated(1), repeated(7), repeated(100), repeated(1_000_000)]).toEqual([1, 7, 100, 100])
  })

  it('gives a feature outside the event\'s families its default, whatever the entity\'s windows hold', () => {
    const busy: WindowStats = { ...quiet, events: 9, authAttempts: 5, authFailures: 5, httpRequests: 4, http4xx: 4, httpRequestsLast10s: 4, distinctPaths: 3 }
    const request = event('web', { event: { category: ['web'], action: 'http_request', outcome: 'failure' }, url: { path: '/x' }, user: { name: 'root' } })
    expect(computeFeatures(request, busy, context)).toMatchObject({
      auth_attempts: 0, auth_failures: 0, auth_failure_ratio: 0, is_privileged_user: 0, events_in_window: 9, http_4xx_ratio: 1, distinct_url_paths: 3,
    })
    const failed = event('sshd', { event: { category: ['authentication'], action: 'ssh_login_failed', outcome: 'failure' }, source: { ip: '1.2.3.4' }, user: { name: 'root' } })
    expect(computeFeatures(failed, busy, context)).toMatchObject({
      auth_attempts: 5, auth_failure_ratio: 1, is_privileged_user: 1, events_in_window: 9, requests_per_second: 0, distinct_url_paths: 0, http_4xx_ratio: 0,
    })
  })

  it('reads a sensitive path as the web server resolves it', () => {
    const sensitive = (path: string) => isSensitivePath(path, context.sensitivePaths)
    for (const path of ['/admin', '/admin/', '//admin/', '/%61dmin/', '/./admin/', '/Admin/x', '/%2eenv', '/%252eenv', '/index.php/../.env', '/a/../../admin']) {
      expect([path, sensitive(path)]).toEqual([path, true])
    }
    for (const path of ['/', '/docs-guide', '/static/admin.css', '/x/%zz', '/env']) {
      expect([path, sensitive(path)]).toEqual([path, false])
    }
  })

  it('measures how far a login is from the user\'s usual place, and whether country and IP are new', () => {
    const login = event('sshd', {
      event: { category: ['authentication'], action: 'ssh_login_succeeded', outcome: 'success' },
      source: { ip: '1.2.3.4', geo: { country_iso_code: 'CN', location: { lat: 22.5, lon: 114.1 } } }, user: { name: 'alice' },
    })
    expect(windowMarksOf(login).login).toMatchObject({ user: 'alice', country: 'CN', success: true })
    const vector = computeFeatures(login, { ...quiet, authAttempts: 1, user: { countryKnown: false, ipKnown: false, usualLat: 48.85, usualLon: 2.35 } }, context)
    expect(vector.geo_new_country_for_user).toBe(1)
    expect(vector.ip_new_for_user).toBe(1)
    expect(vector.geo_distance_from_usual_km).toBeGreaterThan(9000) // Paris to Shenzhen
    expect(vector.geo_distance_from_usual_km).toBeLessThan(10000)
  })
})
