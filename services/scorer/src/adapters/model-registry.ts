import {
  acknowledgeDeployment, decodeEnsembleArtifact, ensembleRegistry, loadEnsemble, loadModelArtifact, memberNames, renewDeployments, sha256Of, withdrawDeployment, writeAudit,
  type DeploymentRole, type ForestRuntime,
} from '@vigil/models'
import { PoisonMessageError, TransientError, type PgPool } from '@vigil/platform'
import { featureNames, type ModelControl } from '@vigil/schemas'
import type { RunningModel } from './running-models.ts'

/** What the scorer reads from and writes to the Postgres model registry. */
export interface ModelRegistry {
  /** Loads the version a model-control record names, once its artifact's sha256 matches the record's. */
  load(control: ModelControl): Promise<RunningModel>
  /** Records that this instance now runs `version` in `role`, with an audit entry. */
  acknowledge(role: DeploymentRole, version: string, reason: string): Promise<void>
  /** Records that this instance no longer runs `role`, or anything without a role. */
  withdraw(role?: DeploymentRole): Promise<void>
  /** Says this instance still runs what it acknowledged: one that stops renewing (killed) shows as stale. */
  renew(): Promise<void>
}

export interface ModelRegistryOptions {
  modelName: string
  instanceId: string
  runtime: ForestRuntime
}

export function createModelRegistry(pool: PgPool, options: ModelRegistryOptions): ModelRegistry {
  const { modelName, instanceId, runtime } = options
  const known = new Set<string>(featureNames)
  return {
    async load(control) {
      let stored
      try {
        stored = await loadModelArtifact(pool, control.model, control.version)
      } catch (cause) {
        throw new TransientError('MODEL_REGISTRY_UNAVAILABLE', `could not read model ${control.version}: ${(cause as Error).message}`, { cause })
      }
      if (!stored) throw new PoisonMessageError('MODEL_VERSION_UNKNOWN', `model-control names ${control.model}@${control.version}, which the registry does not have`)
      const actual = sha256Of(stored.artifact)
      if (actual !== control.sha256) {
        throw new PoisonMessageError('MODEL_CHECKSUM_MISMATCH', `artifact of ${control.version} has sha256 ${actual}, model-control says ${control.sha256}`)
      }
      let artifact
      try {
        artifact = decodeEnsembleArtifact(stored.artifact)
      } catch (cause) {
        throw new PoisonMessageError('MODEL_ARTIFACT_UNSUPPORTED', `artifact of ${control.version} cannot be loaded: ${(cause as Error).message}`, { cause })
      }
      // A feature this scorer's features schema does not have would be read as 0 in every row: a
      // version trained on a newer schema (rolled back to, or ahead of a rolling upgrade) is refused.
      const unknown = artifact.featureNames.filter((name) => !known.has(name))
      if (unknown.length > 0) {
        throw new PoisonMessageError('MODEL_FEATURES_UNKNOWN', `${control.version} takes features this scorer's features schema does not have: ${unknown.join(', ')}`)
      }
      const ensemble = await loadEnsemble(artifact, ensembleRegistry(runtime))
      return { model: control.model, version: control.version, ensemble, memberNames: memberNames(artifact) }
    },
    async acknowledge(role, version, reason) {
      await acknowledgeDeployment(pool, { instanceId, model: modelName, version, role })
      await writeAudit(pool, { model: modelName, version, phase: 'load', actor: `scorer:${instanceId}`, details: { role, reason, runtime } })
    },
    async withdraw(role) {
      await withdrawDeployment(pool, instanceId, role)
    },
    renew: () => renewDeployments(pool, instanceId),
  }
}
