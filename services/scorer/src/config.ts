import { baseConfig, parseConfig, pgConfig } from '@vigil/platform'
import { z } from 'zod'

// The only file in the scorer that reads process.env.
export const Config = baseConfig.extend({
  ...pgConfig, // the model registry, where artifacts live
  MODEL_NAME: z.string().min(1).default('default'), // which model's versions on model-control this scorer runs
  // How forests are scored: onnxruntime on the export the trainer stored, or the TypeScript kernel (bench/models compares them).
  FOREST_RUNTIME: z.enum(['onnx', 'typescript']).default('onnx'),
  EXPLAIN: z.enum(['alerts', 'all', 'none']).default('alerts'), // which scores carry their top features
})
export type Config = z.infer<typeof Config>
export const loadConfig = (env: Record<string, string | undefined>) => parseConfig(Config, env)
