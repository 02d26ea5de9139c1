import { baseConfig, parseConfig } from '@vigil/platform'
import { z } from 'zod'

// The only file in the ingestor that reads process.env.
export const Config = baseConfig.extend({
  // Listeners
  SYSLOG_BIND: z.string().default('0.0.0.0'), // address the syslog listeners bind to
  SYSLOG_UDP_PORT: z.coerce.number().int().min(0).max(65535).default(5514), // 0: any free port
  SYSLOG_TCP_PORT: z.coerce.number().int().min(0).max(65535).default(5514), // 0: any free port
  MAX_LINE_BYTES: z.coerce.number().int().min(1024).max(1024 * 1024).default(64 * 1024), // longer lines are dead-lettered
  // Batching towards raw-logs
  PRODUCE_BATCH_MAX: z.coerce.number().int().min(1).default(500), // lines per produce request at most
  PRODUCE_LINGER_MS: z.coerce.number().int().min(0).default(5), // wait this long for a batch to fill
})
export type Config = z.infer<typeof Config>
export const loadConfig = (env: Record<string, string | undefined>) => parseConfig(Config, env)
