import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { auditTrail, decodeEnsembleArtifact, listVersions, liveVersion, loadModelArtifact } from '@vigil/models'
import { featureNames, topics, type FeatureRecord } from '@vigil/schemas'
import type { TopicReader } from '@vigil/testkit'
import type { FeatureHistory } from '../../src/adapters/feature-history.ts'
import { evaluateCandidate } from '../../src/training/evaluate-candidate.ts'
import { trainAndPublish, type TrainDeps } from '../../src/training/train-and-publish.ts'
import { ensureSklearnModels } from '../../../../test/fixtures/onnx/sklearn-models.ts'
import { loadConfig } from '../../src/config.ts'
import { ensembleSettings } from '../../src/training/ensemble-settings.ts'
import { trainCandidate } from '../../src/training/train-candidate.ts'
import { featureRecord, seeded, silentLog, startTrainingRig, type TestDatabase, type TrainingRig } from './support.ts'

// A training window too short to train on: a first deployment trains on all history without a
// holdout; once a version is live, a retrain is skipped rather than published ungated.

const T0 = Date.UTC(2025, 11, 10, 0, 0)

function ordinary(i: number): FeatureRecord {
  const r = featureRecord(i, T0 + i * 30_000) // one every 30 s
  const random = seeded(i * 7 + 1)
  const v = r.vector as unknown as Record<string, number>
  for (const name of featureNames) v[name] = random() * 2
  return r
}

describe('a short training window', () => {
  const stack = inject('stack')
  let rig: TrainingRig
  let db: TestDatabase
  let reader: TopicReader
  let history: FeatureHistory
  let deps: TrainDeps

  beforeAll(async () => {
    rig = await startTrainingRig(stack, 'short-window', { members: [{ kind: 'isolation-forest' }, { kind: 'hbos' }], seed: 7, targetAlertRate: 0.01 })
    ;({ db, reader, history, deps } = rig)
  })
  afterAll(async () => rig?.close())

  it('trains a first version on all history, then skips a retrain that could not be judged against it', async () => {
    // 75 minutes of history: 29 rows before the holdout hour, fewer than the 100 a candidate needs.
    await history.write(Array.from({ length: 150 }, (_, i) => ordinary(i)))
    const first = await trainAndPublish(deps, 'first model')
    expect(first?.outcome).toBe('live')
    expect((await auditTrail(db.pool, 'm', first!.version)).find((a) => a.phase === 'evaluate')!.details).toMatchObject({ accepted: true, holdoutRows: 0 })
    // the publish row says why the version was trained, beside the gate's verdict
    expect((await auditTrail(db.pool, 'm', first!.version)).find((a) => a.phase === 'publish')!.details).toMatchObject({ reason: 'first model', accepted: true, to: 'live' })
    // 75 minutes of one day teach no hour, weekday or business hours: the version leaves them out, and says so.
    const clock = ['hour_of_day', 'day_of_week', 'is_weekend', 'is_business_hours']
    const firstVersion = (await listVersions(db.pool, 'm'))[0]!
    expect(firstVersion.featureNames).toEqual(featureNames.filter((n) => !clock.includes(n)))
    expect(firstVersion.params.clockFeaturesLeftOut).toEqual(clock)
    expect(decodeEnsembleArtifact((await loadModelArtifact(db.pool, 'm', first!.version))!.artifact).featureNames).toEqual(firstVersion.featureNames)

    // Half an hour more: 89 rows before the holdout, still too few. Nothing is trained or published;
    // the skip and its reason are on the live version's audit trail.
    await history.write(Array.from({ length: 60 }, (_, i) => ordinary(150 + i)))
    expect(await trainAndPublish(deps, 'scheduled retrain')).toEqual({ version: first!.version, outcome: 'skipped' })
    expect(await listVersions(db.pool, 'm')).toHaveLength(1)
    expect((await liveVersion(db.pool, 'm'))!.version).toBe(first!.version)
    const skipped = (await auditTrail(db.pool, 'm', first!.version)).filter((a) => a.details.skipped)
    expect(skipped).toHaveLength(1)
    expect(skipped[0]).toMatchObject({ phase: 'train', details: { reason: 'scheduled retrain', rows: 89, minRows: 100 } })
    expect(skipped[0]!.details.skipReason).toMatch(new RegExp(`holds 89 rows, fewer than the 100 a candidate needs, .*judged against live ${first!.version}`))
    expect((await reader.readAll(topics.modelControl, 1, 30_000)).map((r) => r.value.version)).toEqual([first!.version])
  })

  it('does not pass a candidate without a holdout once a version is live', async () => {
    const live = (await liveVersion(db.pool, 'm'))!
    const stored = (await loadModelArtifact(db.pool, 'm', live.version))!
    const set = await history.trainingSet(20_000)
    const candidate = { version: 'no-holdout', artifact: decodeEnsembleArtifact(stored.artifact), sha256: stored.sha256, set, holdout: null }
    const verdict = await evaluateCandidate(db.pool, history, candidate, deps.gate)
    expect(verdict).toMatchObject({ accepted: false, reason: `has no holdout to be judged on against live ${live.version}` })
  })
})

describe('a user\'s ONNX member on a short history', () => {
  const stack = inject('stack')
  let rig: TrainingRig | undefined
  afterAll(async () => rig?.close())

  it('keeps the features the member reads, clock features included, and points its columns at them', async () => {
    const sklearn = ensureSklearnModels()
    const file = join(mkdtempSync(join(tmpdir(), 'onnx-members-')), 'members.json')
    writeFileSync(file, JSON.stringify([{ name: 'sklearn-if', file: sklearn.isolationForestFile, inputFeatures: sklearn.features, direction: 'lower-is-anomalous' }]))
    // as the trainer's main does: the settings over the history's features, all of them
    const settings = ensembleSettings(loadConfig({ KAFKA_BROKERS: 'unused:9092', PG_URL: 'postgres://unused', TRAIN_MEMBERS: 'hbos:1', ONNX_MEMBERS_FILE: file }), featureNames)
    rig = await startTrainingRig(stack, 'onnx-member', settings)
    await rig.history.write(Array.from({ length: 150 }, (_, i) => ordinary(i))) // 75 minutes: no clock cycle spanned
    const candidate = await trainCandidate(rig.db.pool, rig.history, rig.deps.candidate, 'first model', silentLog)
    const artifact = (candidate as { artifact: { featureNames: string[]; members: Array<{ kind: string; params: unknown }> } }).artifact
    const member = artifact.members.find((m) => m.kind === 'onnx')!.params as { columns: number[]; inputFeatures: string[] }
    expect(member.columns.map((c) => artifact.featureNames[c])).toEqual(sklearn.features)
    const clock = ['hour_of_day', 'day_of_week', 'is_weekend', 'is_business_hours']
    expect(artifact.featureNames).toEqual(featureNames.filter((n) => !clock.includes(n) || sklearn.features.includes(n)))
  }, 180_000)
})
