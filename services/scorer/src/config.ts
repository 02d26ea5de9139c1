import { alertThresholdConfig, baseConfig, parseConfig, pgConfig } from '@vigil/platform'
import { z } from 'zod'

// The only file in the scorer that reads process.env.
export const Config = baseConfig.extend({
  ...pgConfig, // the model registry, where artifacts live
  MODEL_NAME: z.string().min(1).default('default'), // which model's versions on model-control this scorer runs
  // How forests are scored: onnxruntime on the export the trainer stored, or the TypeScript kernel (bench/models compares them).
  FOREST_RUNTIME: z.enum(['onnx', 'typescript']).default('onnx'),
  // Which scores carry their top features: those that alert (at or over the model's threshold, or a
  // lower ALERT_SCORE_THRESHOLD, which the alerter reads too), all, or none.
  EXPLAIN: z.enum(['alerts', 'all', 'none']).default('alerts'),
  ...alertThresholdConfig,
})
export type Config = z.infer<typeof Config>
export const loadConfig = (env: Record<string, string | undefined>) => parseConfig(Config, env)
