import type { IncomingMessage, ServerResponse } from 'node:http'
import type { z } from 'zod'
import { describeIssues } from './requests.ts'

/** A request the API refuses: its status, a code clients can branch on, and a message people can read. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: unknown) {
    super(message)
    this.name = 'ApiError'
  }
}

/** Bodies are small JSON objects; anything larger is refused before it is buffered. */
export const MAX_BODY_BYTES = 64 * 1024

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload), 'cache-control': 'no-store', ...headers })
  res.end(payload)
}

export function sendError(res: ServerResponse, err: ApiError, headers: Record<string, string> = {}): void {
  sendJson(res, err.status, { error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) } }, headers)
}

/** The request's JSON body; an empty body is `{}`, so a schema names what is missing. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type']
  if (type !== undefined && !/^application\/json\b/i.test(type)) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `the body must be JSON (content-type application/json), got ${type}`)
  }
  const declared = Number(req.headers['content-length'])
  if (declared > MAX_BODY_BYTES) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `the body must be at most ${MAX_BODY_BYTES} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `the body must be at most ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return {}
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new ApiError(400, 'INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`)
  }
}

/** `input` parsed by `schema`, or a 400 naming each field that is wrong. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(input)
  if (result.success) return result.data
  const issues = describeIssues(result.error)
  const message = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')
  throw new ApiError(400, 'INVALID_REQUEST', `invalid ${what}: ${message}`, { issues })
}

/** The query string as an object; a parameter given twice is refused rather than one of them picked. */
export function queryOf(url: URL): Record<string, string> {
  const query = new Map<string, string>()
  for (const [key, value] of url.searchParams) {
    if (query.has(key)) throw new ApiError(400, 'INVALID_REQUEST', `query parameter "${key}" is given more than once`)
    query.set(key, value)
  }
  return Object.fromEntries(query)
}
