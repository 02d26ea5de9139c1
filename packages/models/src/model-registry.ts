import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PgPool } from '@vigil/platform'

/** Migrations of the registry tables; the trainer and the scorer both run them at start. */
export const MODEL_REGISTRY_MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations')

export type ModelStatus = 'trained' | 'published' | 'rejected'

export interface ModelVersionRow {
  model: string
  version: string
  algorithm: string
  createdAt: Date
  trainingRows: number
  windowStart: Date | null
  windowEnd: Date | null
  featureNames: string[]
  params: Record<string, unknown>
  metrics: Record<string, unknown>
  sha256: string
  status: ModelStatus
}

export type NewModelVersion = Omit<ModelVersionRow, 'createdAt'> & { artifact: Buffer }

export async function saveModelVersion(pool: PgPool, v: NewModelVersion): Promise<void> {
  await pool.query(
    `INSERT INTO model_versions (model, version, algorithm, training_rows, window_start, window_end, feature_names, params, metrics, artifact, sha256, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [v.model, v.version, v.algorithm, v.trainingRows, v.windowStart, v.windowEnd, v.featureNames, v.params, v.metrics, v.artifact, v.sha256, v.status],
  )
}

export async function setModelStatus(pool: PgPool, model: string, version: string, status: ModelStatus): Promise<void> {
  await pool.query('UPDATE model_versions SET status = $3 WHERE model = $1 AND version = $2', [model, version, status])
}

/** The artifact bytes of one version, or null when the registry has no such version. */
export async function loadModelArtifact(pool: PgPool, model: string, version: string): Promise<{ artifact: Buffer; sha256: string } | null> {
  const { rows } = await pool.query<{ artifact: Buffer; sha256: string }>(
    'SELECT artifact, sha256 FROM model_versions WHERE model = $1 AND version = $2', [model, version])
  return rows[0] ?? null
}

export async function listModelVersions(pool: PgPool, model: string): Promise<ModelVersionRow[]> {
  const { rows } = await pool.query(
    `SELECT model, version, algorithm, created_at, training_rows, window_start, window_end, feature_names, params, metrics, sha256, status
     FROM model_versions WHERE model = $1 ORDER BY created_at DESC`, [model])
  return rows.map((r) => ({
    model: r.model, version: r.version, algorithm: r.algorithm, createdAt: r.created_at, trainingRows: r.training_rows,
    windowStart: r.window_start, windowEnd: r.window_end, featureNames: r.feature_names, params: r.params, metrics: r.metrics,
    sha256: r.sha256, status: r.status,
  }))
}
