import { FEATURE_WINDOW_SECONDS, type FeatureVector } from '@vigil/schemas'
import type { WindowMarks, WindowStats } from './adapters/feature-store.ts'
import type { NormalizedEvent } from './normalize-event.ts'

// Login attempts: the lines that carry an attempt's verdict. An attempt also writes pam_unix and
// "Invalid user" lines; counting those too would count one attempt several times.
const AUTH_ATTEMPT_ACTIONS = new Set(['ssh_login_failed', 'ssh_login_succeeded'])

/** How the event counts towards its entity's windows. */
export function windowMarksOf(event: NormalizedEvent): WindowMarks {
  const ecs = event.ecs
  const authAttempt = AUTH_ATTEMPT_ACTIONS.has(ecs.event.action)
  return {
    authAttempt,
    authFailure: authAttempt && ecs.event.outcome === 'failure',
    invalidUser: authAttempt && ecs.ssh?.invalid_user === true,
    user: authAttempt ? ecs.user?.name ?? null : null,
    weight: Math.max(1, ecs.ssh?.repeated ?? 1),
  }
}

/** The feature vector of one event, from its window; each field is defined in schemas/src/features.ts. */
export function computeFeatures(event: NormalizedEvent, stats: WindowStats): FeatureVector {
  const sincePrevious = stats.previousEventTime === null
    ? FEATURE_WINDOW_SECONDS
    : Math.min(FEATURE_WINDOW_SECONDS, Math.max(0, (event.ecs.timestamp - stats.previousEventTime) / 1000))
  return {
    auth_attempts: stats.authAttempts,
    auth_failures: stats.authFailures,
    auth_failure_ratio: stats.authAttempts === 0 ? 0 : stats.authFailures / stats.authAttempts,
    distinct_users: stats.distinctUsers,
    invalid_user_attempts: stats.invalidUserAttempts,
    events_in_window: stats.events,
    seconds_since_previous: sincePrevious,
  }
}
