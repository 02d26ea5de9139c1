import { baseConfig, parseConfig, redisConfig } from '@vigil/platform'
import { z } from 'zod'

const list = (fallback: string) => z.string().default(fallback).transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
const range = /^(\d{1,2})-(\d{1,2})$/
const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return true
  } catch {
    return false
  }
}
const timeZone = z.string().refine(isTimeZone, 'not an IANA time zone')
/** `host=Zone,host=Zone`: each host's zone */
const zonesByHost = z.string().default('').transform((s, ctx) => {
  const zones: Record<string, string> = {}
  for (const entry of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const [host, zone] = entry.split('=', 2).map((x) => x.trim())
    if (!host || !zone || !isTimeZone(zone)) ctx.addIssue({ code: 'custom', message: `'${entry}' is not host=<IANA time zone>` })
    else zones[host] = zone
  }
  return zones
})

// The only file in the featurizer that reads process.env.
export const Config = baseConfig.extend({
  ...redisConfig,
  // Per-entity windows
  LATE_EVENT_GRACE_SECONDS: z.coerce.number().int().min(0).default(300), // events this far behind an entity's newest still count fully; later ones count on a trimmed window, as app_events_late_total reports
  STATE_TTL_SECONDS: z.coerce.number().int().min(60).default(3600), // idle entities' window state expires after this much wall time
  USER_STATE_TTL_SECONDS: z.coerce.number().int().min(60).default(30 * 86_400), // a user's login history (countries, IPs, usual place)
  // Feature settings
  FEATURE_TIME_ZONE: timeZone.default('UTC'), // for hour, weekday, business hours
  // Senders' clocks, for times written without a zone (RFC 3164 syslog, Apache and nginx error logs)
  SOURCE_TIME_ZONE: timeZone.default('UTC'), // every sender's, unless named below
  SOURCE_TIME_ZONES: zonesByHost, // host=Zone,...: a host's own (its syslog HOSTNAME, else its address)
  BUSINESS_HOURS: z.string().regex(range, 'like 08-18').default('08-18'), // [start, end) hours
  BUSINESS_DAYS: z.string().regex(range, 'like 1-5').default('1-5'), // first-last weekday, 0 = Sunday
  SENSITIVE_PATHS: list('/admin,/wp-login.php,/wp-admin,/xmlrpc.php,/.env,/.git,/phpmyadmin,/server-status,/actuator,/cgi-bin,/etc/passwd,/login,/manager/html,/console'), // URL path prefixes
  PRIVILEGED_USERS: list('root,admin,administrator,toor,sudo,oracle,postgres'), // user names that are privileged
  GEO_ENABLED: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'), // country, city and AS of source and destination IPs
})
export type Config = z.infer<typeof Config>
export const loadConfig = (env: Record<string, string | undefined>) => parseConfig(Config, env)

/** [start, end] of a `a-b` setting. */
export function parseRange(value: string): [number, number] {
  const m = range.exec(value)!
  return [Number(m[1]), Number(m[2])]
}
