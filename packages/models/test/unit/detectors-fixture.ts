// A seeded feature matrix shaped like the featurizer's output (the 31 features of @vigil/schemas, in
// order): a mix of sshd, web, Zeek and plain syslog events with heavy-tailed counts and bytes, rare
// flags and business-hours clocks; and attack rows that a detector should put above all of it.
import { featureNames } from '@vigil/schemas'
import { seededRandom } from '../../src/detector.ts'

export { featureNames }
export const WIDTH = featureNames.length

export function at(name: string): number {
  const j = featureNames.indexOf(name as (typeof featureNames)[number])
  if (j < 0) throw new Error(`no feature ${name}`)
  return j
}

function sampler(seed: number) {
  const random = seededRandom(seed)
  const normal = (mean: number, sd: number) => mean + sd * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  const geometric = (p: number) => Math.floor(Math.log(1 - random()) / Math.log(1 - p))
  const logNormal = (mu: number, sigma: number) => Math.exp(normal(mu, sigma))
  const chance = (p: number) => (random() < p ? 1 : 0)
  return { random, normal, geometric, logNormal, chance }
}

/** `n` ordinary events. */
export function inliers(n: number, seed: number): number[][] {
  const s = sampler(seed)
  return Array.from({ length: n }, () => {
    const row = new Array<number>(WIDTH).fill(0)
    const set = (name: string, v: number) => (row[at(name)] = v)
    const hour = s.random() < 0.7 ? 8 + Math.floor(s.random() * 11) : Math.floor(s.random() * 24)
    const day = s.random() < 0.85 ? 1 + Math.floor(s.random() * 5) : 6 * Math.floor(s.random() * 2)
    set('hour_of_day', hour)
    set('day_of_week', day)
    set('is_weekend', day === 0 || day === 6 ? 1 : 0)
    set('is_business_hours', day >= 1 && day <= 5 && hour >= 9 && hour < 17 ? 1 : 0)
    set('events_in_window', 1 + Math.round(s.logNormal(1.5, 1)))
    set('seconds_since_previous', Math.min(600, Math.round(s.logNormal(3, 1.5) * 10) / 10))
    const family = s.random()
    if (family < 0.3) {
      const attempts = 1 + s.geometric(0.6)
      let failures = 0
      for (let a = 0; a < attempts; a++) failures += s.chance(0.15)
      set('auth_attempts', attempts)
      set('auth_failures', failures)
      set('auth_failure_ratio', failures / attempts)
      set('distinct_users', 1 + s.chance(0.1))
      set('invalid_user_attempts', failures > 0 ? s.chance(0.1) : 0)
      set('auth_attempts_per_minute', Math.min(attempts, 1 + s.geometric(0.7)))
      set('distinct_destinations', 1)
      const newIp = s.chance(0.1)
      set('ip_new_for_user', newIp)
      set('geo_new_country_for_user', newIp ? s.chance(0.1) : 0)
      set('geo_distance_from_usual_km', Math.round(newIp ? s.logNormal(5, 1.2) : s.logNormal(1.5, 1)))
      set('is_privileged_user', s.chance(0.15))
    } else if (family < 0.7) {
      const agent = s.random()
      const browser = agent < 0.7 ? 1 : 0
      set('requests_per_second', Math.round(s.logNormal(-1.5, 0.8) * 10) / 10)
      set('distinct_url_paths', 1 + Math.round(s.logNormal(1.2, 0.8)))
      set('http_4xx_ratio', s.random() < 0.8 ? 0 : Math.round(s.random() * 30) / 100)
      set('http_5xx_ratio', s.random() < 0.97 ? 0 : Math.round(s.random() * 20) / 100)
      set('bytes', Math.round(s.logNormal(8, 1.5)))
      set('duration_seconds', Math.round(s.logNormal(-3, 1) * 1000) / 1000)
      set('url_entropy', s.normal(3.8, 0.3))
      set('user_agent_entropy', browser ? s.normal(4.6, 0.15) : s.normal(3.9, 0.2))
      set('is_sensitive_endpoint', s.chance(0.01))
      set('user_agent_is_browser', browser)
      set('user_agent_is_cli', agent >= 0.7 && agent < 0.92 ? 1 : 0)
      set('user_agent_is_bot', agent >= 0.92 ? 1 : 0)
    } else if (family < 0.9) {
      set('distinct_destinations', 1 + s.geometric(0.5))
      set('bytes', Math.round(s.logNormal(7, 2)))
      set('duration_seconds', Math.round(s.logNormal(0, 1.5) * 1000) / 1000)
      if (s.chance(0.5)) set('dns_query_entropy', s.normal(2.9, 0.35))
    }
    return row
  })
}

/** Attack rows, each unlike any inlier in several features at once. */
export function attacks(): { name: string; row: number[] }[] {
  const base = () => {
    const row = new Array<number>(WIDTH).fill(0)
    row[at('hour_of_day')] = 14
    row[at('day_of_week')] = 3
    row[at('is_business_hours')] = 1
    row[at('events_in_window')] = 5
    row[at('seconds_since_previous')] = 30
    return row
  }
  const make = (name: string, values: Record<string, number>) => {
    const row = base()
    for (const [k, v] of Object.entries(values)) row[at(k)] = v
    return { name, row }
  }
  return [
    make('ssh brute force', {
      auth_attempts: 250, auth_failures: 248, auth_failure_ratio: 0.992, distinct_users: 35, invalid_user_attempts: 180,
      auth_attempts_per_minute: 40, events_in_window: 260, seconds_since_previous: 0.2, distinct_destinations: 1,
    }),
    make('web scanner', {
      requests_per_second: 25, distinct_url_paths: 900, http_4xx_ratio: 0.85, user_agent_is_scanner: 1, is_sensitive_endpoint: 1,
      url_entropy: 5.1, user_agent_entropy: 4.2, bytes: 400, duration_seconds: 0.002, events_in_window: 2500,
    }),
    make('exfiltration', { bytes: 8e9, duration_seconds: 5400, distinct_destinations: 1 }),
    make('dns tunnel', { dns_query_entropy: 4.6, distinct_destinations: 1, bytes: 300, duration_seconds: 0.01, events_in_window: 3000, seconds_since_previous: 0 }),
    make('impossible travel', {
      auth_attempts: 1, auth_failures: 0, distinct_users: 1, distinct_destinations: 1, ip_new_for_user: 1, geo_new_country_for_user: 1,
      geo_distance_from_usual_km: 12000, is_privileged_user: 1, hour_of_day: 3, day_of_week: 0, is_weekend: 1, is_business_hours: 0,
    }),
  ]
}

/** The share of `scores` strictly below `value`. */
export function rankAmong(scores: ArrayLike<number>, value: number): number {
  let below = 0
  for (let i = 0; i < scores.length; i++) if (scores[i]! < value) below += 1
  return below / scores.length
}
