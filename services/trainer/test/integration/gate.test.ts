import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { auditTrail, deployments, getVersion, listVersions, liveVersion, setStatus } from '@vigil/models'
import { featureNames, topics, type FeatureRecord } from '@vigil/schemas'
import type { TopicReader } from '@vigil/testkit'
import type { FeatureHistory } from '../../src/adapters/feature-history.ts'
import { trainAndPublish, type TrainDeps } from '../../src/training/train-and-publish.ts'
import { featureRecord, HOUR, seeded, startTrainingRig, type TestDatabase, type TrainingRig } from './support.ts'

// The gate against the real Postgres and broker: a candidate that learned an ongoing attack as
// normal ranks the known-bad holdout events below the live version, is recorded as rejected with
// the reason, and never reaches model-control, so no scorer can run it.

const T0 = Date.UTC(2025, 11, 10, 0, 0)
const ATTACKER = '203.0.113.66'

/** Ordinary traffic: many sources, a few quiet attempts each; features vary mildly. */
function benign(i: number, at: number): FeatureRecord {
  const r = featureRecord(i, at)
  const random = seeded(i * 7 + 1)
  const v = r.vector as unknown as Record<string, number>
  for (const name of featureNames) v[name] = random() * 2
  v.auth_failures = Math.floor(random() * 3)
  v.events_in_window = 1 + Math.floor(random() * 5)
  return r
}

/** A brute force from one source: failures far above anything ordinary. */
function attack(i: number, at: number): FeatureRecord {
  const r = benign(i, at)
  r.entity = { kind: 'source.ip', id: ATTACKER }
  const v = r.vector as unknown as Record<string, number>
  v.auth_failures = 200 + (i % 50)
  v.auth_attempts = 210 + (i % 50)
  v.events_in_window = 400 + (i % 70)
  v.distinct_users = 60 + (i % 20)
  return r
}

describe('the evaluation gate', () => {
  const stack = inject('stack')
  let rig: TrainingRig
  let db: TestDatabase
  let reader: TopicReader
  let history: FeatureHistory
  let deps: TrainDeps

  beforeAll(async () => {
    rig = await startTrainingRig(stack, 'gate', { members: [{ kind: 'isolation-forest' }, { kind: 'hbos' }, { kind: 'gaussian-mixture' }], seed: 7, targetAlertRate: 0.01 })
    ;({ db, reader, history, deps } = rig)
  })
  afterAll(async () => rig?.close())

  it('publishes a first version, then rejects one trained on an attack it should flag, which never reaches model-control', async () => {
    // Day one: ordinary traffic only. The first version learns it and goes live.
    await history.write(Array.from({ length: 1500 }, (_, i) => benign(i, T0 + i * 30_000)))
    const first = await trainAndPublish(deps, 'first model')
    expect(first?.outcome).toBe('live')

    // Later: a brute force dominates the traffic and goes on into the holdout (the newest hour).
    // Sigma flagged the source, but this trainer is set to learn from everything, so the candidate
    // sees the attack as normal.
    const start = T0 + 13 * HOUR
    const later = Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? benign(10_000 + i, start + i * 12_000) : attack(10_000 + i, start + i * 12_000)))
    await history.write(later)
    await db.pool.query(
      `INSERT INTO flagged_entities (entity_kind, entity_id, flagged_from, flagged_to, reason, source) VALUES ('source.ip', $1, $2, NULL, 'sigma: ssh brute force', 'sigma')`,
      [ATTACKER, new Date(start)])
    const candidate = await trainAndPublish({ ...deps, candidate: { ...deps.candidate, excludeFlagged: false } }, 'scheduled retrain')
    expect(candidate?.outcome).toBe('rejected')

    const rejected = await getVersion(db.pool, 'm', candidate!.version)
    expect(rejected?.status).toBe('rejected')
    expect(rejected?.rejectionReason).toMatch(/ranks the \d+ flagged holdout events worse than live .*ROC-AUC/)
    expect((await liveVersion(db.pool, 'm'))?.version).toBe(first!.version)
    const phases = (await auditTrail(db.pool, 'm', candidate!.version)).map((a) => a.phase)
    expect(phases).toEqual(expect.arrayContaining(['load', 'train', 'evaluate', 'reject']))
    const published = (await reader.readAll(topics.modelControl, 1, 30_000)).map((r) => r.value.version)
    expect(published).toEqual([first!.version])
    expect(await deployments(db.pool, 'm', candidate!.version)).toEqual([])

    // The same history with the flagged source left out trains a version that passes.
    const clean = await trainAndPublish(deps, 'retrain without flagged entities')
    expect(clean?.outcome).toBe('live')
    expect((await reader.readAll(topics.modelControl, 2, 30_000)).map((r) => r.value.version)).toEqual([first!.version, clean!.version])

    // Retraining on the same history reproduces the clean version byte for byte: nothing new is
    // registered or published, and the retrain is on the clean version's audit trail.
    const registered = (await listVersions(db.pool, 'm')).length
    expect(await trainAndPublish(deps, 'scheduled retrain, no new history')).toEqual({ version: clean!.version, outcome: 'unchanged' })
    expect(await listVersions(db.pool, 'm')).toHaveLength(registered)
    const retrains = (await auditTrail(db.pool, 'm', clean!.version)).filter((a) => a.phase === 'train' && a.details.retrainedIdentical)
    expect(retrains).toHaveLength(1)
    expect(retrains[0]!.details).toMatchObject({ reason: 'scheduled retrain, no new history', rows: expect.any(Number) })

    // Nor does it undo a rollback: with the first version live again, the same retrain still finds
    // the clean version (retired now) and leaves the first live.
    await setStatus(db.pool, 'm', first!.version, 'live', { actor: 'test', phase: 'rollback' })
    expect(await trainAndPublish(deps, 'scheduled retrain after a rollback')).toEqual({ version: clean!.version, outcome: 'unchanged' })
    expect((await liveVersion(db.pool, 'm'))?.version).toBe(first!.version)
    expect(await listVersions(db.pool, 'm')).toHaveLength(registered)
    expect((await reader.readAll(topics.modelControl, 2, 30_000)).map((r) => r.value.version)).toEqual([first!.version, clean!.version])

    // With a day and more of history the next candidate learns the hour of day, which the live first
    // version, trained on half a day, left out: it is still judged against it.
    await setStatus(db.pool, 'm', clean!.version, 'live', { actor: 'test', phase: 'promote' })
    await history.write(Array.from({ length: 400 }, (_, i) => benign(20_000 + i, T0 + 24 * HOUR + i * 30_000)))
    const withHour = await trainAndPublish(deps, 'scheduled retrain, a day of history')
    expect((await getVersion(db.pool, 'm', clean!.version))!.featureNames).not.toContain('hour_of_day')
    expect((await getVersion(db.pool, 'm', withHour!.version))!.featureNames).toContain('hour_of_day')
    const evaluated = (await auditTrail(db.pool, 'm', withHour!.version)).find((a) => a.phase === 'evaluate')!.details
    expect(evaluated).toMatchObject({ live: { version: clean!.version } })
  })
})
