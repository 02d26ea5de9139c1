import { postJson } from './http-post.ts'
import { webhookBody } from './render-alert.ts'
import type { Sink } from './sink.ts'
import { DELIVERY_HEADER, signWebhook, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './webhook-signature.ts'

/** POSTs each alert as JSON, signed with HMAC-SHA256 (see webhook-signature.ts for the receiver's check). */
export function createWebhookSink(options: { url: string; secret: string; timeoutMs: number; nowMs?: () => number }): Sink {
  const nowMs = options.nowMs ?? Date.now
  return {
    name: 'webhook',
    async deliver({ alertId, alert, eventCount }) {
      const body = webhookBody(alert, eventCount)
      const timestamp = Math.floor(nowMs() / 1000)
      await postJson(options.url, body, {
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: signWebhook(body, timestamp, options.secret),
        [DELIVERY_HEADER]: alertId,
      }, options.timeoutMs)
    },
    async close() {},
  }
}
