import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postJson } from '../../src/sinks/http-post.ts'
import { SinkError } from '../../src/sinks/sink.ts'

// A local receiver whose answer is chosen by the request path.
const answers: Record<string, (res: ServerResponse) => void> = {
  '/ok': (res) => res.end('ok'),
  '/busy': (res) => res.writeHead(503).end('try later'),
  '/slow-client': (res) => res.writeHead(408).end(),
  '/throttled': (res) => res.writeHead(429, { 'retry-after': '7' }).end('rate_limited'),
  '/invalid': (res) => res.writeHead(400).end('invalid_blocks'),
  '/gone': (res) => res.writeHead(410).end('channel_is_archived'),
  '/moved': (res) => res.writeHead(302, { location: '/ok' }).end(),
  '/hang': () => {},
}

let server: Server
let base: string
const received: Array<{ path: string; contentType: string | undefined; body: string }> = []

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      received.push({ path: req.url!, contentType: req.headers['content-type'], body })
      answers[req.url!]!(res)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((r) => server.close(r))
})

async function failure(path: string, timeoutMs = 2_000): Promise<SinkError> {
  const err = await postJson(`${base}${path}`, '{}', {}, timeoutMs).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(SinkError)
  return err as SinkError
}

describe('postJson', () => {
  it('posts the JSON body and resolves on 2xx', async () => {
    await postJson(`${base}/ok`, '{"a":1}', { 'x-extra': '1' }, 2_000)
    expect(received.at(-1)).toEqual({ path: '/ok', contentType: 'application/json; charset=utf-8', body: '{"a":1}' })
  })

  it('retries what may pass later: 5xx, 408, 429 with its Retry-After', async () => {
    expect(await failure('/busy')).toMatchObject({ code: 'SINK_UNAVAILABLE', canRetry: true, message: 'HTTP 503: try later' })
    expect(await failure('/slow-client')).toMatchObject({ code: 'SINK_UNAVAILABLE', canRetry: true })
    expect(await failure('/throttled')).toMatchObject({ code: 'SINK_THROTTLED', canRetry: true, retryAfterMs: 7_000 })
  })

  it('does not retry a refusal or a redirect', async () => {
    expect(await failure('/invalid')).toMatchObject({ code: 'SINK_REJECTED', canRetry: false, message: 'HTTP 400: invalid_blocks' })
    expect(await failure('/gone')).toMatchObject({ code: 'SINK_REJECTED', canRetry: false })
    expect(await failure('/moved')).toMatchObject({ code: 'SINK_REJECTED', canRetry: false })
    expect(received.filter((r) => r.path === '/ok')).toHaveLength(1) // the redirect was not followed
  })

  it('retries a receiver that is not there or does not answer in time', async () => {
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const port = (closed.address() as AddressInfo).port
    await new Promise((r) => closed.close(r))
    const refused = await postJson(`http://127.0.0.1:${port}/`, '{}', {}, 2_000).catch((e: SinkError) => e)
    expect(refused).toMatchObject({ code: 'SINK_UNREACHABLE', canRetry: true })
    expect((refused as SinkError).message).toContain('ECONNREFUSED')

    const started = performance.now()
    expect(await failure('/hang', 300)).toMatchObject({ code: 'SINK_TIMEOUT', canRetry: true })
    expect(performance.now() - started).toBeLessThan(2_000)
  })
})
