import type { DeploymentRole, ModelVersionRow } from '@vigil/models'
import type { OutgoingRecord } from '@vigil/platform'
import type { ModelControl } from '@vigil/schemas'

/**
 * The model-control record that tells scorers to run `v` in `role`. The topic is compacted by key,
 * so the shadow slot has a key of its own (`<model>/shadow`): a shadow record under the model's name
 * would, once compacted, leave new scorers without the live version.
 */
export function modelControlRecord(v: Pick<ModelVersionRow, 'model' | 'version' | 'algorithm' | 'sha256' | 'featureNames'>, role: DeploymentRole, reason: string, publishedAt = Date.now()): OutgoingRecord<ModelControl> {
  return {
    key: role === 'live' ? v.model : `${v.model}/shadow`,
    value: { model: v.model, version: v.version, algorithm: v.algorithm, sha256: v.sha256, featureNames: v.featureNames, publishedAt, reason, role },
  }
}

/** The record that ends a shadow run: an empty version in the shadow slot. */
export function endShadowRecord(model: string, reason: string, publishedAt = Date.now()): OutgoingRecord<ModelControl> {
  return { key: `${model}/shadow`, value: { model, version: '', algorithm: '', sha256: '', featureNames: [], publishedAt, reason, role: 'shadow' } }
}
