import { pino, type Logger } from 'pino'
import { SECRET_SETTINGS } from './config.ts'

export type { Logger }

/** Structured JSON logs on stdout, one `service` field per line; secrets in the logged config are redacted. */
export function createLogger(service: string, level: string, instance: string): Logger {
  return pino({
    level,
    base: { service, instance },
    redact: { paths: SECRET_SETTINGS.map((k) => `config.${k}`), censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  })
}
