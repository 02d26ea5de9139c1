import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'
import { inTransaction, type PgPool } from '@vigil/platform'

/** Migrations of the registry tables; the trainer and the scorer both run them at start. */
export const MODEL_REGISTRY_MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations')

/**
 * Where a version is in its life. `trained`: registered, never run. `shadow`: scored beside the live
 * version, alerts off. `live`: what scorers alert with. `retired`: replaced. `rejected`: must not run.
 * At most one version of a model is live and one is in shadow.
 */
export type ModelStatus = 'trained' | 'shadow' | 'live' | 'rejected' | 'retired'

/** The role a scorer instance runs a version in. */
export type DeploymentRole = 'live' | 'shadow'

/** A step in a version's audit trail. */
export type AuditPhase = 'load' | 'train' | 'evaluate' | 'publish' | 'promote' | 'rollback' | 'reject' | 'shadow'

/** A pool, or a client inside a caller's transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>

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
  /** sha256 over the training rows in their deterministic order; null for versions registered before it was kept */
  trainingDataHash: string | null
  rejectionReason: string | null
  /** when it last became live */
  promotedAt: Date | null
}

export interface NewModelVersion extends Omit<ModelVersionRow, 'createdAt' | 'status' | 'trainingDataHash' | 'rejectionReason' | 'promotedAt'> {
  artifact: Buffer
  trainingDataHash?: string | null
  /**
   * The status to register it in; `trained` by default. Any other is reached through `setStatus`
   * in the same transaction. `published` is the name before 002 and means `live`.
   */
  status?: ModelStatus | 'published'
  rejectionReason?: string
  /** who registered it, for the audit trail */
  actor?: string
}

export interface AuditEntry {
  id: number
  model: string
  version: string
  phase: AuditPhase
  at: Date
  actor: string
  details: Record<string, unknown>
}

export interface Deployment {
  instanceId: string
  role: DeploymentRole
  model: string
  version: string
  acknowledgedAt: Date
  /** when the instance last renewed it (every DEPLOYMENT_RENEW_MS while it runs) */
  seenAt: Date
  /** not renewed for DEPLOYMENT_STALE_MS, by Postgres's clock (the one that wrote seenAt) */
  stale: boolean
}

/** How often a running scorer renews its deployments. */
export const DEPLOYMENT_RENEW_MS = 60_000
/**
 * A deployment not renewed for this long is stale: its instance was killed without withdrawing it
 * (or has lost Postgres). Not counted among where a version runs; shown as stale.
 */
export const DEPLOYMENT_STALE_MS = 5 * DEPLOYMENT_RENEW_MS

export type ModelRegistryErrorCode = 'MODEL_VERSION_UNKNOWN' | 'MODEL_STATUS_TRANSITION' | 'MODEL_REJECTION_REASON_MISSING'

/** A registry request that cannot be carried out as asked; retrying will not help. */
export class ModelRegistryError extends Error {
  override readonly name = 'ModelRegistryError'
  constructor(readonly code: ModelRegistryErrorCode, message: string) {
    super(message)
  }
}

/** Which statuses a version may move to from each status. A live version leaves only when another takes its place. */
const NEXT_STATUSES: Record<ModelStatus, readonly ModelStatus[]> = {
  trained: ['shadow', 'live', 'rejected'],
  shadow: ['shadow', 'live', 'rejected', 'retired'],
  live: ['live'],
  retired: ['shadow', 'live', 'rejected'],
  rejected: [],
}

/** The audit phase of a move to each status, when the caller names none. */
const DEFAULT_PHASE: Partial<Record<ModelStatus, AuditPhase>> = { live: 'promote', shadow: 'shadow', rejected: 'reject' }

export interface TransitionOptions {
  /** who asks, for the audit trail */
  actor?: string
  /** the audit phase to record; by default promote (live), shadow, or reject */
  phase?: AuditPhase
  /** why: required to reject; recorded in the audit details otherwise */
  reason?: string
  /** more for the audit details */
  details?: Record<string, unknown>
  /**
   * Runs inside the transaction after the move, with the version as it now stands and the one
   * whose role it took: the move commits only if this succeeds (e.g. the model-control record was sent).
   */
  announce?: (version: ModelVersionRow, replaced: string | null, from: ModelStatus) => Promise<void>
}

export interface Transition {
  version: ModelVersionRow
  from: ModelStatus
  /** the version that held the role (live or shadow) before and is now retired */
  replaced: string | null
}

/** Registers a version (and its `train` audit entry); with a status other than `trained` it then moves there in the same transaction. */
export async function saveModelVersion(pool: PgPool, v: NewModelVersion): Promise<void> {
  const actor = v.actor ?? 'unknown'
  await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO model_versions (model, version, algorithm, training_rows, window_start, window_end, feature_names, params, metrics, artifact, sha256, status, training_data_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'trained', $12)`,
      [v.model, v.version, v.algorithm, v.trainingRows, v.windowStart, v.windowEnd, v.featureNames, v.params, v.metrics, v.artifact, v.sha256, v.trainingDataHash ?? null],
    )
    await writeAudit(client, {
      model: v.model, version: v.version, phase: 'train', actor,
      details: { trainingRows: v.trainingRows, windowStart: v.windowStart, windowEnd: v.windowEnd, trainingDataHash: v.trainingDataHash ?? null, params: v.params, metrics: v.metrics },
    })
    const status = v.status === 'published' ? 'live' : v.status ?? 'trained'
    if (status !== 'trained') {
      await transition(client, v.model, v.version, status, {
        actor, phase: status === 'live' ? 'publish' : undefined, ...(v.rejectionReason ? { reason: v.rejectionReason } : {}),
      })
    }
  })
}

/**
 * Moves a version to `status` and writes its audit entry, in one transaction serialised per model.
 * Becoming live or shadow retires the version that held that role (with an audit entry of its own);
 * becoming live sets `promotedAt`. Fails with a ModelRegistryError for an unknown version, a move
 * the lifecycle does not allow, or a rejection without a reason.
 */
export async function setStatus(pool: PgPool, model: string, version: string, status: ModelStatus, options: TransitionOptions = {}): Promise<Transition> {
  return inTransaction(pool, (client) => transition(client, model, version, status, options))
}

async function transition(client: pg.PoolClient, model: string, version: string, to: ModelStatus, options: TransitionOptions): Promise<Transition> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`model-registry:${model}`])
  const current = await getVersion(client, model, version)
  if (!current) throw new ModelRegistryError('MODEL_VERSION_UNKNOWN', `model ${model} has no version ${version}`)
  const from = current.status
  if (!NEXT_STATUSES[from].includes(to)) {
    const why = from === 'rejected' ? ` (rejected: ${current.rejectionReason})` : from === 'live' ? ' (a live version is replaced by promoting or rolling back to another)' : ''
    throw new ModelRegistryError('MODEL_STATUS_TRANSITION', `${model}@${version} is ${from} and cannot become ${to}${why}`)
  }
  if (to === 'rejected' && !options.reason) throw new ModelRegistryError('MODEL_REJECTION_REASON_MISSING', `rejecting ${model}@${version} needs a reason`)
  const actor = options.actor ?? 'unknown'
  const phase = options.phase ?? DEFAULT_PHASE[to]

  let replaced: string | null = null
  if ((to === 'live' || to === 'shadow') && from !== to) {
    const { rows } = await client.query<{ version: string }>(
      `UPDATE model_versions SET status = 'retired' WHERE model = $1 AND status = $2 AND version <> $3 RETURNING version`, [model, to, version])
    replaced = rows[0]?.version ?? null
    if (replaced && phase) {
      await writeAudit(client, { model, version: replaced, phase, actor, details: { retired: true, replacedBy: version, role: to, ...(options.reason ? { reason: options.reason } : {}) } })
    }
  }
  const { rows } = await client.query(
    `UPDATE model_versions SET status = $3,
       promoted_at = CASE WHEN $3 = 'live' THEN now() ELSE promoted_at END,
       rejection_reason = CASE WHEN $3 = 'rejected' THEN $4 ELSE rejection_reason END
     WHERE model = $1 AND version = $2 RETURNING ${VERSION_COLUMNS}`, [model, version, to, options.reason ?? null])
  const after = toVersionRow(rows[0])
  if (phase) {
    await writeAudit(client, {
      model, version, phase, actor,
      details: { from, to, ...(replaced ? { replaced } : {}), ...(options.reason ? { reason: options.reason } : {}), ...options.details },
    })
  }
  await options.announce?.(after, replaced, from)
  return { version: after, from, replaced }
}

/** Appends one entry to a version's audit trail. */
export async function writeAudit(db: Queryable, entry: { model: string; version: string; phase: AuditPhase; actor: string; details?: Record<string, unknown> }): Promise<void> {
  await db.query('INSERT INTO model_audit (model, version, phase, actor, details) VALUES ($1, $2, $3, $4, $5)',
    [entry.model, entry.version, entry.phase, entry.actor, entry.details ?? {}])
}

/** A version's audit trail (or the whole model's, without `version`), oldest first. */
export async function auditTrail(db: Queryable, model: string, version?: string): Promise<AuditEntry[]> {
  const { rows } = await db.query(
    `SELECT id, model, version, phase, at, actor, details FROM model_audit
     WHERE model = $1 AND ($2::text IS NULL OR version = $2) ORDER BY at, id`, [model, version ?? null])
  return rows.map((r) => ({ id: Number(r.id), model: r.model, version: r.version, phase: r.phase, at: r.at, actor: r.actor, details: r.details }))
}

const VERSION_COLUMNS = `model, version, algorithm, created_at, training_rows, window_start, window_end, feature_names, params, metrics,
  sha256, status, training_data_hash, rejection_reason, promoted_at`

function toVersionRow(r: Record<string, unknown> | undefined): ModelVersionRow {
  if (!r) throw new Error('expected a model_versions row')
  return {
    model: r.model as string, version: r.version as string, algorithm: r.algorithm as string, createdAt: r.created_at as Date,
    trainingRows: r.training_rows as number, windowStart: r.window_start as Date | null, windowEnd: r.window_end as Date | null,
    featureNames: r.feature_names as string[], params: r.params as Record<string, unknown>, metrics: r.metrics as Record<string, unknown>,
    sha256: r.sha256 as string, status: r.status as ModelStatus, trainingDataHash: r.training_data_hash as string | null,
    rejectionReason: r.rejection_reason as string | null, promotedAt: r.promoted_at as Date | null,
  }
}

/** Every version of a model, newest first, without artifacts. */
export async function listVersions(db: Queryable, model: string): Promise<ModelVersionRow[]> {
  const { rows } = await db.query(`SELECT ${VERSION_COLUMNS} FROM model_versions WHERE model = $1 ORDER BY created_at DESC, version DESC`, [model])
  return rows.map(toVersionRow)
}

/** @deprecated the name before the lifecycle; use listVersions */
export const listModelVersions = listVersions

/** One version without its artifact, or null when the registry has no such version. */
export async function getVersion(db: Queryable, model: string, version: string): Promise<ModelVersionRow | null> {
  const { rows } = await db.query(`SELECT ${VERSION_COLUMNS} FROM model_versions WHERE model = $1 AND version = $2`, [model, version])
  return rows[0] ? toVersionRow(rows[0]) : null
}

/** The live version of a model, or null before the first is promoted. */
export async function liveVersion(db: Queryable, model: string): Promise<ModelVersionRow | null> {
  const { rows } = await db.query(`SELECT ${VERSION_COLUMNS} FROM model_versions WHERE model = $1 AND status = 'live'`, [model])
  return rows[0] ? toVersionRow(rows[0]) : null
}

/**
 * The newest version of a model whose artifact is exactly these bytes, in one of `statuses`, or
 * null. Training is deterministic (the same rows, settings and seed give the same bytes), so a
 * retrain that changed nothing finds the version it would duplicate.
 */
export async function versionWithArtifact(db: Queryable, model: string, sha256: string, statuses: ModelStatus[]): Promise<ModelVersionRow | null> {
  const { rows } = await db.query(
    `SELECT ${VERSION_COLUMNS} FROM model_versions WHERE model = $1 AND sha256 = $2 AND status = ANY($3)
     ORDER BY created_at DESC, version DESC LIMIT 1`, [model, sha256, statuses])
  return rows[0] ? toVersionRow(rows[0]) : null
}

/** The version in shadow, or null. */
export async function shadowVersion(db: Queryable, model: string): Promise<ModelVersionRow | null> {
  const { rows } = await db.query(`SELECT ${VERSION_COLUMNS} FROM model_versions WHERE model = $1 AND status = 'shadow'`, [model])
  return rows[0] ? toVersionRow(rows[0]) : null
}

/**
 * What a rollback returns to: the version that was live before the current one, passing over the
 * versions rolled back from. The live history is replayed from the audit trail as a stack: a version
 * that goes live is put on top (and out of where it was below); a rollback also takes the version it
 * replaced off. So A, B, C (live), rollback: B; rollback again: A, not C; again: none. Versions
 * promoted before the audit trail was kept (migration 002) go first, in promotion order. Null when no
 * version that can go live again (retired) was live before the current one.
 */
export async function previousLiveVersion(db: Queryable, model: string): Promise<ModelVersionRow | null> {
  const versions = new Map((await listVersions(db, model)).map((v) => [v.version, v]))
  const { rows: wentLive } = await db.query<{ version: string; phase: AuditPhase; replaced: string | null }>(
    `SELECT version, phase, details->>'replaced' AS replaced FROM model_audit
     WHERE model = $1 AND details->>'to' = 'live' ORDER BY at, id`, [model])
  const audited = new Set(wentLive.map((e) => e.version))
  const stack = [...versions.values()]
    .filter((v) => v.promotedAt && !audited.has(v.version))
    .sort((a, b) => a.promotedAt!.getTime() - b.promotedAt!.getTime() || a.version.localeCompare(b.version))
    .map((v) => v.version)
  const remove = (version: string) => {
    const at = stack.indexOf(version)
    if (at >= 0) stack.splice(at, 1)
  }
  for (const e of wentLive) {
    if (e.phase === 'rollback' && e.replaced) remove(e.replaced)
    remove(e.version)
    stack.push(e.version)
  }
  const current = [...versions.values()].find((v) => v.status === 'live')?.version
  for (let i = stack.length - 1; i >= 0; i--) {
    const v = versions.get(stack[i]!)
    if (v && v.version !== current && v.status === 'retired') return v
  }
  return null
}

/** The artifact bytes of one version, or null when the registry has no such version. */
export async function loadModelArtifact(db: Queryable, model: string, version: string): Promise<{ artifact: Buffer; sha256: string } | null> {
  const { rows } = await db.query<{ artifact: Buffer; sha256: string }>(
    'SELECT artifact, sha256 FROM model_versions WHERE model = $1 AND version = $2', [model, version])
  return rows[0] ?? null
}

/** Records that a scorer instance runs `version` in `role`; one row per instance and role, replaced on each acknowledgement. */
export async function acknowledgeDeployment(db: Queryable, d: Omit<Deployment, 'acknowledgedAt' | 'seenAt' | 'stale'>): Promise<void> {
  await db.query(
    `INSERT INTO model_deployments (instance_id, role, model, version) VALUES ($1, $2, $3, $4)
     ON CONFLICT (instance_id, role) DO UPDATE SET model = excluded.model, version = excluded.version, acknowledged_at = now(), seen_at = now()`,
    [d.instanceId, d.role, d.model, d.version])
}

/** A running instance says its deployments still hold (every DEPLOYMENT_RENEW_MS). */
export async function renewDeployments(db: Queryable, instanceId: string): Promise<void> {
  await db.query('UPDATE model_deployments SET seen_at = now() WHERE instance_id = $1', [instanceId])
}

/** Removes an instance's acknowledgements (a scorer that stops). */
/** An instance no longer runs `role` (or anything, without a role): it stopped, or its shadow run ended. */
export async function withdrawDeployment(db: Queryable, instanceId: string, role?: DeploymentRole): Promise<void> {
  if (role) await db.query('DELETE FROM model_deployments WHERE instance_id = $1 AND role = $2', [instanceId, role])
  else await db.query('DELETE FROM model_deployments WHERE instance_id = $1', [instanceId])
}

/** Which instances run which version of a model, newest acknowledgement first; `version` narrows to one version. */
export async function deployments(db: Queryable, model: string, version?: string): Promise<Deployment[]> {
  const { rows } = await db.query(
    `SELECT instance_id, role, model, version, acknowledged_at, seen_at, seen_at < now() - $3 * interval '1 millisecond' AS stale FROM model_deployments
     WHERE model = $1 AND ($2::text IS NULL OR version = $2) ORDER BY acknowledged_at DESC, instance_id, role`, [model, version ?? null, DEPLOYMENT_STALE_MS])
  return rows.map((r) => ({ instanceId: r.instance_id, role: r.role, model: r.model, version: r.version, acknowledgedAt: r.acknowledged_at, seenAt: r.seen_at, stale: r.stale }))
}

