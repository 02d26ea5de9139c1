import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { topics } from '@vigil/schemas'
import { OPENSSH_SAMPLE, type Pipeline, readLinesAsRecent, replayOverTcp, REPO_ROOT, startPipeline, uniquePrefix, waitFor } from '@vigil/testkit'

const lines = readLinesAsRecent(OPENSSH_SAMPLE)

describe('featurizer stopped with SIGTERM in the middle of a replay', () => {
  let pipeline: Pipeline | undefined
  afterAll(async () => {
    await pipeline?.stop()
  })

  it('exits 0 within 10 s, and after a restart no line is lost', async () => {
    pipeline = await startPipeline({
      stack: inject('stack'), prefix: uniquePrefix('sigterm'), logDir: join(REPO_ROOT, '.cache', 'test-logs', 'sigterm'),
      instances: { trainer: 0, scorer: 0, alerter: 0 },
    })
    const p = pipeline
    // Paced so that the signal lands while lines are flowing: 2,000 lines over about 5 s.
    const replay = replayOverTcp('127.0.0.1', p.syslogTcpPort, lines, 400)
    await waitFor('the featurizer to be mid-stream', async () => {
      const n = await p.reader.count(topics.features)
      return n > 100 && n < lines.length - 300
    }, 30_000, 50)
    const first = p.services.featurizer[0]!
    const stopped = await first.stop('SIGTERM')
    expect(stopped.code).toBe(0)
    expect(stopped.ms).toBeLessThan(10_000)
    const atStop = await p.reader.count(topics.features)
    expect(atStop).toBeLessThan(lines.length)

    const second = await p.add('featurizer')
    await second.waitReady()
    await replay
    const raw = await p.reader.readAll(topics.rawLogs, lines.length)
    const features = await p.reader.readAll(topics.features, raw.length, 90_000)
    const ids = new Set(features.map((f) => f.value.eventId))
    const expected = new Set(raw.map((r) => `${p.reader.kafkaName(topics.rawLogs)}/${r.partition}/${r.offset}`))
    expect([...expected].filter((id) => !ids.has(id))).toEqual([])
    // A graceful stop commits what it produced: nothing is processed twice.
    expect(features.length).toBe(raw.length)
  })
})
