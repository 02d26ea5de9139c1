import { PoisonMessageError, TransientError } from '@vigil/platform'

/**
 * A Postgres failure as the Kafka layer understands it. Only a data exception (SQLSTATE class 22:
 * a value Postgres cannot hold) is pinned to the input; anything else (connection lost, deadlock,
 * a missing table before migrations ran) is retried, so history is held back rather than dead-lettered.
 */
export function historyError(cause: unknown, what: string): Error {
  const sqlState = (cause as { code?: unknown } | null)?.code
  const message = `${what}: ${(cause as Error)?.message ?? String(cause)}`
  if (typeof sqlState === 'string' && sqlState.startsWith('22')) return new PoisonMessageError('HISTORY_VALUE_REJECTED', message, { cause })
  return new TransientError('HISTORY_UNAVAILABLE', message, { cause })
}

/** SQLSTATE 23514 on an insert into a partitioned table: no partition holds the row's day (retention dropped it meanwhile). */
export function isMissingPartition(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null
  return e?.code === '23514' && typeof e.message === 'string' && e.message.includes('no partition')
}
