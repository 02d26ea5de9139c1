import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { dlqOf, topics, type Topic } from '@vigil/schemas'
import { OPENSSH_SAMPLE, type Pipeline, readLinesAsRecent, replayAcrossOutage, REPO_ROOT, type SecuredBroker, startPipeline, startSecuredBroker, uniquePrefix, waitFor } from '@vigil/testkit'

// The five services while their Kafka broker goes away and comes back, as in a broker upgrade or a
// node restart: lines keep arriving over syslog while it is down. No service may exit, and every
// line must come out once, featurized and scored, when it is back. The broker is the test's own
// (with SASL/SCRAM, as a deployment's would be), so the shared stack's broker stays up for the
// other test files.
const lines = readLinesAsRecent(OPENSSH_SAMPLE)
const DOWN_MS = 15_000

describe('the pipeline across a broker restart', () => {
  const prefix = uniquePrefix('broker-restart')
  const logDir = join(REPO_ROOT, '.cache', 'test-logs', 'broker-restart', prefix.slice(0, -1))
  let broker: SecuredBroker | undefined
  let pipeline: Pipeline | undefined
  afterAll(async () => {
    await pipeline?.stop()
    await broker?.stop()
  })

  it('keeps every service running while the broker is down, and carries every line through once it is back', async () => {
    broker = await startSecuredBroker({ logDir: join(logDir, 'broker') })
    pipeline = await startPipeline({
      // The harness's topic reader reads through the broker's plaintext listener; the services get the SASL one.
      stack: { ...inject('stack'), KAFKA_BROKERS: broker.plaintextBrokers },
      prefix, logDir,
      env: { ...broker.env, TOPIC_PARTITIONS: '4', MODEL_TARGET_ALERT_RATE: '0.01' },
    })
    const p = pipeline
    // The broker goes away once the first half is featurized.
    const exitedWhileDown = await replayAcrossOutage(p, lines, broker, { firstHalfOn: topics.features, downMs: DOWN_MS })
    expect(exitedWhileDown, 'services that exited while the broker was down').toEqual([])

    const raw = await p.reader.readAll(topics.rawLogs, lines.length, 120_000)
    expect(raw).toHaveLength(lines.length)
    expect(await p.reader.count(dlqOf(topics.rawLogs))).toBe(0)
    expect(new Set(raw.map((r) => r.value.line)).size).toBe(new Set(lines).size) // every line in raw-logs, none lost while the broker was down

    const rawIds = new Set(raw.map((r) => `${r.partition}/${r.offset}`))
    // eventId is <raw-logs topic>/<partition>/<offset>: the raw-logs record the event came from
    const eventIdsOf = async <T extends { eventId: string }>(topic: Topic<T>) =>
      (await p.reader.readAll(topic, 0)).map((m) => m.value.eventId.split('/').slice(-2).join('/'))
    const features = await waitFor('every line featurized', async () => {
      const ids = await eventIdsOf(topics.features)
      return new Set(ids).size >= rawIds.size ? ids : undefined
    }, 120_000, 1_000)
    const scores = await waitFor('every features record scored', async () => {
      const ids = await eventIdsOf(topics.scores)
      return new Set(ids).size >= rawIds.size ? ids : undefined
    }, 120_000, 1_000)
    expect(new Set(features)).toEqual(rawIds)
    expect(new Set(scores)).toEqual(rawIds)
    // At-least-once: a batch in flight when the broker went down may be written again, never a line left out.
    console.log(`broker restart: ${lines.length} lines, features ${features.length} (${features.length - rawIds.size} repeated), scores ${scores.length} (${scores.length - rawIds.size} repeated)`)

    expect(p.exited(), 'services that exited after the broker came back').toEqual([])
  })
})
