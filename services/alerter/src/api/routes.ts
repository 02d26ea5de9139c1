import type { IncomingMessage } from 'node:http'
import type { Logger } from '@vigil/platform'
import type { z } from 'zod'
import type { AlertReader } from './alert-reader.ts'
import type { FeedbackLoop } from './feedback-loop.ts'
import { ApiError, queryOf, readJsonBody, validate } from './http.ts'
import {
  alertIdParam, listAlertsQuery, listSuppressionsQuery, newSuppressionBody, noQuery, previewBody, suppressionIdParam, verdictBody,
} from './requests.ts'
import type { SuppressionCache } from './suppression-cache.ts'
import type { SuppressionStore } from './suppression-store.ts'
import type { VerdictStore } from './verdict-store.ts'

export interface RouteDeps {
  alerts: AlertReader
  verdicts: VerdictStore
  suppressionStore: SuppressionStore
  suppressions: Pick<SuppressionCache, 'refresh'>
  feedback: Pick<FeedbackLoop, 'publish' | 'refreshMetrics'>
  log: Logger
  /** how far back a preview looks */
  previewDays: number
}

export interface RouteRequest {
  req: IncomingMessage
  url: URL
  /** the path's captured segments, decoded */
  params: string[]
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE'
  path: RegExp
  /** the route as metrics and logs name it */
  name: string
  handle(request: RouteRequest): Promise<{ status: number; body: unknown }>
}

const ok = (body: unknown) => ({ status: 200, body })

/** Every endpoint of the API (see README.md). */
export function createRoutes(deps: RouteDeps): Route[] {
  const { alerts, verdicts, suppressionStore, suppressions, feedback, log } = deps
  // Every route names the query it takes (`noQuery` for none) and it is checked here, before the
  // handler runs: a parameter no route reads (say ?dryRun=true) is refused, never silently ignored.
  const route = <Q extends z.ZodType>(
    method: Route['method'], name: string, query: Q, handle: (request: RouteRequest & { query: z.infer<Q> }) => ReturnType<Route['handle']>,
  ): Route => ({
    method, name: `${method} ${name}`,
    path: new RegExp(`^${name.replace(/:[a-z]+/g, '([^/]+)')}$`),
    handle: async (request) => handle({ ...request, query: validate(query, queryOf(request.url), 'query') }),
  })

  return [
    route('GET', '/api/alerts', listAlertsQuery, async ({ query }) => {
      const list = await alerts.list(query)
      return ok({ alerts: list, count: list.length, limit: query.limit })
    }),

    route('GET', '/api/alerts/:id', noQuery, async ({ params }) => {
      const alertId = validate(alertIdParam, params[0], 'alert id')
      const alert = await alerts.get(alertId)
      if (!alert) throw new ApiError(404, 'ALERT_NOT_FOUND', `no alert ${alertId}`)
      return ok({ alert })
    }),

    route('POST', '/api/alerts/:id/verdict', noQuery, async ({ req, params }) => {
      const alertId = validate(alertIdParam, params[0], 'alert id')
      const body = validate(verdictBody, await readJsonBody(req), 'verdict')
      const verdict = await verdicts.record(alertId, body)
      if (!verdict) throw new ApiError(404, 'ALERT_NOT_FOUND', `no alert ${alertId}`)
      log.info({ alertId, verdict: verdict.verdict, analyst: verdict.analyst, detector: verdict.detector }, 'verdict recorded')
      const published = await feedback.publish(verdict)
      await feedback.refreshMetrics().catch((err: unknown) => log.warn({ err }, 'could not refresh the feedback metrics'))
      return ok({ verdict, published })
    }),

    route('POST', '/api/suppressions/preview', noQuery, async ({ req }) => {
      const match = validate(previewBody, await readJsonBody(req), 'suppression')
      return ok({ preview: await suppressionStore.preview(match, deps.previewDays) })
    }),

    route('POST', '/api/suppressions', noQuery, async ({ req }) => {
      const body = validate(newSuppressionBody, await readJsonBody(req), 'suppression')
      const saved = await suppressionStore.create(body)
      if (!saved) throw new ApiError(422, 'ALERT_NOT_FOUND', `alertId: no alert ${body.alertId}`)
      const { suppression, resolvedAlertIds } = saved
      log.info({ suppressionId: suppression.suppressionId, scope: suppression.scope, value: suppression.value, createdBy: suppression.createdBy,
        expiresAt: suppression.expiresAt, resolved: resolvedAlertIds.length }, 'suppression saved')
      await suppressions.refresh()
      return { status: 201, body: { suppression, resolved: resolvedAlertIds.length, resolvedAlertIds } }
    }),

    route('GET', '/api/suppressions', listSuppressionsQuery, async ({ query: { status } }) => {
      const list = await suppressionStore.list(status)
      return ok({ suppressions: list, count: list.length })
    }),

    route('DELETE', '/api/suppressions/:id', noQuery, async ({ params }) => {
      const id = validate(suppressionIdParam, params[0], 'suppression id')
      const suppression = await suppressionStore.revoke(id)
      if (!suppression) throw new ApiError(404, 'SUPPRESSION_NOT_FOUND', `no suppression ${id}`)
      log.info({ suppressionId: id }, 'suppression revoked')
      await suppressions.refresh()
      return ok({ suppression })
    }),
  ]
}
