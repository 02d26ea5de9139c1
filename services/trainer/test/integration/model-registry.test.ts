import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import {
  acknowledgeDeployment, auditTrail, deployments, getVersion, listVersions, liveVersion, MODEL_REGISTRY_MIGRATIONS, ModelRegistryError,
  previousLiveVersion, saveModelVersion, setStatus, shadowVersion, sha256Of, withdrawDeployment, type NewModelVersion,
} from '@vigil/models'
import { runMigrations, type PgPool } from '@vigil/platform'
import { freshDatabase, silentLog, type TestDatabase } from './support.ts'

function newVersion(version: string, extra: Partial<NewModelVersion> = {}): NewModelVersion {
  const artifact = Buffer.from(`artifact of ${version}`)
  return {
    model: 'm', version, algorithm: 'isolation-forest', trainingRows: 100, windowStart: new Date(0), windowEnd: new Date(1000),
    featureNames: ['a', 'b'], params: { trees: 10 }, metrics: { trainSeconds: 0.1 }, artifact, sha256: sha256Of(artifact),
    trainingDataHash: `hash-${version}`, actor: 'test-trainer', ...extra,
  }
}

async function registryError(work: Promise<unknown>): Promise<string> {
  const err = await work.then(() => null, (e: unknown) => e)
  expect(err).toBeInstanceOf(ModelRegistryError)
  return (err as ModelRegistryError).code
}

const statuses = async (pool: PgPool) => Object.fromEntries((await listVersions(pool, 'm')).map((v) => [v.version, v.status]))

describe('model registry', () => {
  let db: TestDatabase
  beforeEach(async () => {
    db = await freshDatabase(inject('stack').PG_URL)
  })
  afterEach(async () => {
    await db.drop()
  })

  it('moves versions through their lifecycle, one live and one shadow at a time, each step audited', async () => {
    const { pool } = db
    await saveModelVersion(pool, newVersion('v1'))
    await saveModelVersion(pool, newVersion('v2'))
    await saveModelVersion(pool, newVersion('v3'))
    expect(await statuses(pool)).toEqual({ v1: 'trained', v2: 'trained', v3: 'trained' })
    expect((await getVersion(pool, 'm', 'v1'))!.trainingDataHash).toBe('hash-v1')

    expect(await setStatus(pool, 'm', 'v1', 'live', { actor: 'op' })).toMatchObject({ from: 'trained', replaced: null, version: { status: 'live' } })
    expect((await liveVersion(pool, 'm'))!.promotedAt).toBeInstanceOf(Date)
    await setStatus(pool, 'm', 'v2', 'shadow', { actor: 'op' })
    expect((await shadowVersion(pool, 'm'))!.version).toBe('v2')

    // Promoting the shadow version: it becomes live, the live one is retired, the shadow slot empties.
    expect((await setStatus(pool, 'm', 'v2', 'live', { actor: 'op' })).replaced).toBe('v1')
    expect(await statuses(pool)).toEqual({ v1: 'retired', v2: 'live', v3: 'trained' })
    expect(await shadowVersion(pool, 'm')).toBeNull()
    expect((await previousLiveVersion(pool, 'm'))!.version).toBe('v1')

    // Rolling back brings v1 back; v2, rolled back from, is not what a second rollback returns to.
    expect((await setStatus(pool, 'm', 'v1', 'live', { actor: 'op', phase: 'rollback', reason: 'rolled back' })).replaced).toBe('v2')
    expect(await statuses(pool)).toEqual({ v1: 'live', v2: 'retired', v3: 'trained' })
    expect(await previousLiveVersion(pool, 'm')).toBeNull()

    // Refused moves change nothing.
    expect(await registryError(setStatus(pool, 'm', 'v3', 'rejected'))).toBe('MODEL_REJECTION_REASON_MISSING')
    await setStatus(pool, 'm', 'v3', 'rejected', { actor: 'evaluator', reason: 'holdout AUC 0.51 below 0.7' })
    expect((await getVersion(pool, 'm', 'v3'))!.rejectionReason).toBe('holdout AUC 0.51 below 0.7')
    expect(await registryError(setStatus(pool, 'm', 'v3', 'live'))).toBe('MODEL_STATUS_TRANSITION')
    expect(await registryError(setStatus(pool, 'm', 'v1', 'retired'))).toBe('MODEL_STATUS_TRANSITION')
    expect(await registryError(setStatus(pool, 'm', 'nope', 'live'))).toBe('MODEL_VERSION_UNKNOWN')

    // A move whose announcement fails is rolled back whole, audit entries included.
    const auditBefore = (await auditTrail(pool, 'm')).length
    await expect(setStatus(pool, 'm', 'v2', 'live', { actor: 'op', announce: async () => { throw new Error('broker down') } })).rejects.toThrow('broker down')
    expect(await statuses(pool)).toEqual({ v1: 'live', v2: 'retired', v3: 'rejected' })
    expect((await auditTrail(pool, 'm')).length).toBe(auditBefore)

    const trail = await auditTrail(pool, 'm', 'v2')
    expect(trail.map((a) => [a.phase, a.details.from ?? null, a.details.to ?? null, a.details.retired ?? false])).toEqual([
      ['train', null, null, false],
      ['shadow', 'trained', 'shadow', false],
      ['promote', 'shadow', 'live', false],
      ['rollback', null, null, true], // retired by the rollback to v1
    ])
    expect(trail[2]!.details.replaced).toBe('v1')
    expect(trail.every((a) => a.at instanceof Date && a.actor.length > 0)).toBe(true)
    expect((await auditTrail(pool, 'm', 'v3')).map((a) => [a.phase, a.actor, a.details.reason ?? null])).toEqual([
      ['train', 'test-trainer', null], ['reject', 'evaluator', 'holdout AUC 0.51 below 0.7'],
    ])
  })

  it('rolls back along the live history, passing over the versions rolled back from', async () => {
    const { pool } = db
    for (const v of ['a', 'b', 'c', 'd']) await saveModelVersion(pool, newVersion(v))
    const previous = async () => (await previousLiveVersion(pool, 'm'))?.version ?? null
    const promote = (v: string) => setStatus(pool, 'm', v, 'live', { actor: 'op' })
    const rollBack = (v: string) => setStatus(pool, 'm', v, 'live', { actor: 'op', phase: 'rollback' })
    expect(await previous()).toBeNull()
    await promote('a')
    expect(await previous()).toBeNull()
    await promote('b')
    await promote('c')
    expect(await previous()).toBe('b')
    await rollBack('b')
    expect(await previous()).toBe('a') // not c, rolled back from, whose promotion is the newest
    await rollBack('a')
    expect(await previous()).toBeNull()

    // Promoted again, b is live history again; a rollback to an older version takes the current off.
    await promote('b')
    expect(await previous()).toBe('a')
    await promote('d')
    expect(await previous()).toBe('b')
    await rollBack('c')
    expect(await previous()).toBe('b')

    // A version rejected since it was live is passed over.
    await setStatus(pool, 'm', 'b', 'rejected', { actor: 'op', reason: 'found to miss brute forces' })
    expect(await previous()).toBe('a')
  })

  it('keeps one live version when two promotions race', async () => {
    const { pool } = db
    for (const v of ['a', 'b', 'c', 'd']) await saveModelVersion(pool, newVersion(v))
    const other = db.newPool()
    await Promise.all(['a', 'b', 'c', 'd'].map((v, i) => setStatus(i % 2 ? other : pool, 'm', v, 'live', { actor: 'op' })))
    const live = (await listVersions(pool, 'm')).filter((v) => v.status === 'live')
    expect(live).toHaveLength(1)
    expect((await listVersions(pool, 'm')).filter((v) => v.status === 'retired')).toHaveLength(3)
  })

  it('registers a version published at once (the name before the lifecycle) as live, retiring the one before', async () => {
    const { pool } = db
    await saveModelVersion(pool, newVersion('v1', { status: 'published' }))
    await saveModelVersion(pool, newVersion('v2', { status: 'published' }))
    expect(await statuses(pool)).toEqual({ v1: 'retired', v2: 'live' })
    expect((await auditTrail(pool, 'm', 'v2')).map((a) => a.phase)).toEqual(['train', 'publish'])
  })

  it('keeps what each scorer instance runs, one row per instance and role', async () => {
    const { pool } = db
    await acknowledgeDeployment(pool, { instanceId: 's1', role: 'live', model: 'm', version: 'v1' })
    await acknowledgeDeployment(pool, { instanceId: 's1', role: 'shadow', model: 'm', version: 'v2' })
    await acknowledgeDeployment(pool, { instanceId: 's2', role: 'live', model: 'm', version: 'v1' })
    await acknowledgeDeployment(pool, { instanceId: 's1', role: 'live', model: 'm', version: 'v2' })
    const all = await deployments(pool, 'm')
    expect(all.map((d) => `${d.instanceId}:${d.role}:${d.version}`).sort()).toEqual(['s1:live:v2', 's1:shadow:v2', 's2:live:v1'])
    expect((await deployments(pool, 'm', 'v2')).map((d) => d.role).sort()).toEqual(['live', 'shadow'])
    await withdrawDeployment(pool, 's1')
    expect((await deployments(pool, 'm')).map((d) => d.instanceId)).toEqual(['s2'])
  })
})

describe('model registry migration', () => {
  it('makes the newest published version live and the older ones retired', async () => {
    const db = await freshDatabase(inject('stack').PG_URL, { migrate: false })
    const only001 = mkdtempSync(join(tmpdir(), 'models-001-'))
    try {
      copyFileSync(join(MODEL_REGISTRY_MIGRATIONS, '001_model_versions.sql'), join(only001, '001_model_versions.sql'))
      await runMigrations(db.pool, 'models', only001, silentLog)
      const rows: Array<[string, string, string]> = [['v1', 'published', '2026-01-01'], ['v2', 'published', '2026-01-02'], ['v3', 'rejected', '2026-01-03'], ['v4', 'trained', '2026-01-04']]
      for (const [version, status, at] of rows) {
        await db.pool.query(
          `INSERT INTO model_versions (model, version, algorithm, created_at, training_rows, feature_names, params, artifact, sha256, status)
           VALUES ('m', $1, 'isolation-forest', $2, 10, '{a}', '{}', '\\x00', 'x', $3)`, [version, at, status])
      }
      await runMigrations(db.pool, 'models', MODEL_REGISTRY_MIGRATIONS, silentLog)
      expect(await statuses(db.pool)).toEqual({ v1: 'retired', v2: 'live', v3: 'rejected', v4: 'trained' })
      expect((await getVersion(db.pool, 'm', 'v3'))!.rejectionReason).toMatch(/before reasons were recorded/)
      expect((await previousLiveVersion(db.pool, 'm'))!.version).toBe('v1')
    } finally {
      rmSync(only001, { recursive: true, force: true })
      await db.drop()
    }
  })
})
