import avro from 'avsc'
import { avroSchemaText, topics, type RawLog } from '@vigil/schemas'

export interface NewerRawLogWriter {
  /** the registry's id for the newer schema: one the services have not seen */
  schemaId: number
  /** A record in the Confluent wire format under the newer schema (its extra field set). */
  encode(record: RawLog): Buffer
}

/**
 * A raw-logs writer one schema version ahead of the services, as a newer producer during a rolling
 * upgrade: the schema has one more field (with a default), registered under `subject`, so its
 * records can only be read through the registry.
 */
export async function newerRawLogWriter(registryUrl: string, subject: string): Promise<NewerRawLogWriter> {
  const schema = JSON.parse(avroSchemaText(topics.rawLogs)) as avro.Schema & { fields: unknown[] }
  schema.fields.push({ name: 'tenant', type: 'string', default: 'default' })
  const response = await fetch(`${registryUrl}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST', headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' }, body: JSON.stringify({ schema: JSON.stringify(schema) }),
  })
  if (!response.ok) throw new Error(`registering the newer raw-logs schema under ${subject}: ${response.status} ${await response.text()}`)
  const { id } = (await response.json()) as { id: number }
  const type = avro.Type.forSchema(schema)
  return {
    schemaId: id,
    encode(record) {
      const header = Buffer.alloc(5) // magic byte 0, then the schema id
      header.writeInt32BE(id, 1)
      return Buffer.concat([header, type.toBuffer({ ...record, tenant: 'blue' })])
    },
  }
}
