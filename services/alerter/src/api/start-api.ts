import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { VigilError, type Logger, type PgPool } from '@vigil/platform'
import { createAlertReader } from './alert-reader.ts'
import { createTokenCheck } from './auth.ts'
import { createFeedbackLoop, type FeedbackMetrics } from './feedback-loop.ts'
import { ApiError, sendError, sendJson } from './http.ts'
import { createRoutes, type Route } from './routes.ts'
import type { SuppressionCache } from './suppression-cache.ts'
import { createSuppressionStore } from './suppression-store.ts'
import { createVerdictStore, type PublishVerdict } from './verdict-store.ts'

export interface ApiOptions {
  port: number
  /** address to listen on, e.g. 127.0.0.1 */
  bind: string
  /** the bearer token every request must carry */
  token: string
  /** how often unpublished verdicts are retried and the ratios recomputed (ms) */
  feedbackIntervalMs: number
  /** how far back a suppression preview looks (days) */
  previewDays?: number
}

export interface ApiDeps {
  pool: PgPool
  log: Logger
  metrics: FeedbackMetrics
  publishVerdict: PublishVerdict
  /** the cache the alerting path consults; reloaded when this API saves or revokes a suppression */
  suppressions: Pick<SuppressionCache, 'refresh' | 'size'>
}

export interface RunningApi {
  port: number
  close(): Promise<void>
}

/** Failures of Postgres itself (not of a query): connection refused, pool timeout, server shutting down. */
const isDatabaseDown = (err: unknown) => {
  const code = (err as { code?: unknown }).code
  return (typeof code === 'string' && /^(08|53|57P)|^E(CONNREFUSED|CONNRESET|TIMEDOUT|HOSTUNREACH)$/.test(code))
    || /timeout exceeded when trying to connect|Connection terminated/.test((err as Error).message ?? '')
}

/**
 * The feedback API: alerts, verdicts and suppressions over HTTP, every request authenticated with
 * the bearer token, every answer JSON. Its own server (not the probes' port): it may be bound to
 * another address, and a slow client here never delays a scrape.
 */
export async function startApi(options: ApiOptions, deps: ApiDeps): Promise<RunningApi> {
  const { pool, log, metrics } = deps
  const tokenMatches = createTokenCheck(options.token)
  const verdicts = createVerdictStore(pool)
  const feedback = createFeedbackLoop({
    verdicts, publishVerdict: deps.publishVerdict, activeSuppressions: deps.suppressions.size, metrics, log, intervalMs: options.feedbackIntervalMs,
  })
  const routes = createRoutes({
    alerts: createAlertReader(pool), verdicts, suppressionStore: createSuppressionStore(pool), suppressions: deps.suppressions, feedback, log,
    previewDays: options.previewDays ?? 7,
  })

  const server = createServer((req, res) => void serve(req, res))
  server.headersTimeout = 10_000
  server.requestTimeout = 30_000

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let routeName = 'unmatched'
    let allowed: string[] = []
    try {
      const path = pathOf(req.url)
      const found = findRoute(routes, req.method ?? 'GET', path)
      allowed = found.allowed
      if (found.route) routeName = found.route.name
      if (!tokenMatches(req.headers.authorization)) {
        const message = req.headers.authorization === undefined
          ? 'authentication required: send the header Authorization: Bearer <token>'
          : 'the bearer token is not valid'
        throw new ApiError(401, 'UNAUTHENTICATED', message)
      }
      if (!found.route) {
        if (allowed.length > 0) throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}: use ${allowed.join(' or ')}`)
        throw new ApiError(404, 'NOT_FOUND', `no endpoint ${req.method} ${path}`)
      }
      const url = new URL(req.url ?? '/', 'http://api.invalid')
      const { status, body } = await found.route.handle({ req, url, params: found.params.map((p) => decodePathSegment(p, path)) })
      sendJson(res, status, body)
    } catch (err) {
      const apiError = toApiError(err, routeName, log)
      const headers: Record<string, string> = {}
      if (apiError.status === 401) headers['www-authenticate'] = 'Bearer realm="vigil"'
      if (apiError.status === 405) headers.allow = allowed.join(', ')
      if (apiError.status === 413) {
        headers.connection = 'close' // the rest of the body is not read
        res.once('finish', () => req.destroy())
      }
      if (!res.headersSent) sendError(res, apiError, headers)
    } finally {
      metrics.apiRequests.inc({ route: routeName, status: String(res.statusCode) })
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.bind, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  log.info({ bind: options.bind, port }, 'serving the feedback API')
  await feedback.runOnce().catch((err: unknown) => log.warn({ err }, 'feedback upkeep failed: will retry'))

  return {
    port,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
      })
      await feedback.close()
    },
  }
}

/** The request target's path; anything that is not an origin-form path matches no route. */
function pathOf(target: string | undefined): string {
  if (!target?.startsWith('/')) return ''
  const end = target.search(/[?#]/)
  return end < 0 ? target : target.slice(0, end)
}

function decodePathSegment(segment: string, path: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new ApiError(400, 'INVALID_REQUEST', `the path ${path} is not validly percent-encoded`)
  }
}

/** The route for `method` and `path` with its raw captured segments, else the methods the path allows. */
function findRoute(routes: Route[], method: string, path: string): { route?: Route; params: string[]; allowed: string[] } {
  const allowed: string[] = []
  for (const route of routes) {
    const match = route.path.exec(path)
    if (!match) continue
    if (route.method === method) return { route, params: match.slice(1), allowed }
    allowed.push(route.method)
  }
  return { params: [], allowed }
}

/** What the client is told about `err`; an unexpected one is logged here, once, and not described to the client. */
function toApiError(err: unknown, route: string, log: Logger): ApiError {
  if (err instanceof ApiError) return err
  if (err instanceof VigilError && err.canRetry) return new ApiError(503, err.code, err.message)
  if (isDatabaseDown(err)) {
    log.warn({ err, route }, 'database unavailable')
    return new ApiError(503, 'DATABASE_UNAVAILABLE', 'the database is unavailable: try again shortly')
  }
  log.error({ err, route }, 'request failed')
  return new ApiError(500, 'INTERNAL_ERROR', 'internal error: the alerter logged it')
}
