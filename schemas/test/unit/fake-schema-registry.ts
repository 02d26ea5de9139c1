import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface FakeSchemaRegistry {
  url: string
  /** Registers a schema under a subject as another writer would; returns its id. */
  register(subject: string, schema: string): number
  close(): Promise<void>
}

/**
 * The few Confluent schema registry calls the codec's client makes (a subject's compatibility,
 * registering a version, a schema by id), in memory, so unit tests can run the Confluent wire format
 * without a registry. The same schema text gets the same id, as in a real registry.
 */
export async function fakeSchemaRegistry(): Promise<FakeSchemaRegistry> {
  const ids = new Map<string, number>()
  const schemas: string[] = []
  const register = (_subject: string, schema: string): number => {
    let id = ids.get(schema)
    if (id === undefined) {
      id = schemas.push(schema)
      ids.set(schema, id)
    }
    return id
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      const reply = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' }).end(JSON.stringify(body))
      const url = req.url ?? ''
      let m: RegExpExecArray | null
      if (req.method === 'GET' && url.startsWith('/config/')) return reply(200, { compatibilityLevel: 'BACKWARD' })
      if (req.method === 'POST' && (m = /^\/subjects\/([^/]+)\/versions$/.exec(url))) {
        const { schema } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { schema: string }
        return reply(200, { id: register(decodeURIComponent(m[1]!), schema) })
      }
      if (req.method === 'GET' && (m = /^\/schemas\/ids\/(\d+)$/.exec(url))) {
        const schema = schemas[Number(m[1]) - 1]
        return schema === undefined ? reply(404, { error_code: 40403, message: 'Schema not found' }) : reply(200, { schema })
      }
      reply(404, { error_code: 404, message: `no route ${req.method} ${url}` })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    register,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
