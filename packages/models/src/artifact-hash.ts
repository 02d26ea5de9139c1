import { createHash } from 'node:crypto'

/** sha256 of artifact bytes as stored: model-control carries it, and scorers refuse bytes that do not match. */
export function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}
