import { setStatus, type DeploymentRole } from '@vigil/models'
import { topics } from '@vigil/schemas'
import type { PgPool, TypedProducer } from '@vigil/platform'
import { controlRecordsFor } from '../model-control.ts'

/**
 * Makes a version live (or shadow) in the registry and announces it on model-control, in one
 * registry transaction: if the broker does not take the record, the registry does not change.
 */
export async function publishVersion(
  pool: PgPool, producer: TypedProducer, model: string, version: string, role: DeploymentRole,
  audit: { actor: string; reason: string; phase: 'publish' | 'promote' | 'rollback' | 'shadow'; details?: Record<string, unknown> },
): Promise<void> {
  await setStatus(pool, model, version, role, {
    ...audit,
    announce: async (v, _replaced, from) => {
      await producer.send(topics.modelControl, controlRecordsFor(v, role, audit.reason, from))
    },
  })
}
