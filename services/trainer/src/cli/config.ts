import { baseConfig, parseConfig, pgConfig } from '@vigil/platform'
import { z } from 'zod'

// The only file of the models CLI that reads process.env: the same settings as the services'.
export const CliConfig = baseConfig.extend({
  ...pgConfig,
  KAFKA_BROKERS: baseConfig.shape.KAFKA_BROKERS.optional(), // only promote, rollback and shadow publish; list, show and retrain need only Postgres
  MODEL_NAME: z.string().min(1).default('default'), // the model the commands act on (--model overrides)
  LOG_LEVEL: baseConfig.shape.LOG_LEVEL.unwrap().default('silent'), // service logs would mix with the tables on stdout
  PG_POOL_SIZE: z.coerce.number().int().min(1).default(2),
})
export type CliConfig = z.infer<typeof CliConfig>
export const loadCliConfig = (env: Record<string, string | undefined>) => parseConfig(CliConfig, env)
