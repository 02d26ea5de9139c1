import { baseConfig, parseConfig, pgConfig } from '@vigil/platform'
import { z } from 'zod'

// The only file in the alerter that reads process.env.
export const Config = baseConfig.extend({
  ...pgConfig,
  // Calibrated score at or above which an event alerts; unset, each score's own model threshold (set by the trainer) applies.
  ALERT_SCORE_THRESHOLD: z.coerce.number().min(0).max(1).optional(),
  ALERT_WINDOW_MS: z.coerce.number().int().min(1000).default(600_000), // one alert per entity and detector in this much event time
  ALERT_MAX_EVIDENCE: z.coerce.number().int().min(1).default(10), // original lines kept on an alert
})
export type Config = z.infer<typeof Config>
export const loadConfig = (env: Record<string, string | undefined>) => parseConfig(Config, env)
