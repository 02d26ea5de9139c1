import type { DeploymentRole, ModelStatus, ModelVersionRow } from '@vigil/models'
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

/**
 * The records that announce `v` in `role`, coming from status `from`: a version made live from
 * shadow also empties the shadow slot. Scorers reading the whole topic see the live record take the
 * shadow version over anyway, but compaction keeps only each key's last record: the old shadow record
 * would outlive the live records after it, and a scorer started later would run a retired version in shadow.
 */
export function controlRecordsFor(v: Pick<ModelVersionRow, 'model' | 'version' | 'algorithm' | 'sha256' | 'featureNames'>, role: DeploymentRole, reason: string, from: ModelStatus): Array<OutgoingRecord<ModelControl>> {
  const announced = modelControlRecord(v, role, reason)
  return role === 'live' && from === 'shadow' ? [announced, endShadowRecord(v.model, `${v.version} ${reason}`)] : [announced]
}

/** The record that ends a shadow run: an empty version in the shadow slot. */
export function endShadowRecord(model: string, reason: string, publishedAt = Date.now()): OutgoingRecord<ModelControl> {
  return { key: `${model}/shadow`, value: { model, version: '', algorithm: '', sha256: '', featureNames: [], publishedAt, reason, role: 'shadow' } }
}
