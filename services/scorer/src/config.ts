import { baseConfig, parseConfig, pgConfig } from '@vigil/platform'
import { z } from 'zod'

// The only file in the scorer that reads process.env.
export const Config = baseConfig.extend({
  ...pgConfig, // the model registry, where artifacts live
  MODEL_NAME: z.string().min(1).default('default'), // which model's versions on model-control this scorer runs
})
export type Config = z.infer<typeof Config>
export const loadConfig = (env: Record<string, string | undefined>) => parseConfig(Config, env)
