import { postJson } from './http-post.ts'
import { slackMessage } from './render-alert.ts'
import type { Sink } from './sink.ts'

/** Posts each alert to a Slack incoming webhook as a Block Kit message. */
export function createSlackSink(options: { webhookUrl: string; timeoutMs: number }): Sink {
  return {
    name: 'slack',
    async deliver({ alert, eventCount }) {
      await postJson(options.webhookUrl, JSON.stringify(slackMessage(alert, eventCount)), {}, options.timeoutMs)
    },
    async close() {},
  }
}
