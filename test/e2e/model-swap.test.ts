import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { topics } from '@vigil/schemas'
import { OPENSSH_SAMPLE, type Pipeline, readLogLines, replayOverTcp, REPO_ROOT, startPipeline, uniquePrefix, waitFor } from '@vigil/testkit'

const lines = readLogLines(OPENSSH_SAMPLE)

describe('model lifecycle', () => {
  let pipeline: Pipeline | undefined
  afterAll(async () => {
    await pipeline?.stop()
  })

  it('waits unready for a first model, swaps in a retrained one without a restart scoring every event once, and rolls back', async () => {
    pipeline = await startPipeline({
      stack: inject('stack'), prefix: uniquePrefix('swap'), logDir: join(REPO_ROOT, '.cache', 'test-logs', 'swap'),
      instances: { alerter: 0 },
      env: { TRAIN_MIN_ROWS: '300', TRAIN_INTERVAL_MS: '2000', TRAIN_SETTLE_MS: '1000' },
    })
    const p = pipeline
    const scorer = p.services.scorer[0]!
    // Bootstrapping: no history, no model, so the scorer is alive but not ready.
    expect(await scorer.isReady()).toBe(false)
    expect((await fetch(`http://127.0.0.1:${scorer.metricsPort}/healthz`)).status).toBe(200)

    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines.slice(0, 1000))
    await scorer.waitReady(60_000)
    const firstScores = await p.reader.readAll(topics.scores, 1000, 60_000)
    const firstVersion = firstScores[0]!.value.modelVersion

    // More history arrives; the trainer's schedule retrains and publishes a new version on model-control.
    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines.slice(1000))
    // Retraining follows the new history (perhaps more than once while it arrives); wait until the
    // scorer runs the newest version and no newer one has come for longer than the retrain interval.
    let stableSince = 0
    let newest = ''
    const secondVersion = await waitFor('the scorer to run the newest version, and no newer one to come', async () => {
      const versions = (await p.reader.readAll(topics.modelControl)).map((c) => c.value.version)
      const latest = versions.at(-1)!
      if (new Set(versions).size < 2 || !(await scorer.metrics()).includes(`version="${latest}"`)) return undefined
      if (latest !== newest) {
        newest = latest
        stableSince = Date.now()
      }
      return Date.now() - stableSince > 3_000 ? latest : undefined
    }, 90_000, 500)
    expect(secondVersion).not.toBe(firstVersion)

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
    const cli = promisify(execFile)
    const { stdout } = await cli(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [join(REPO_ROOT, 'services', 'trainer', 'src', 'cli', 'models-cli.ts'), 'rollback', firstVersion], {
      env: { PATH: process.env.PATH ?? '', ...p.env },
    })
    expect(stdout).toContain(`${firstVersion} is live`)
    await waitFor('the scorer to run the rolled-back version', async () => (await scorer.metrics()).includes(`version="${firstVersion}",role="live"`), 60_000, 500)
    const rolledBackAt = Date.now()
    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines.slice(200, 300))
    const all = await p.reader.readAll(topics.scores, lines.length + 300, 90_000)
    expect(new Set(all.filter((s) => s.value.receivedAt >= rolledBackAt).map((s) => s.value.modelVersion))).toEqual(new Set([firstVersion]))
  })
})
