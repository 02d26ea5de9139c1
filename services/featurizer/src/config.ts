import { baseConfig, parseConfig, redisConfig } from '@vigil/platform'
import { z } from 'zod'

// The only file in the featurizer that reads process.env.
export const Config = baseConfig.extend({
  ...redisConfig,
  // Per-entity windows
  LATE_EVENT_GRACE_SECONDS: z.coerce.number().int().min(0).default(300), // events this far behind an entity's newest are still counted
  STATE_TTL_SECONDS: z.coerce.number().int().min(60).default(3600), // idle entities' state expires after this much wall time
})
export type Config = z.infer<typeof Config>
export const loadConfig = (env: Record<string, string | undefined>) => parseConfig(Config, env)
