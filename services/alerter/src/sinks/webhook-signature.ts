import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * How a webhook receiver knows a request came from Vigil and is not a replay.
 *
 * Each request carries
 *   X-Vigil-Timestamp: <unix seconds when it was sent>
 *   X-Vigil-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>", keyed with WEBHOOK_SECRET>
 *   X-Vigil-Delivery:  <alert id>, the same on every retry of one alert
 *
 * The receiver recomputes the HMAC over the raw body bytes exactly as received (before any JSON
 * parsing), compares it in constant time, refuses a timestamp more than 5 minutes from its clock,
 * and drops a delivery id it already accepted (retries after a timeout can repeat a delivery).
 * The timestamp is inside the signed text, so it cannot be changed to replay an old request.
 * `verifyWebhookSignature` below is that check.
 */
export const SIGNATURE_HEADER = 'x-vigil-signature'
export const TIMESTAMP_HEADER = 'x-vigil-timestamp'
export const DELIVERY_HEADER = 'x-vigil-delivery'

/** A receiver's default tolerance between the timestamp and its own clock. */
export const DEFAULT_TOLERANCE_S = 300

/** The X-Vigil-Signature value of `body` sent at `timestamp` (unix seconds). */
export function signWebhook(body: string, timestamp: number, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

/** Whether a request's signature and timestamp are valid: the receiver's side of `signWebhook`. */
export function verifyWebhookSignature(request: {
  body: string | Buffer
  timestamp: string | undefined
  signature: string | undefined
  secret: string
  nowS?: number
  toleranceS?: number
}): boolean {
  const { signature, secret, nowS = Math.floor(Date.now() / 1000), toleranceS = DEFAULT_TOLERANCE_S } = request
  if (!signature || !request.timestamp || !/^\d+$/.test(request.timestamp)) return false
  const timestamp = Number(request.timestamp)
  if (Math.abs(nowS - timestamp) > toleranceS) return false
  const expected = Buffer.from(signWebhook(request.body.toString(), timestamp, secret))
  const given = Buffer.from(signature)
  return given.length === expected.length && timingSafeEqual(given, expected)
}
