// Where a featurizer's time goes, per event, phase by phase, in one process against the real Redis:
// decode, parse and enrich, Redis windows, features, encode (JSON and, with a registry, Avro).
// Run: npx tsx bench/featurize/phases.ts  (with the stack's env: set -a; . .cache/stack/stack.env)
import { join } from 'node:path'
import { createRedis } from '@vigil/platform'
import { allTopics, createCodec, topics, type RawLog } from '@vigil/schemas'
import { OPENSSH_SAMPLE, readLogLines, REPO_ROOT } from '@vigil/testkit'
import { createFeatureStore } from '../../services/featurizer/src/adapters/feature-store.ts'
import { createGeoLookup } from '../../services/featurizer/src/adapters/geo.ts'
import { computeFeatures, windowMarksOf } from '../../services/featurizer/src/compute-features.ts'
import { enrichEvent } from '../../services/featurizer/src/enrich-event.ts'
import { createTemporalFeatures } from '../../services/featurizer/src/features/temporal-features.ts'
import { normalizeEvent } from '../../services/featurizer/src/normalize-event.ts'
import { createRawLogDecoder } from '../../services/featurizer/src/decode-raw-log.ts'
const lines = [...readLogLines(OPENSSH_SAMPLE), ...readLogLines(join(REPO_ROOT, 'test', 'fixtures', 'loghub', 'Linux_2k.log'))]
const N = 20000
const now = Date.now()
const raw = Array.from({ length: N }, (_, i) => Buffer.from(JSON.stringify({ line: `<38>${lines[i % lines.length]}`, receivedAt: now, transport: 'bench', peer: null, syslog: null, zeek: null } satisfies RawLog)))
for (const reg of [undefined, process.env.SCHEMA_REGISTRY_URL]) {
const codec = await createCodec({ registryUrl: reg, kafkaName: (t) => `phase-${t.name}`, topics: allTopics() })
const decode = createRawLogDecoder(codec, 'phase-raw-logs')
const geo = await createGeoLookup()
const redis = createRedis(process.env.REDIS_URL!, 'phase:')
await redis.ready()
const store = createFeatureStore(redis, { windowSeconds: 600, lateGraceSeconds: 300, ttlSeconds: 600, userTtlSeconds: 600 })
const context = { temporal: createTemporalFeatures('UTC', { startHour: 8, endHour: 18, days: new Set([1, 2, 3, 4, 5]) }), sensitivePaths: ['/admin'], privilegedUsers: new Set(['root']) }
let t = performance.now()
const decoded: Array<{ value: RawLog; key: null; topic: string; partition: number; offset: string; timestamp: number; headers: Record<string, string> }> = []
for (let i = 0; i < N; i++) decoded.push({ value: await decode(raw[i]!, {}), key: null, topic: 'raw-logs', partition: 0, offset: String(i), timestamp: 0, headers: {} })
const tDecode = performance.now() - t; t = performance.now()
const events = decoded.map((m) => { const event = enrichEvent(normalizeEvent(m), geo); return { event, marks: windowMarksOf(event) } })
const tParse = performance.now() - t; t = performance.now()
const windows: Awaited<ReturnType<typeof store.update>> = []
for (let i = 0; i < N; i += 500) windows.push(...await store.update(events.slice(i, i + 500)))
const tRedis = performance.now() - t; t = performance.now()
const records = events.map(({ event }, i) => ({ eventId: event.eventId, entity: event.entity, eventTime: event.ecs.timestamp, receivedAt: event.receivedAt, family: event.family, event: event.ecs, evidence: event.evidence, vector: computeFeatures(event, windows[i]!, context) }))
const tFeatures = performance.now() - t; t = performance.now()
let bytes = 0
for (const r of records) bytes += (await codec.encode(topics.features, r)).length
const tEncode = performance.now() - t
const us = (ms: number) => (ms * 1000 / N).toFixed(1) + ' µs/event'
console.log({ registry: !!reg, decode: us(tDecode), parseEnrich: us(tParse), redis: us(tRedis), features: us(tFeatures), encode: us(tEncode), avgRecordBytes: Math.round(bytes / N) })
await redis.close()
}
process.exit(0)
