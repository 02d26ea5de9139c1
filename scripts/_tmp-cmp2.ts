import { topics } from '@vigil/schemas'
import { createTopicReader } from '@vigil/testkit'
const [a, b] = process.argv.slice(2)
const ra = await createTopicReader(process.env.KAFKA_BROKERS!, a!, process.env.SCHEMA_REGISTRY_URL)
const rb = await createTopicReader(process.env.KAFKA_BROKERS!, b!, process.env.SCHEMA_REGISTRY_URL)
const sa = (await ra.readAll(topics.scores)).map((s) => s.value)
const sb = (await rb.readAll(topics.scores)).map((s) => s.value)
const byLine = new Map(sa.map((s) => [s.evidence.line.replace(/^<\d+>/, '').slice(-60), s]))
let n = 0
const diffCount = new Map<string, number>()
for (const s of sb) {
  const r = byLine.get(s.evidence.line.replace(/^<\d+>/, '').slice(-60))
  if (!r) continue
  for (const k of Object.keys(s.features)) if (Math.abs(s.features[k]! - r.features[k]!) > 1e-9) diffCount.set(k, (diffCount.get(k) ?? 0) + 1)
  if (n++ < 3) console.log(s.score, r.score, s.modelVersion, r.modelVersion, JSON.stringify(s.members), JSON.stringify(r.members))
}
console.log('matched', n, 'feature diffs', [...diffCount])
process.exit(0)
