import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createRoutes, type RouteDeps } from '../../src/api/routes.ts'

const FUTURE = new Date(Date.now() + 86_400_000).toISOString()

/** A valid call of each route: only the query will be wrong. */
const validCalls: Record<string, { params: string[]; body?: unknown }> = {
  'GET /api/alerts': { params: [] },
  'GET /api/alerts/:id': { params: ['a1'] },
  'POST /api/alerts/:id/verdict': { params: ['a1'], body: { verdict: 'true_positive' } },
  'POST /api/suppressions/preview': { params: [], body: { scope: 'cidr', value: '10.0.0.0/8' } },
  'POST /api/suppressions': { params: [], body: { scope: 'cidr', value: '10.0.0.0/8', reason: 'lab', expiresAt: FUTURE } },
  'GET /api/suppressions': { params: [] },
  'DELETE /api/suppressions/:id': { params: ['1'] },
}

/** Dependencies that record every use: a refused request must use none of them. */
function recordingDeps() {
  const used: string[] = []
  const recorder = (name: string) => new Proxy({}, {
    get: (_, member) => () => {
      used.push(`${name}.${String(member)}`)
      throw new Error(`${name}.${String(member)} must not be reached`)
    },
  })
  const deps = {
    alerts: recorder('alerts'), verdicts: recorder('verdicts'), suppressionStore: recorder('suppressionStore'),
    suppressions: recorder('suppressions'), feedback: recorder('feedback'), log: recorder('log'), previewDays: 7,
  } as unknown as RouteDeps
  return { deps, used }
}

function jsonRequest(body: unknown): IncomingMessage {
  const request = Readable.from(body === undefined ? [] : [Buffer.from(JSON.stringify(body))]) as unknown as IncomingMessage
  request.headers = { 'content-type': 'application/json' }
  return request
}

describe('API routes', () => {
  it('every route refuses a query parameter it does not take, before doing anything (README: refused)', async () => {
    const { deps, used } = recordingDeps()
    const routes = createRoutes(deps)
    expect(routes.map((r) => r.name).sort()).toEqual(Object.keys(validCalls).sort())
    for (const route of routes) {
      const { params, body } = validCalls[route.name]!
      const call = route.handle({ req: jsonRequest(body), url: new URL('http://api.invalid/any?dryRun=true'), params })
      await expect(call, route.name).rejects.toMatchObject({ status: 400, code: 'INVALID_REQUEST', message: 'invalid query: unknown field(s) "dryRun"' })
    }
    expect(used).toEqual([])
  })
})
