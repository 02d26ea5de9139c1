/**
 * The two kinds of failure a message handler can meet, told apart by `canRetry`:
 * - retryable: rethrow, the offset stays uncommitted, and the batch is tried again after backoff;
 * - not retryable: the message goes to its topic's dead-letter topic with the code and reason.
 */
export class VigilError extends Error {
  constructor(readonly code: string, message: string, readonly canRetry: boolean, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** One input that can never be processed (bad shape, bad bytes); it is dead-lettered, the stream goes on. */
export class PoisonMessageError extends VigilError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, false, options)
  }
}

/** A dependency is briefly unavailable (Redis, Postgres, the broker); the same input will succeed later. */
export class TransientError extends VigilError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, true, options)
  }
}

/** Socket errors that mean a server is not there (yet), rather than there and refusing: worth waiting for at start. */
export const UNREACHABLE_NETWORK_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE'])

/** Whether `err` says trying again may help. Unknown errors are not retried: retrying a bug forever stalls a partition. */
export function canRetry(err: unknown): boolean {
  return err instanceof VigilError && err.canRetry
}

/** The error code to record for `err`. */
export function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code
  return 'UNEXPECTED_ERROR'
}
