import { baseConfig, parseConfig, pgConfig } from '@vigil/platform'
import { z } from 'zod'

// The only file in the trainer that reads process.env.
export const Config = baseConfig.extend({
  ...pgConfig,
  MODEL_NAME: z.string().min(1).default('default'), // the model this trainer builds and publishes
  TRAIN_MIN_ROWS: z.coerce.number().int().min(10).default(200), // no model is trained on less history
  TRAIN_MAX_ROWS: z.coerce.number().int().min(10).default(4096), // the newest rows, at most, train a version
  TRAIN_TREES: z.coerce.number().int().min(1).max(1000).default(100), // trees in the forest
  TRAIN_INTERVAL_MS: z.coerce.number().int().min(1000).default(3_600_000), // retrain this often when new history arrived
  TRAIN_SETTLE_MS: z.coerce.number().int().min(0).default(3_000), // the first model waits until history stops growing this long
  TRAIN_CHECK_MS: z.coerce.number().int().min(100).default(1_000), // how often the schedule looks
})
export type Config = z.infer<typeof Config>
export const loadConfig = (env: Record<string, string | undefined>) => parseConfig(Config, env)
