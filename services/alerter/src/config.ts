import { alertThresholdConfig, baseConfig, flag, parseConfig, pgConfig, redisConfig } from '@vigil/platform'
import { z } from 'zod'

const severity = z.enum(['low', 'medium', 'high', 'critical']) // OCSF severity names
const emailList = z.string()
  .regex(/^\s*[^\s,@]+@[^\s,@]+(\s*,\s*[^\s,@]+@[^\s,@]+)*\s*$/, 'must be comma-separated email addresses')
  .transform((s) => s.split(',').map((a) => a.trim()))

// The only file in the alerter that reads process.env.
export const Config = baseConfig.extend({
  ...pgConfig,
  ...redisConfig, // Sigma correlation state
  ...alertThresholdConfig,
  ALERT_WINDOW_MS: z.coerce.number().int().min(1000).default(600_000), // one alert per entity and detector in this much event time ...
  ALERT_MAX_SPAN_MS: z.coerce.number().int().min(0).default(86_400_000), // ... or longer: an open alert takes in its entity's events that go on within ALERT_WINDOW_MS of each other, in windows that begin at most this long after its first (0: one alert per window)
  ALERT_MAX_EVIDENCE: z.coerce.number().int().min(1).default(10), // original lines kept on an alert
  // Retention (src/adapters/alert-retention.ts): an alert quiet this long is deleted with its events, notifications and verdict
  // 0 (the default) keeps every alert: deleting is opt-in, since an upgraded alerter would otherwise delete old history at its first start
  ALERT_RETENTION_DAYS: z.coerce.number().int().min(0).max(36_500).default(0), // days kept after an alert's last event or change; 0 keeps all (Postgres dates end too far out for more than a century)
  ALERT_RETENTION_CHECK_MS: z.coerce.number().int().min(1000).default(3_600_000), // how often expired alerts are deleted
  // Notification sinks: each is on when its URL is set, and receives alerts of at least its minimum severity
  SLACK_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(), // Slack incoming webhook (a secret: anyone with it can post)
  SLACK_MIN_SEVERITY: severity.default('medium'),
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(), // smtp://user:pass@host:587 (STARTTLS when offered) or smtps://…:465
  EMAIL_FROM: z.string().min(3).optional(), // From of alert mail, e.g. "Vigil <vigil@example.org>"; required with SMTP_URL
  EMAIL_TO: emailList.optional(), // recipients, comma-separated; required with SMTP_URL
  EMAIL_MIN_SEVERITY: severity.default('high'),
  WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(), // generic webhook: the alert as JSON, signed (see src/sinks/README.md)
  WEBHOOK_SECRET: z.string().min(16).optional(), // HMAC-SHA256 key of X-Vigil-Signature; required with WEBHOOK_URL
  WEBHOOK_MIN_SEVERITY: severity.default('low'),
  SINK_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000), // one delivery attempt; below SHUTDOWN_TIMEOUT_MS, which waits for the one in flight
  SINK_RETRY_BASE_MS: z.coerce.number().int().min(1).default(1_000), // wait after a first failure; doubles with each further one (with jitter)
  SINK_RETRY_MAX_MS: z.coerce.number().int().min(1).default(60_000), // longest wait: a sink that is down is tried at least this often
  SINK_POLL_MS: z.coerce.number().int().min(10).default(1_000), // how often an idle sink looks for due notifications (another instance's, retries)
  // Sigma rules on features and on the model's anomalies (src/rules/README.md)
  SIGMA_ENABLED: flag.default(true),
  SIGMA_RULES: z.string().optional().transform((s) => s?.split(',').map((d) => d.trim()).filter(Boolean)), // rule directories or files, comma-separated; unset: the shipped rules
  SIGMA_CORRELATION_IDLE_TTL_MS: z.coerce.number().int().min(1000).default(600_000), // an idle correlation group's state outlives its timespan by this much
  // Feedback API (src/api/README.md): on when API_TOKEN is set
  API_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(), // bearer token of every request (a secret)
  API_PORT: z.coerce.number().int().min(0).max(65535).default(8088),
  API_BIND: z.string().default('127.0.0.1'), // 0.0.0.0 in a container
  FEEDBACK_REFRESH_MS: z.coerce.number().int().min(100).default(10_000), // unpublished verdicts retried and false-positive ratios recomputed this often
  SUPPRESSION_REFRESH_MS: z.coerce.number().int().min(100).default(5_000), // suppressions saved through another instance apply here within this
}).superRefine((c, ctx) => {
  const require = (name: string, when: string) => ctx.addIssue({ code: 'custom', path: [name], message: `required when ${when} is set` })
  if (c.SMTP_URL && !c.EMAIL_FROM) require('EMAIL_FROM', 'SMTP_URL')
  if (c.SMTP_URL && !c.EMAIL_TO) require('EMAIL_TO', 'SMTP_URL')
  if (c.WEBHOOK_URL && !c.WEBHOOK_SECRET) require('WEBHOOK_SECRET', 'WEBHOOK_URL')
  if (c.SINK_RETRY_MAX_MS < c.SINK_RETRY_BASE_MS) ctx.addIssue({ code: 'custom', path: ['SINK_RETRY_MAX_MS'], message: 'must be at least SINK_RETRY_BASE_MS' })
})
export type Config = z.infer<typeof Config>
export const loadConfig = (env: Record<string, string | undefined>) => parseConfig(Config, env)
