import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { acknowledgeDeployment, auditTrail, listVersions, renewDeployments, saveModelVersion, sha256Of } from '@vigil/models'
import type { KafkaRuntime } from '@vigil/platform'
import { topics } from '@vigil/schemas'
import { createTopicReader, REPO_ROOT, uniquePrefix, type TopicReader } from '@vigil/testkit'
import { createTrainingRequests, serveTrainingRequest } from '../../src/adapters/training-requests.ts'
import { CliError } from '../../src/cli/cli-error.ts'
import {
  listCommand, promoteCommand, retrainCommand, rollbackCommand, shadowCommand, showCommand, type CommandDeps,
} from '../../src/cli/models-commands.ts'
import { freshDatabase, trainerKafka, type TestDatabase } from './support.ts'

const run = promisify(execFile)

describe('models CLI', () => {
  const stack = inject('stack')
  const prefix = uniquePrefix('models-cli')
  let db: TestDatabase
  let kafka: KafkaRuntime
  let reader: TopicReader
  let printed: string[] = []
  let deps: CommandDeps

  beforeAll(async () => {
    db = await freshDatabase(stack.PG_URL)
    kafka = await trainerKafka(stack, prefix)
    reader = await createTopicReader(stack.KAFKA_BROKERS, prefix, stack.SCHEMA_REGISTRY_URL)
    const producer = await kafka.producer()
    deps = {
      pool: db.pool, requests: createTrainingRequests(db.pool), model: 'm', actor: 'cli:test', pollMs: 50,
      print: (line) => printed.push(...line.split('\n')),
      modelControl: async () => (records) => producer.send(topics.modelControl, records),
    }
    for (const version of ['v1', 'v2', 'v3']) {
      const artifact = Buffer.from(`artifact ${version}`)
      await saveModelVersion(db.pool, {
        model: 'm', version, algorithm: 'isolation-forest', trainingRows: 50, windowStart: null, windowEnd: null, featureNames: ['a', 'b'],
        params: { trees: 7 }, metrics: { trainSeconds: 0.2 }, artifact, sha256: sha256Of(artifact), trainingDataHash: `data-${version}`, actor: 'trainer-1',
      })
    }
  })
  afterAll(async () => {
    await reader?.close()
    await kafka?.closeProducer()
    await db?.drop()
  })

  it('promotes and rolls back on model-control against the broker, retiring the live version and auditing each step', async () => {
    await promoteCommand(deps, 'v1')
    await promoteCommand(deps, 'v2')
    await rollbackCommand(deps) // to the version live before: v1
    await promoteCommand(deps, 'v3')
    expect(printed).toEqual([
      'm@v1 is live (model-control: promoted)',
      'm@v2 is live; v1 retired (model-control: promoted)',
      'm@v1 is live; v2 retired (model-control: rolled back)',
      'm@v3 is live; v1 retired (model-control: promoted)',
    ])

    const records = await reader.readAll(topics.modelControl, 4, 30_000)
    expect(records.map((r) => [r.key, r.value.version, r.value.reason])).toEqual([
      ['m', 'v1', 'promoted'], ['m', 'v2', 'promoted'], ['m', 'v1', 'rolled back'], ['m', 'v3', 'promoted'],
    ])
    expect(records[3]!.value).toMatchObject({ model: 'm', algorithm: 'isolation-forest', sha256: sha256Of(Buffer.from('artifact v3')), featureNames: ['a', 'b'] })

    expect(Object.fromEntries((await listVersions(db.pool, 'm')).map((v) => [v.version, v.status]))).toEqual({ v1: 'retired', v2: 'retired', v3: 'live' })
    expect((await auditTrail(db.pool, 'm', 'v1')).map((a) => [a.phase, a.actor, a.details.retired ?? false])).toEqual([
      ['train', 'trainer-1', false], ['promote', 'cli:test', false], ['promote', 'cli:test', true], ['rollback', 'cli:test', false], ['promote', 'cli:test', true],
    ])

    printed = []
    await showCommand(deps, 'v1')
    const shown = printed.join('\n')
    expect(shown).toMatch(/^status\s+retired$/m)
    expect(shown).toMatch(/^training data\s+sha256 data-v1$/m)
    expect(shown).toContain('{"trees":7}')
    expect(printed.filter((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+(train|promote|rollback)\s/.test(l))).toHaveLength(5)
    expect(shown).toMatch(/deployed\non no scorer instance/)

    printed = []
    await listCommand(deps)
    expect(printed[0]).toMatch(/^VERSION\s+STATUS\s+CREATED\s+ROWS\s+DATA\s+LIVE ON\s+SHADOW ON\s+PROMOTED$/)
    expect(printed.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([['v3', 'live'], ['v2', 'retired'], ['v1', 'retired']])
  })

  it('refuses an unknown version and a move the lifecycle forbids, publishing nothing', async () => {
    const before = await reader.count(topics.modelControl)
    const refused = async (work: Promise<void>) => {
      const err = await work.then(() => null, (e: unknown) => e)
      expect(err).toBeInstanceOf(CliError)
      return (err as CliError).message
    }
    expect(await refused(promoteCommand(deps, 'nope'))).toMatch(/^model m has no version nope; newest: v3, v2, v1$/)
    expect(await refused(rollbackCommand(deps, 'v3'))).toBe('m@v3 is already live')
    expect(await refused(shadowCommand(deps, 'v3'))).toMatch(/v3 is live and cannot become shadow/)
    expect(await reader.count(topics.modelControl)).toBe(before)
  })

  it('puts a version in shadow under the shadow key', async () => {
    const before = await reader.count(topics.modelControl)
    await shadowCommand(deps, 'v2')
    const records = await reader.readAll(topics.modelControl, before + 1, 30_000)
    expect(records.at(-1)).toMatchObject({ key: 'm/shadow', value: { version: 'v2', role: 'shadow' } })
    expect((await listVersions(db.pool, 'm')).find((v) => v.version === 'v2')!.status).toBe('shadow')
  })

  it('ends the shadow run with the live record when it promotes the shadow version, so compaction cannot leave it running in shadow', async () => {
    const s = { ...deps, model: 's' }
    for (const version of ['u', 'v']) {
      const artifact = Buffer.from(`artifact s ${version}`)
      await saveModelVersion(db.pool, {
        model: 's', version, algorithm: 'isolation-forest', trainingRows: 50, windowStart: null, windowEnd: null, featureNames: ['a', 'b'],
        params: {}, metrics: {}, artifact, sha256: sha256Of(artifact), actor: 'trainer-1',
      })
    }
    await promoteCommand(s, 'u')
    await shadowCommand(s, 'v')
    await promoteCommand(s, 'v')
    await rollbackCommand(s)
    const records = (await reader.readAll(topics.modelControl, await reader.count(topics.modelControl), 30_000)).filter((r) => r.value.model === 's')
    expect(records.map((r) => [r.key, r.value.version, r.value.reason])).toEqual([
      ['s', 'u', 'promoted'], ['s/shadow', 'v', 'shadow'], ['s', 'v', 'promoted'], ['s/shadow', '', 'v promoted'], ['s', 'u', 'rolled back'],
    ])
    // What compaction keeps, each key's last record, names no shadow: a scorer started later runs u alone.
    const kept = new Map(records.map((r) => [r.key, r.value.version]))
    expect(Object.fromEntries(kept)).toEqual({ 's': 'u', 's/shadow': '' })
    expect(Object.fromEntries((await listVersions(db.pool, 's')).map((v) => [v.version, v.status]))).toEqual({ u: 'live', v: 'retired' })
  })

  it('counts where a version runs from the instances still renewing their acknowledgements; one killed without withdrawing shows as stale', async () => {
    const k = { ...deps, model: 'k' }
    const artifact = Buffer.from('artifact k')
    await saveModelVersion(db.pool, {
      model: 'k', version: 'k1', algorithm: 'isolation-forest', trainingRows: 50, windowStart: null, windowEnd: null, featureNames: ['a', 'b'],
      params: {}, metrics: {}, artifact, sha256: sha256Of(artifact), actor: 'trainer-1',
    })
    await promoteCommand(k, 'k1')
    for (const instanceId of ['scorer-a', 'scorer-b', 'scorer-killed']) await acknowledgeDeployment(db.pool, { instanceId, role: 'live', model: 'k', version: 'k1' })
    // scorer-killed was SIGKILLed ten minutes ago: it renews no more; the others renew as they run.
    await db.pool.query("UPDATE model_deployments SET seen_at = now() - interval '10 minutes' WHERE instance_id = 'scorer-killed'")
    await renewDeployments(db.pool, 'scorer-a')
    printed = []
    await listCommand(k)
    const column = (name: string) => printed[1]!.slice(printed[0]!.indexOf(name)).split(/\s{2,}/)[0]
    expect([column('LIVE ON'), column('SHADOW ON')]).toEqual(['2', '0'])
    printed = []
    await showCommand(k, 'k1')
    const deployed = printed.slice(printed.indexOf('deployed') + 1)
    expect(deployed[0]).toMatch(/^INSTANCE\s+ROLE\s+ACKNOWLEDGED\s+LAST SEEN$/)
    expect(deployed.filter((l) => l.includes('stale')).map((l) => l.split(/\s+/)[0])).toEqual(['scorer-killed'])
    expect(deployed.filter((l) => /^scorer-/.test(l))).toHaveLength(3)
  })

  it('files a retraining request that one trainer serves, and waits for its outcome', async () => {
    printed = []
    const waiting = retrainCommand(deps, { reason: 'new sshd rollout', waitMs: 20_000 })
    const reasons: string[] = []
    const train = async (reason: string) => {
      reasons.push(reason)
      return { version: 'v9', outcome: 'live' as const }
    }
    const serve = (instanceId: string, staleMs = 60_000) => serveTrainingRequest(deps.requests, { model: 'm', instanceId, staleMs }, train)
    while (!(await serve('trainer-1'))) await new Promise((r) => setTimeout(r, 20))
    expect(await serve('trainer-2')).toBe(false) // served once
    await waiting
    expect(reasons).toEqual(['requested by cli:test: new sshd rollout'])
    const id = Number(/#(\d+)/.exec(printed[0]!)![1])
    expect(printed).toEqual([`retraining request #${id} filed for m (new sshd rollout)`, `request #${id} trained v9, now live (claimed by trainer-1)`])
    expect(await deps.requests.get(id)).toMatchObject({ version: 'v9', outcome: 'live', error: null })

    // A retrain that reproduced a registered version says so: nothing new was registered.
    printed = []
    const waitingForSame = retrainCommand(deps, { reason: 'nothing new', waitMs: 20_000 })
    const sameAs = async () => ({ version: 'v3', outcome: 'unchanged' as const })
    while (!(await serveTrainingRequest(deps.requests, { model: 'm', instanceId: 'trainer-1', staleMs: 60_000 }, sameAs))) await new Promise((r) => setTimeout(r, 20))
    await waitingForSame
    expect(printed[1]).toMatch(/^request #\d+ trained the same model as v3 \(nothing changed since\); nothing new registered \(claimed by trainer-1\)$/)

    // A claim whose trainer died is taken over once stale, not before; a failure is recorded and reported.
    const again = await deps.requests.request('m', 'again', 'cli:test')
    expect((await deps.requests.claimNext('m', 'trainer-1', 60_000))!.id).toBe(again)
    expect(await deps.requests.claimNext('m', 'trainer-2', 60_000)).toBeNull()
    await expect(serveTrainingRequest(deps.requests, { model: 'm', instanceId: 'trainer-2', staleMs: 0 }, async () => {
      throw new Error('history has 12 rows, fewer than TRAIN_MIN_ROWS 200')
    })).rejects.toThrow(/fewer than/)
    expect(await deps.requests.get(again)).toMatchObject({ claimedBy: 'trainer-2', error: 'history has 12 rows, fewer than TRAIN_MIN_ROWS 200' })
    expect(await deps.requests.open('m')).toEqual([])
    const waitingForFailure = retrainCommand(deps, { waitMs: 20_000 }).then(() => null, (e: unknown) => e)
    let open = await deps.requests.open('m')
    while (open.length === 0) open = await deps.requests.open('m')
    await deps.requests.finish(open[0]!.id, { error: 'no history' })
    expect(await waitingForFailure).toMatchObject({ message: `request #${open[0]!.id} failed: no history` })
  })

  it('exits non-zero with a clear message on an unknown version, as a process', async () => {
    const cli = join(REPO_ROOT, 'services', 'trainer', 'src', 'cli', 'models-cli.ts')
    const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx')
    const env = { PATH: process.env.PATH, PG_URL: db.url, MODEL_NAME: 'm' }
    const failed = await run(tsx, [cli, 'show', 'nope'], { env }).then(() => null, (e: { code: number; stderr: string; stdout: string }) => e)
    expect(failed).toMatchObject({ code: 1, stdout: '' })
    expect(failed!.stderr).toBe('models: model m has no version nope; newest: v3, v2, v1\n')

    const usage = await run(tsx, [cli, 'promote'], { env }).then(() => null, (e: { code: number; stderr: string }) => e)
    expect(usage).toMatchObject({ code: 2 })
    expect(usage!.stderr).toMatch(/^models: promote needs a version/)

    const listed = await run(tsx, [cli, 'list'], { env })
    expect(listed.stdout.split('\n')[1]).toMatch(/^v3\s+live\s/)

    // No broker: an error at once (the client alone retries for about a minute), and the registry unchanged.
    const noBroker = { ...env, KAFKA_BROKERS: '127.0.0.1:1', SCHEMA_REGISTRY_URL: stack.SCHEMA_REGISTRY_URL }
    const unpublished = await run(tsx, [cli, 'promote', 'v2'], { env: noBroker, timeout: 30_000 }).then(() => null, (e: { code: number; stderr: string }) => e)
    expect(unpublished).toMatchObject({ code: 1 })
    expect(unpublished!.stderr).toBe('models: the broker is not reachable: Connection error: connect ECONNREFUSED 127.0.0.1:1\n')
    expect((await run(tsx, [cli, 'list'], { env })).stdout.split('\n')[1]).toMatch(/^v3\s+live\s/)
  })

  it('rolls back further on each rollback, not back and forth, and only to a version that was live', async () => {
    const r = { ...deps, model: 'r' }
    for (const version of ['a', 'b', 'c', 'd']) {
      const artifact = Buffer.from(`artifact r ${version}`)
      await saveModelVersion(db.pool, {
        model: 'r', version, algorithm: 'isolation-forest', trainingRows: 50, windowStart: null, windowEnd: null, featureNames: ['a', 'b'],
        params: {}, metrics: {}, artifact, sha256: sha256Of(artifact), actor: 'trainer-1',
      })
    }
    const refused = async (work: Promise<void>) => {
      const err = await work.then(() => null, (e: unknown) => e)
      expect(err).toBeInstanceOf(CliError)
      return (err as CliError).message
    }
    const live = async () => (await listVersions(db.pool, 'r')).find((v) => v.status === 'live')?.version
    for (const version of ['a', 'b', 'c']) await promoteCommand(r, version)
    await rollbackCommand(r)
    expect(await live()).toBe('b')
    await rollbackCommand(r)
    expect(await live()).toBe('a')
    expect(await refused(rollbackCommand(r))).toBe('model r has no earlier live version to roll back to')

    // A version that was never live is promoted, not rolled back to; one that was can be named.
    await shadowCommand(r, 'd')
    const before = await reader.count(topics.modelControl)
    expect(await refused(rollbackCommand(r, 'd'))).toBe('r@d was never live (it is shadow): rollback returns only to a version that was; promote d makes it live')
    expect(await reader.count(topics.modelControl)).toBe(before)
    await rollbackCommand(r, 'c')
    expect(await live()).toBe('c')
  })
})
