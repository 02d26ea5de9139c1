import { parseRetryAfter } from './retry-policy.ts'
import { SinkError } from './sink.ts'

/**
 * POSTs a JSON body and resolves on a 2xx. Anything else throws a SinkError that says whether a
 * retry can help: network failures, timeouts, 408, 429 and 5xx can; other 4xx and redirects
 * (a webhook URL should be the final one) cannot.
 */
export async function postJson(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  let response: Response
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'vigil-alerter', ...headers },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    })
  } catch (cause) {
    if (cause instanceof DOMException && (cause.name === 'TimeoutError' || cause.name === 'AbortError')) {
      throw new SinkError('SINK_TIMEOUT', `no answer within ${timeoutMs} ms`, true, undefined, { cause })
    }
    throw new SinkError('SINK_UNREACHABLE', networkReason(cause), true, undefined, { cause })
  }
  // Read the body in every case: it frees the connection, and a refusal's body says why (Slack: "invalid_blocks").
  const answer = await response.text().then((t) => t.slice(0, 200).trim(), () => '')
  if (response.ok) return
  const reason = `HTTP ${response.status}${answer ? `: ${answer}` : ''}`
  if (response.status === 429) throw new SinkError('SINK_THROTTLED', reason, true, parseRetryAfter(response.headers.get('retry-after')))
  if (response.status === 408 || response.status >= 500) {
    throw new SinkError('SINK_UNAVAILABLE', reason, true, parseRetryAfter(response.headers.get('retry-after')))
  }
  throw new SinkError('SINK_REJECTED', reason, false)
}

/** "connect ECONNREFUSED 127.0.0.1:9" rather than undici's bare "fetch failed". */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: { message?: string; code?: string } }).cause
  return cause?.message ?? cause?.code ?? (err as Error).message ?? String(err)
}
