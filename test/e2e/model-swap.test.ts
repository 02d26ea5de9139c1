import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { topics } from '@vigil/schemas'
import { OPENSSH_SAMPLE, type Pipeline, readLinesAsRecent, replayOverTcp, REPO_ROOT, startPipeline, uniquePrefix, waitFor } from '@vigil/testkit'

const lines = readLinesAsRecent(OPENSSH_SAMPLE)
const cli = promisify(execFile)
const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx')
const modelsCli = join(REPO_ROOT, 'services', 'trainer', 'src', 'cli', 'models-cli.ts')

describe('model lifecycle', () => {
  let pipeline: Pipeline | undefined
  afterAll(async () => {
    await pipeline?.stop()
  })

  it('waits unready for a first model, swaps in a retrained one without a restart scoring every event once, and rolls back', async () => {
    pipeline = await startPipeline({
      stack: inject('stack'), prefix: uniquePrefix('swap'), logDir: join(REPO_ROOT, '.cache', 'test-logs', 'swap'),
      instances: { alerter: 0 },
      env: {
        TRAIN_MIN_ROWS: '400', TRAIN_INTERVAL_MS: '2000', TRAIN_SETTLE_MS: '1000',
        GATE_ALERT_RATE_FLOOR: '1', // any alert rate passes: this test is about the swap, not the gate (services/trainer/test/integration/gate.test.ts)
      },
    })
    const p = pipeline
    const scorer = p.services.scorer[0]!
    const cliEnv = { PATH: process.env.PATH ?? '', ...p.env }
    // Bootstrapping: no history, no model, so the scorer is alive but not ready.
    expect(await scorer.isReady()).toBe(false)
    expect((await fetch(`http://127.0.0.1:${scorer.metricsPort}/healthz`)).status).toBe(200)

    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines.slice(0, 1000))
    await scorer.waitReady() // the first model: replayed, featurized, stored, settled and trained
    const firstScores = await p.reader.readAll(topics.scores, 1000, 60_000)
    const firstVersion = firstScores[0]!.value.modelVersion

    // More history arrives; the trainer's schedule retrains, publishes a new version on model-control,
    // and the scorer swaps to it without a restart.
    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines.slice(1000))
    await waitFor('a scheduled retrain, and the scorer to run it', async () => {
      const versions = (await p.reader.readAll(topics.modelControl)).map((c) => c.value.version)
      return new Set(versions).size >= 2 && (await scorer.metrics()).includes(`version="${versions.at(-1)!}",role="live"`)
    }, 90_000, 500)

    // The schedule may retrain more than once while that history arrives. Once the trainer has stored
    // all of it, an operator's retrain trains on all of it: it publishes the version the schedule would
    // come to, or finds that the live one already is. After that no retrain is due, as fewer than
    // TRAIN_MIN_ROWS events arrive later in this test, so the version is settled.
    await waitFor('the trainer to store the whole history', async () =>
      (await p.reader.count(topics.features)) >= lines.length && (await p.reader.caughtUp('trainer', topics.features)), 60_000, 500)
    const retrain = await cli(tsx, [modelsCli, 'retrain', '--reason', 'all history stored', '--wait', '--timeout', '90'], { env: cliEnv })
    expect(retrain.stdout).toMatch(/now live|the same model as/)
    const secondVersion = (await p.reader.readAll(topics.modelControl)).at(-1)!.value.version
    expect(secondVersion).not.toBe(firstVersion)
    await waitFor('the scorer to run the settled version', async () => (await scorer.metrics()).includes(`version="${secondVersion}",role="live"`), 60_000, 500)

    // Replay once more: these events arrive after the swap and must carry the new version.
    const thirdStarted = Date.now()
    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines.slice(0, 200))
    const scores = await p.reader.readAll(topics.scores, lines.length + 200, 90_000)
    const ids = scores.map((s) => s.value.eventId)
    expect(new Set(ids).size).toBe(ids.length) // none scored twice
    expect(ids.length).toBe(lines.length + 200) // none skipped
    const afterSwap = scores.filter((s) => s.value.receivedAt >= thirdStarted)
    expect(afterSwap).toHaveLength(200)
    expect(new Set(afterSwap.map((s) => s.value.modelVersion))).toEqual(new Set([secondVersion]))
    expect(scorer.child.exitCode).toBeNull() // the same process throughout

    // Rolling back with the CLI (as an operator would) puts the first version back on every scorer.
    const { stdout } = await cli(tsx, [modelsCli, 'rollback', firstVersion], { env: cliEnv })
    expect(stdout).toContain(`${firstVersion} is live`)
    await waitFor('the scorer to run the rolled-back version', async () => (await scorer.metrics()).includes(`version="${firstVersion}",role="live"`), 60_000, 500)
    const rolledBackAt = Date.now()
    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines.slice(200, 300))
    const all = await p.reader.readAll(topics.scores, lines.length + 300, 90_000)
    expect(new Set(all.filter((s) => s.value.receivedAt >= rolledBackAt).map((s) => s.value.modelVersion))).toEqual(new Set([firstVersion]))
  })
})
