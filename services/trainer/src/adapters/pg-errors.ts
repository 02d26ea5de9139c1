import { pgFailure, TransientError } from '@vigil/platform'

/**
 * A Postgres failure as the Kafka layer understands it (platform's pgFailure: a value Postgres
 * refuses is pinned to the input and dead-lettered; anything else, such as a lost connection, a
 * deadlock or a missing table before migrations ran, is retried, so history is held back). A day
 * partition still missing after a repair (retention dropped it meanwhile) is retried too.
 */
export function historyError(cause: unknown, what: string): Error {
  if (isMissingPartition(cause)) return new TransientError('HISTORY_UNAVAILABLE', `${what}: ${(cause as Error).message}`, { cause })
  return pgFailure(cause, { unavailable: 'HISTORY_UNAVAILABLE', rejected: 'HISTORY_VALUE_REJECTED' }, what)
}

/** SQLSTATE 23514 on an insert into a partitioned table: no partition holds the row's day (retention dropped it meanwhile). */
export function isMissingPartition(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null
  return e?.code === '23514' && typeof e.message === 'string' && e.message.includes('no partition')
}
