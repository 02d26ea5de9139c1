import { z } from 'zod'
import { normalizeMatch, suppressionScopes } from './suppression-match.ts'

// What each endpoint accepts. Unknown fields and query parameters are refused, so a typo is an
// error rather than a filter silently ignored.

export const verdicts = ['true_positive', 'false_positive'] as const
export type VerdictKind = (typeof verdicts)[number]

const text = (max: number) => z.string().trim().min(1).max(max)

/** An instant: ISO 8601 with a zone (2026-06-01T12:00:00Z) or epoch milliseconds. */
const instant = z.union([
  z.string().regex(/^\d{1,15}$/).transform((s) => new Date(Number(s))),
  z.iso.datetime({ offset: true }).transform((s) => new Date(s)),
], { error: 'must be an ISO 8601 date-time with a zone (2026-06-01T12:00:00Z) or epoch milliseconds' })

/** An alert or suppression id in a path. */
export const alertIdParam = z.string().regex(/^[A-Za-z0-9._:-]{1,200}$/, 'is not an alert id')
export const suppressionIdParam = z.string().regex(/^[1-9]\d{0,17}$/, 'is not a suppression id').transform(Number)

export const listAlertsQuery = z.strictObject({
  entity: text(512).optional(), // entity id, exact
  entityKind: text(100).optional(),
  detector: text(200).optional(),
  user: text(512).optional(), // a user the alert's entity is, or one of its events names (as the user suppression scope)
  severity: z.enum(['low', 'medium', 'high', 'critical']).optional(),
  status: z.enum(['open', 'resolved']).optional(),
  verdict: z.enum([...verdicts, 'none']).optional(),
  since: instant.optional(), // last seen at or after (event time)
  until: instant.optional(), // last seen before (event time)
  limit: z.string().regex(/^\d{1,4}$/, 'must be a whole number').transform(Number)
    .pipe(z.number().min(1).max(1000, 'must be at most 1000')).default(100),
})
export type ListAlertsQuery = z.infer<typeof listAlertsQuery>

export const noQuery = z.strictObject({})

export const listSuppressionsQuery = z.strictObject({
  status: z.enum(['active', 'expired', 'revoked', 'all']).default('active'),
})

export const verdictBody = z.strictObject({
  verdict: z.enum(verdicts),
  note: text(2000).optional(),
  analyst: text(200).optional(),
})
export type VerdictBody = z.infer<typeof verdictBody>

const matchShape = {
  scope: z.enum(suppressionScopes),
  value: z.string().max(512),
  entityKind: text(100).optional(),
}

type MatchInput = { scope: (typeof suppressionScopes)[number]; value: string; entityKind?: string | undefined }

/**
 * `normalizeMatch`'s complaints as issues on the field they are about. It runs when scope, value
 * and entityKind are well formed, even if other fields are not, so one answer names every problem.
 */
const validMatch = z.superRefine((m: MatchInput, ctx) => {
  try {
    normalizeMatch(m)
  } catch (err) {
    const message = (err as Error).message
    ctx.addIssue({ code: 'custom', path: [message.startsWith('entityKind') ? 'entityKind' : 'value'], message })
  }
}, { when: (payload) => payload.issues.every((i) => !['scope', 'value', 'entityKind'].includes(String(i.path?.[0]))) })

const suppressionFields = {
  reason: text(1000),
  expiresAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with a zone, e.g. 2026-06-01T12:00:00Z' }).transform((s) => new Date(s))
    .refine((d) => d.getTime() > Date.now(), 'must be in the future'),
  alertId: alertIdParam.optional(), // the alert that prompted it
  createdBy: text(200).optional(),
}

export const newSuppressionBody = z.strictObject({ ...matchShape, ...suppressionFields }).check(validMatch).transform((m) => normalizeMatch(m))
export type NewSuppression = z.infer<typeof newSuppressionBody>

/** A preview takes what a save takes (a form can send the same body to both); only the match counts. */
export const previewBody = z.strictObject({
  ...matchShape,
  reason: suppressionFields.reason.optional(),
  expiresAt: suppressionFields.expiresAt.optional(),
  alertId: suppressionFields.alertId,
  createdBy: suppressionFields.createdBy,
}).check(validMatch).transform((m) => normalizeMatch(m))

/** One line per problem: `field: what is wrong`. */
export function describeIssues(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.map((issue) => {
    const path = issue.path.join('.')
    const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message
    return { path, message }
  })
}
