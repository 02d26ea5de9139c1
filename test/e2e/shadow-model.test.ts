import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { topics } from '@vigil/schemas'
import { OPENSSH_SAMPLE, type Pipeline, readLinesAsRecent, replayOverTcp, REPO_ROOT, startPipeline, uniquePrefix, waitFor } from '@vigil/testkit'

const lines = readLinesAsRecent(OPENSSH_SAMPLE)
const cli = promisify(execFile)

describe('a candidate in shadow', () => {
  let pipeline: Pipeline | undefined
  afterAll(async () => {
    await pipeline?.stop()
  })

  it('is retrained on request, scored beside the live version into scores-shadow only, reviewed and promoted', async () => {
    pipeline = await startPipeline({
      stack: inject('stack'), prefix: uniquePrefix('shadow'), logDir: join(REPO_ROOT, '.cache', 'test-logs', 'shadow'),
      instances: { alerter: 0 },
      env: {
        TRAIN_MIN_ROWS: '300', TRAIN_SETTLE_MS: '1000', TRAIN_INTERVAL_MS: '3600000', PUBLISH_AS: 'shadow',
        SHADOW_REVIEW_MS: '1000', SHADOW_MIN_EVENTS: '200',
        GATE_ALERT_RATE_FLOOR: '1', // any alert rate passes: this test is about the shadow run, not the gate (see services/trainer/test/integration/gate.test.ts)
        SHADOW_MAX_SCORE_PSI: '1000', // nor does the review judge the scores (see services/trainer/test/integration/shadow-review.test.ts)
      },
    })
    const p = pipeline
    const scorer = p.services.scorer[0]!
    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines.slice(0, 800))
    await scorer.waitReady() // the first model: replayed, featurized, stored, settled and trained
    const liveVersion = (await p.reader.readAll(topics.scores, 800, 60_000))[0]!.value.modelVersion

    // More history reaches the trainer (a retrain on the same history would reproduce the live
    // version and register nothing), then an operator asks for a retrain; with PUBLISH_AS=shadow the
    // new version first runs in shadow.
    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines.slice(800, 1000))
    await waitFor('the trainer to store the new history', async () =>
      (await p.reader.count(topics.features)) >= 1000 && (await p.reader.caughtUp('trainer', topics.features)), 60_000, 500)
    const { stdout } = await cli(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [join(REPO_ROOT, 'services', 'trainer', 'src', 'cli', 'models-cli.ts'), 'retrain', '--reason', 'shadow test'], {
      env: { PATH: process.env.PATH ?? '', ...p.env },
    })
    expect(stdout).toMatch(/retraining request #\d+ filed/)
    const shadowVersion = await waitFor('a shadow version on model-control', async () =>
      (await p.reader.readAll(topics.modelControl)).find((c) => c.value.role === 'shadow' && c.value.version !== '')?.value.version, 90_000, 500)
    expect(shadowVersion).not.toBe(liveVersion)
    await waitFor('the scorer to run it in shadow', async () => (await scorer.metrics()).includes(`version="${shadowVersion}",role="shadow"`), 60_000, 500)

    // Events now get two scores: the live one on scores, the shadow one on scores-shadow only.
    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines.slice(1000, 1500))
    const shadowScores = await p.reader.readAll(topics.scoresShadow, 200, 90_000)
    expect(new Set(shadowScores.map((s) => s.value.modelVersion))).toEqual(new Set([shadowVersion]))
    const live = await p.reader.readAll(topics.scores, 1500, 90_000)
    const liveIds = new Set(live.map((s) => s.value.eventId))
    expect(shadowScores.every((s) => liveIds.has(s.value.eventId))).toBe(true)

    // The trainer reviews the shadow run (alert volume, score distribution) and promotes it.
    await waitFor('the shadow version to be promoted and the shadow run ended', async () => {
      const control = (await p.reader.readAll(topics.modelControl)).map((c) => c.value)
      const promoted = control.some((c) => (c.role ?? 'live') === 'live' && c.version === shadowVersion)
      const ended = control.at(-1)?.role === 'shadow' && control.at(-1)?.version === ''
      return promoted && ended
    }, 90_000, 500)
    await waitFor('the scorer to run it live, with no shadow', async () => {
      const metrics = await scorer.metrics()
      return metrics.includes(`version="${shadowVersion}",role="live"`) && !metrics.includes('role="shadow"')
    }, 60_000, 500)
  })
})
