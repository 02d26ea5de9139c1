import { describe, expect, it } from 'vitest'
import { signWebhook, verifyWebhookSignature } from '../../src/sinks/webhook-signature.ts'

const secret = 'test-secret-0123456789'
const body = '{"type":"vigil.alert","alertId":"a1"}'
const ts = 1_700_000_000

describe('webhook signature', () => {
  it('is HMAC-SHA256 of "<timestamp>.<body>" (vector computed with openssl dgst -sha256 -hmac)', () => {
    expect(signWebhook(body, ts, secret)).toBe('sha256=454a048f16103bfd83444c77cbe7b7e77dd17e9c4c39634ee26086c97444f89c')
  })

  it('verifies the request as sent, and nothing else', () => {
    const signature = signWebhook(body, ts, secret)
    const ok = { body, timestamp: String(ts), signature, secret, nowS: ts + 10 }
    expect(verifyWebhookSignature(ok)).toBe(true)
    expect(verifyWebhookSignature({ ...ok, body: Buffer.from(body) })).toBe(true)
    expect(verifyWebhookSignature({ ...ok, body: body.replace('a1', 'a2') })).toBe(false) // tampered body
    expect(verifyWebhookSignature({ ...ok, secret: `${secret}x` })).toBe(false) // another key
    expect(verifyWebhookSignature({ ...ok, timestamp: String(ts + 5) })).toBe(false) // timestamp changed, old signature
    expect(verifyWebhookSignature({ ...ok, signature: signature.slice(0, -1) })).toBe(false)
    expect(verifyWebhookSignature({ ...ok, signature: undefined })).toBe(false)
    expect(verifyWebhookSignature({ ...ok, timestamp: undefined })).toBe(false)
    expect(verifyWebhookSignature({ ...ok, timestamp: '17e8' })).toBe(false)
  })

  it('refuses a replay outside the tolerance, on either side of the receiver\'s clock', () => {
    const signature = signWebhook(body, ts, secret)
    const at = (nowS: number) => verifyWebhookSignature({ body, timestamp: String(ts), signature, secret, nowS })
    expect(at(ts + 300)).toBe(true)
    expect(at(ts + 301)).toBe(false)
    expect(at(ts - 301)).toBe(false)
    expect(verifyWebhookSignature({ body, timestamp: String(ts), signature, secret, nowS: ts + 3600, toleranceS: 7200 })).toBe(true)
  })
})
