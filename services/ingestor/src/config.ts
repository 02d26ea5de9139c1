import { baseConfig, ConfigError, parseConfig } from '@vigil/platform'
import { z } from 'zod'

// The only file in the ingestor that reads process.env.
export const Config = baseConfig.extend({
  // Listeners
  SYSLOG_BIND: z.string().default('0.0.0.0'), // address the syslog listeners bind to
  SYSLOG_UDP_PORT: z.coerce.number().int().min(0).max(65535).default(5514), // 0: any free port
  SYSLOG_TCP_PORT: z.coerce.number().int().min(0).max(65535).default(5514), // 0: any free port
  MAX_LINE_BYTES: z.coerce.number().int().min(1024).max(1024 * 1024).default(64 * 1024), // longer lines are dead-lettered (syslog ones whole up to 256 KiB, for a redrive)
  // Zeek input
  ZEEK_TCP_BIND: z.string().default('0.0.0.0'), // address the Zeek TCP listener binds to
  ZEEK_TCP_PORT: z.coerce.number().int().min(0).max(65535).default(0), // Zeek lines (TSV with headers, or JSON) over TCP; 0: disabled, not "any port"
  ZEEK_LOG_DIR: z.string().min(1).optional(), // a Zeek log directory whose *.log files are tailed; unset: disabled
  ZEEK_STATE_FILE: z.string().min(1).optional(), // where the tailer keeps its read positions (JSON); required with ZEEK_LOG_DIR
  ZEEK_POLL_MS: z.coerce.number().int().min(50).default(1_000), // how often the tailer looks for new lines when fs.watch says nothing
  // Batching towards raw-logs
  PRODUCE_BATCH_MAX: z.coerce.number().int().min(1).default(500), // lines per produce request at most
  PRODUCE_LINGER_MS: z.coerce.number().int().min(0).default(5), // wait this long for a batch to fill
  // What is held for raw-logs at most, in bytes, each line counted with ~0.5 KiB for its record. Past
  // it UDP datagrams are refused (app_input_refused_total): unlike TCP senders, UDP ones cannot be
  // held back. Above half of it TCP and Zeek senders wait and /readyz fails. 64 MiB is well inside the ingestor's heap in deploy/k8s (384 MB).
  PRODUCE_BUFFER_MAX_BYTES: z.coerce.number().int().min(1024 * 1024).default(64 * 1024 * 1024),
})
export type Config = z.infer<typeof Config>
export const loadConfig = (env: Record<string, string | undefined>): Config => {
  const config = parseConfig(Config, env)
  // Without a state file a restart would re-send every Zeek log from its start.
  if (config.ZEEK_LOG_DIR && !config.ZEEK_STATE_FILE) throw new ConfigError(['ZEEK_STATE_FILE: required when ZEEK_LOG_DIR is set'])
  return config
}
