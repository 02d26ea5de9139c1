import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { topics } from '@vigil/schemas'
import { freePort, OPENSSH_SAMPLE, ownRedis, type OwnRedis, type Pipeline, readLinesAsRecent, replayOverTcp, REPO_ROOT, startPipeline, uniquePrefix, waitFor } from '@vigil/testkit'

const lines = readLinesAsRecent(OPENSSH_SAMPLE)

describe('featurizer while Redis is away', () => {
  let pipeline: Pipeline | undefined
  let redis: OwnRedis | undefined
  afterAll(async () => {
    await pipeline?.stop()
    await redis?.kill()
  })

  it('holds its place while Redis is down and resumes when it returns, losing nothing', async () => {
    redis = ownRedis(await freePort())
    await redis.start()
    pipeline = await startPipeline({
      stack: { ...inject('stack'), REDIS_URL: redis.url }, prefix: uniquePrefix('redis-outage'),
      logDir: join(REPO_ROOT, '.cache', 'test-logs', 'redis-outage'), instances: { trainer: 0, scorer: 0, alerter: 0 },
    })
    const p = pipeline
    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines.slice(0, 1000))
    await p.reader.readAll(topics.features, 1000, 60_000)

    await redis.kill()
    await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines.slice(1000))
    await p.reader.readAll(topics.rawLogs, lines.length, 60_000) // the ingestor does not need Redis
    await new Promise((r) => setTimeout(r, 4_000))
    expect(await p.reader.count(topics.features)).toBe(1000) // nothing featurized, nothing skipped
    const featurizer = p.services.featurizer[0]!
    expect(featurizer.child.exitCode).toBeNull() // still running: it waits, it does not crash
    expect(await featurizer.metrics()).toMatch(/app_batch_retries_total\{[^}]*code="FEATURE_STORE_UNAVAILABLE"[^}]*\} [1-9]/)

    await redis.start()
    const raw = await p.reader.readAll(topics.rawLogs, lines.length)
    const features = await waitFor('every line featurized after Redis returned', async () => {
      const all = await p.reader.readAll(topics.features, 0)
      return new Set(all.map((f) => f.value.eventId)).size >= raw.length ? all : undefined
    }, 60_000, 1_000)
    const expected = raw.map((r) => `${p.reader.kafkaName(topics.rawLogs)}/${r.partition}/${r.offset}`)
    const seen = new Set(features.map((f) => f.value.eventId))
    expect(expected.filter((id) => !seen.has(id))).toEqual([])
  })
})
