import { describe, expect, it } from 'vitest'
import type { FeatureRow, ScoreOptions, TopFeature } from '@vigil/models'
import { createLogger, createMetrics } from '@vigil/platform'
import { createRunningModels, type ModelPair } from '../../../src/adapters/running-models.ts'
import { handleFeatures } from '../../../src/handle-features.ts'
import { endShadow, fakeModel, featureBatch, live, memoryProducer, memoryRegistry, shadow, type FakeModel } from './running-models-fakes.ts'

const log = createLogger('scorer', 'silent', 'test')

function scorer() {
  const fakes = memoryRegistry()
  const metrics = createMetrics('scorer')
  const models = createRunningModels(fakes.registry, { modelName: 'default' }, log, metrics)
  const out = memoryProducer()
  /** One features batch through the handler, as the Kafka layer runs it. */
  const batch = (first: number, n: number) => models.withCurrent((pair) => handleFeatures(featureBatch(first, n), pair, out.producer, { explain: 'none' }))
  const roles = async () => (await metrics.modelVersion.get()).values.map((v) => `${v.labels.role}=${v.labels.version}`).sort()
  const versions = (pair: ModelPair | null) => ({ live: pair?.live.version, shadow: pair?.shadow?.version ?? null })
  return { ...fakes, models, out, batch, roles, versions }
}

describe('explanations', () => {
  it('come from the alerter\'s threshold for the live version\'s scores, and from its own for a shadow\'s, which never alert', async () => {
    const s = scorer()
    await s.models.apply(live('A'))
    await s.models.apply(shadow('S'))
    const pair = s.models.current()!
    await handleFeatures(featureBatch(0, 2), pair, s.out.producer, { explain: 'alerts', alertThreshold: 0.5 })
    expect((pair.live as FakeModel).scoreOptions).toEqual([{ explain: 'alerts', alertThreshold: 0.5 }])
    expect((pair.shadow as FakeModel).scoreOptions).toEqual([{ explain: 'alerts', alertThreshold: undefined }])
  })
})

describe('explanations on the score', () => {
  it('carry the nearest training rows\' range or the outer tenth\'s bound for a feature named against them, and neither for one named against training', async () => {
    const model = fakeModel('A')
    const top: TopFeature[] = [
      { feature: 'auth_failures', index: 0, value: 40, p50: 60, p99: 1500, share: 0.7, nearest: { low: 52, high: 60 }, text: 'auth_failures 40, nearest rows of the training sample 52 to 60' },
      { feature: 'auth_failures', index: 0, value: 2000, p50: 60, p99: 1500, share: 0.3, text: 'auth_failures 2000, training p99 1500' },
      { feature: 'bytes', index: 1, value: 364, p50: 48, p99: 404, share: 0.2, outerTenth: 60, text: 'bytes 364, above 90% of training rows (p90 60)' },
    ]
    const scoreAll = model.ensemble.score
    Object.assign(model.ensemble, { score: async (rows: FeatureRow[], options?: ScoreOptions) => ({ ...await scoreAll(rows, options), topFeatures: rows.map(() => top) }) })
    const out = memoryProducer()
    await handleFeatures(featureBatch(0, 1), { live: model, shadow: null }, out.producer, { explain: 'all' })
    expect(out.sent.get('scores')![0]!.explanations).toEqual([
      { feature: 'auth_failures', value: 40, baselineP50: 60, baselineP99: 1500, contribution: 0.7, nearestLow: 52, nearestHigh: 60, text: 'auth_failures 40, nearest rows of the training sample 52 to 60' },
      { feature: 'auth_failures', value: 2000, baselineP50: 60, baselineP99: 1500, contribution: 0.3, text: 'auth_failures 2000, training p99 1500' },
      { feature: 'bytes', value: 364, baselineP50: 48, baselineP99: 404, contribution: 0.2, outerTenth: 60, text: 'bytes 364, above 90% of training rows (p90 60)' },
    ])
  })
})

describe('running models: a live record for the shadow version', () => {
  it('ends the shadow run, keeping the one loaded instance as live (the CLI promote sends no end-shadow record)', async () => {
    const s = scorer()
    await s.models.apply(live('A'))
    await s.models.apply(shadow('S'))
    const shadowS = s.models.current()!.shadow
    await s.models.apply(live('S'))
    expect(s.versions(s.models.current())).toEqual({ live: 'S', shadow: null })
    expect(s.models.current()!.live).toBe(shadowS) // not loaded twice
    expect(s.instancesOf('S')).toHaveLength(1)
    expect(await s.roles()).toEqual(['live=S'])
    expect(Object.fromEntries(s.deployments)).toEqual({ live: 'S' })

    await s.batch(0, 3)
    expect(s.out.scored('scores')).toEqual(['raw-logs/0/0@S', 'raw-logs/0/1@S', 'raw-logs/0/2@S'])
    expect(s.out.sent.get('scores')!.map((score) => score.model)).toEqual(['default', 'default', 'default']) // the alerter names its alerts after it
    expect(s.out.scored('scores-shadow')).toEqual([])
    expect(s.instancesOf('A')[0]!.closes).toBe(1)
    expect(s.instancesOf('S')[0]!.closes).toBe(0)
  })

  it('does not bring the promoted version back as a shadow when a later version goes live', async () => {
    const s = scorer()
    await s.models.apply(live('A'))
    await s.models.apply(shadow('S'))
    await s.models.apply(live('S'))
    await s.models.apply(live('T'))
    expect(s.versions(s.models.current())).toEqual({ live: 'T', shadow: null })
    expect(await s.roles()).toEqual(['live=T'])

    await s.batch(0, 2)
    expect(s.out.scored('scores')).toEqual(['raw-logs/0/0@T', 'raw-logs/0/1@T'])
    expect(s.out.scored('scores-shadow')).toEqual([])
    expect(s.loaded.map((m) => [m.version, m.closes])).toEqual([['A', 1], ['S', 1], ['T', 0]])
  })

  it('treats an end-shadow record after the promotion (the trainer sends one) as nothing more to do', async () => {
    const s = scorer()
    await s.models.apply(live('A'))
    await s.models.apply(shadow('S'))
    await s.models.apply(live('S'))
    await s.models.apply(endShadow())
    expect(s.versions(s.models.current())).toEqual({ live: 'S', shadow: null })
    expect(s.instancesOf('S')[0]!.closes).toBe(0)
  })

  it('starts from the shadow version alone when a replay of model-control names it shadow and then live', async () => {
    const s = scorer()
    await s.models.apply(shadow('S'))
    await s.models.apply(live('S'))
    expect(s.versions(await s.models.firstLoaded())).toEqual({ live: 'S', shadow: null })
    expect(s.loaded.map((m) => m.version)).toEqual(['S'])
  })

  it('still runs a shadow version beside a live one that is another version', async () => {
    const s = scorer()
    await s.models.apply(live('A'))
    await s.models.apply(shadow('S'))
    await s.models.apply(live('B'))
    expect(s.versions(s.models.current())).toEqual({ live: 'B', shadow: 'S' })
    await s.batch(0, 1)
    expect(s.out.scored('scores')).toEqual(['raw-logs/0/0@B'])
    expect(s.out.scored('scores-shadow')).toEqual(['raw-logs/0/0@S'])
  })
})

describe('running models: closing a version swapped out', () => {
  it('keeps the old live version open until the batch that started with it ends, through a shadow promotion', async () => {
    const s = scorer()
    await s.models.apply(live('A'))
    await s.models.apply(shadow('S'))
    const [a, sv] = [s.instancesOf('A')[0]!, s.instancesOf('S')[0]!]
    const release = a.hold()
    const running = s.batch(0, 3) // takes the pair {A, S}
    await a.waiting()

    // The shadow review promotes S: live S, then the end of the shadow run, back to back.
    await s.models.apply(live('S')) // the swap does not wait for the batch
    await s.models.apply(endShadow())
    const closedDuringBatch = a.closes

    release()
    await expect(running).resolves.toBeUndefined() // not 'Session already disposed'
    expect(closedDuringBatch).toBe(0)
    expect(a.closes).toBe(1)
    expect(sv.closes).toBe(0)
    expect(s.out.scored('scores')).toEqual(['raw-logs/0/0@A', 'raw-logs/0/1@A', 'raw-logs/0/2@A'])
    expect(s.out.scored('scores-shadow')).toEqual(['raw-logs/0/0@S', 'raw-logs/0/1@S', 'raw-logs/0/2@S'])

    // The next batch runs on the promoted version alone.
    await s.batch(3, 2)
    expect(s.out.scored('scores').slice(3)).toEqual(['raw-logs/0/3@S', 'raw-logs/0/4@S'])
    expect(s.out.scored('scores-shadow')).toHaveLength(3)
  })

  it('keeps a shadow version open after its run ends until the batch using it ends', async () => {
    const s = scorer()
    await s.models.apply(live('A'))
    await s.models.apply(shadow('S'))
    const sv = s.instancesOf('S')[0]!
    const release = sv.hold()
    const running = s.batch(0, 2)
    await sv.waiting()
    await s.models.apply(endShadow())
    await s.models.apply(live('B'))
    const closedDuringBatch = sv.closes
    release()
    await expect(running).resolves.toBeUndefined()
    expect(closedDuringBatch).toBe(0)
    expect(sv.closes).toBe(1)
    expect(s.out.scored('scores-shadow')).toEqual(['raw-logs/0/0@S', 'raw-logs/0/1@S'])
  })

  it('closes a version only when the last of the batches (one per partition) that hold it ends', async () => {
    const s = scorer()
    await s.models.apply(live('A'))
    const a = s.instancesOf('A')[0]!
    const release = a.hold()
    const first = s.batch(0, 1)
    const second = s.batch(1, 1)
    await a.waiting()
    await s.models.apply(live('B'))
    const third = s.batch(2, 1) // started after the swap: B
    await third
    expect(a.closes).toBe(0)
    release()
    await Promise.all([first, second])
    expect(a.closes).toBe(1)
    expect(s.out.scored('scores').sort()).toEqual(['raw-logs/0/0@A', 'raw-logs/0/1@A', 'raw-logs/0/2@B'])
  })

  it('closes a version no batch holds at the swap, and releases a batch that fails too', async () => {
    const s = scorer()
    await s.models.apply(live('A'))
    await s.models.apply(live('B'))
    expect(s.instancesOf('A')[0]!.closes).toBe(1)

    const b = s.instancesOf('B')[0]!
    const failing = s.models.withCurrent(async () => {
      throw new Error('a poison message')
    })
    await expect(failing).rejects.toThrow('a poison message')
    await s.models.apply(live('C'))
    expect(b.closes).toBe(1)
  })

  it('closes every loaded version at shutdown', async () => {
    const s = scorer()
    await s.models.apply(live('A'))
    await s.models.apply(shadow('S'))
    await s.models.close()
    expect(s.loaded.map((m) => [m.version, m.closes])).toEqual([['A', 1], ['S', 1]])
    expect(s.deployments.size).toBe(0)
  })
})

describe('running models: the registry told what runs here', () => {
  it('tells the registry again when the record is applied again after its write failed', async () => {
    const s = scorer()
    const acknowledge = s.registry.acknowledge
    let failing = true
    s.registry.acknowledge = async (role, version, reason) => {
      if (failing) throw new Error('postgres is away')
      return acknowledge(role, version, reason)
    }
    await expect(s.models.apply(live('A'))).rejects.toThrow('postgres is away')
    expect(s.versions(s.models.current())).toEqual({ live: 'A', shadow: null }) // swapped in all the same
    failing = false
    await s.models.apply(live('A')) // the Kafka layer's retry of the same record
    expect(Object.fromEntries(s.deployments)).toEqual({ live: 'A' })
    expect(s.instancesOf('A')).toHaveLength(1)

    failing = true
    await expect(s.models.apply(shadow('S'))).rejects.toThrow('postgres is away')
    failing = false
    await s.models.apply(shadow('S'))
    expect(Object.fromEntries(s.deployments)).toEqual({ live: 'A', shadow: 'S' })
  })
})

