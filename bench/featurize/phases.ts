// Where a featurizer's time goes, per event, phase by phase, in one process against the real Redis:
// decode, parse and enrich, Redis windows, features, encode (JSON and, with a registry, Avro).
// Run: npx tsx bench/featurize/phases.ts  (with the stack's env: set -a; . .cache/stack/stack.env)
import { createRedis } from '@vigil/platform'
import { allTopics, createCodec, topics, type RawLog } from '@vigil/schemas'
import { asIngested, buildWorkload, WORKLOAD_LINES_PER_REPEAT } from '../lib/workload.ts'
import { createFeatureStore } from '../../services/featurizer/src/adapters/feature-store.ts'
import { createGeoLookup } from '../../services/featurizer/src/adapters/geo.ts'
import { toFeatureRecord, withWindowMarks } from '../../services/featurizer/src/handle-raw-logs.ts'
import { enrichEvent } from '../../services/featurizer/src/enrich-event.ts'
import { createTemporalFeatures } from '../../services/featurizer/src/features/temporal-features.ts'
import { normalizeEvent } from '../../services/featurizer/src/normalize-event.ts'
import { createRawLogDecoder } from '../../services/featurizer/src/decode-raw-log.ts'
// The featurizer benchmark's workload (bench/lib/workload.ts), as the ingestor writes it.
const N = 20000
const lines = buildWorkload(Math.ceil(N / WORKLOAD_LINES_PER_REPEAT), 12).slice(0, N)
const now = Date.now()
for (const reg of [undefined, process.env.SCHEMA_REGISTRY_URL]) {
const codec = await createCodec({ registryUrl: reg, kafkaName: (t) => `phase-${t.name}`, topics: allTopics() })
const decode = createRawLogDecoder(codec, 'phase-raw-logs')
const raw = lines.map((line) => codec.encode(topics.rawLogs, asIngested(line, now).record))
const geo = await createGeoLookup()
const redis = createRedis({ REDIS_URL: process.env.REDIS_URL!, REDIS_KEY_PREFIX: `phase-${Date.now()}:` }) // fresh windows each pass
await redis.ready()
const store = createFeatureStore(redis, { windowSeconds: 600, lateGraceSeconds: 300, ttlSeconds: 600, userTtlSeconds: 600 })
const context = { temporal: createTemporalFeatures('UTC', { startHour: 8, endHour: 18, days: new Set([1, 2, 3, 4, 5]) }), sensitivePaths: ['/admin'], privilegedUsers: new Set(['root']) }
let t = performance.now()
const decoded: Array<{ value: RawLog; key: null; topic: string; partition: number; offset: string; timestamp: number; headers: Record<string, string> }> = []
for (let i = 0; i < N; i++) decoded.push({ value: await decode(raw[i]!, {}), key: null, topic: 'raw-logs', partition: 0, offset: String(i), timestamp: 0, headers: {} })
const tDecode = performance.now() - t; t = performance.now()
const normalized = decoded.map((m) => enrichEvent(normalizeEvent(m), geo))
const tParse = performance.now() - t; t = performance.now()
const windows: Awaited<ReturnType<typeof store.update>> = []
const events: Awaited<ReturnType<typeof withWindowMarks>> = []
for (let i = 0; i < N; i += 500) {
  const chunk = normalized.slice(i, i + 500)
  const marked = await withWindowMarks(chunk, store, geo)
  events.push(...marked)
  windows.push(...await store.update(marked))
}
const tRedis = performance.now() - t; t = performance.now()
const records = events.map(({ event }, i) => toFeatureRecord(event, windows[i]!, context))
const tFeatures = performance.now() - t; t = performance.now()
let bytes = 0
for (const r of records) bytes += codec.encode(topics.features, r).length
const tEncode = performance.now() - t
const us = (ms: number) => (ms * 1000 / N).toFixed(1) + ' µs/event'
const part = (key: keyof typeof records[number]) => Math.round(records.reduce((sum, r) => sum + JSON.stringify(r[key]).length, 0) / N)
console.log({ registry: !!reg, decode: us(tDecode), parseEnrich: us(tParse), redis: us(tRedis), features: us(tFeatures), encode: us(tEncode), avgRecordBytes: Math.round(bytes / N), avgJsonChars: { event: part('event'), evidence: part('evidence'), vector: part('vector'), entity: part('entity') } })
await redis.close()
}
process.exit(0)
