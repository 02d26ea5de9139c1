// The alerter's Sigma path with its correlations: events/s of handleFeatureRecords (rules, correlation
// state, alerts raised into an in-memory store) over a real firewall log, in batches of 500 as the
// alerter consumes them. Nearly every line of it feeds the network scan correlations, one
// observation each in Redis, the correlator sending each group's in order and different groups'
// together. Beside it, in the same run: the state in memory (no Redis), and Redis with every
// observation awaited before the next is handed over, one round trip each (the feed before).
// Run with the stack up: set -a; . .cache/stack/stack.env; set +a; npx tsx bench/sigma/correlations.ts [log file]
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { createMemoryCorrelationState, createRedisCorrelationState, createSigmaEngine, type CorrelationState } from '@vigil/sigma'
import { createRedis } from '@vigil/platform'
import { REPO_ROOT, uniquePrefix } from '@vigil/testkit'
import { createCorrelationFeed } from '../../services/alerter/src/rules/correlation-feed.ts'
import { handleFeatureRecords } from '../../services/alerter/src/rules/handle-sigma-events.ts'
import { DEFAULT_RULE_DIRS, loadRules } from '../../services/alerter/src/rules/rule-set.ts'
import { delivered, memoryFlags, memoryRaiseDeps } from '../../services/alerter/test/unit/rules-fakes.ts'
import { syslogRecords } from '../../services/alerter/test/unit/real-records.ts'

const BATCH = 500
const ROUNDS = 3
// The honeywall's whole netfilter log (46,569 lines) where the shared data is, else the fixture's sample of it.
const SHARED = join(REPO_ROOT, '..', 'shared', 'data', 'sotm34-honeynet', 'raw', 'iptables', 'iptablesyslog.before-2005-03-06T0852.gz')
const file = process.argv[2] ?? (existsSync(SHARED) ? SHARED : join(REPO_ROOT, 'test', 'fixtures', 'sotm34-honeynet', 'iptables', 'iptablesyslog-sample.gz'))
const raw = readFileSync(file)
const lines = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8').split('\n').filter(Boolean)
const records = syslogRecords(lines, Date.UTC(2005, 2, 7))
const rules = loadRules(DEFAULT_RULE_DIRS, { info: () => {}, debug: () => {} })
const engine = createSigmaEngine(rules.set)
if (!process.env.REDIS_URL) throw new Error('REDIS_URL is not set: start the stack and source .cache/stack/stack.env')
const redis = createRedis({ REDIS_URL: process.env.REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix('bench-sigma') })
await redis.ready()

/** Each observation waits for the one before it: one round trip each. */
function oneAtATime(state: CorrelationState): CorrelationState {
  let last: Promise<unknown> = Promise.resolve()
  return {
    observe(o) {
      const next = last.then(() => state.observe(o))
      last = next.catch(() => {})
      return next
    },
    close: () => state.close(),
  }
}

const variants: Record<string, (round: number) => CorrelationState> = {
  'memory state': () => createMemoryCorrelationState(),
  'redis, groups side by side': (round) => createRedisCorrelationState(redis, { keyPrefix: `batch${round}:` }),
  'redis, one observation at a time': (round) => oneAtATime(createRedisCorrelationState(redis, { keyPrefix: `single${round}:` })),
}
const rates: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((v) => [v, []]))
let alertsOfFirst: string | null = null
console.log(`${records.length} events of ${file}, ${rules.set.detections.length} rules and ${rules.set.correlations.length} correlations; ${ROUNDS} interleaved rounds`)
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, makeState] of Object.entries(variants)) {
    const deps = {
      ...memoryRaiseDeps().deps, engine, correlations: createCorrelationFeed(rules.set.correlations, makeState(round)), flags: memoryFlags(),
      version: rules.version, windowMs: 600_000, maxEvidence: 10, now: () => 0,
    }
    const started = performance.now()
    const alerts: string[] = []
    for (let i = 0; i < records.length; i += BATCH) {
      for (const a of await handleFeatureRecords(delivered(records.slice(i, i + BATCH)), deps)) alerts.push(`${a.alertId} ${a.evidence.map((e) => e.eventId).sort().join(',')}`)
    }
    rates[name]!.push(records.length / ((performance.now() - started) / 1000))
    // Every variant must raise the same alerts citing the same events, or the comparison says nothing.
    const raised = alerts.sort().join('\n')
    if (alertsOfFirst !== null && raised !== alertsOfFirst) throw new Error(`${name} raised other alerts (or cited other events) than the first variant`)
    alertsOfFirst = raised
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
console.log(`alerts raised: ${alertsOfFirst?.split('\n').length ?? 0}, the same in every variant`)
for (const [name, xs] of Object.entries(rates)) console.log(`${name}\tmedian ${Math.round(median(xs))} events/s\t(rounds ${xs.map(Math.round).join(', ')})`)
const keys = await redis.keys(`${redis.options.keyPrefix}*`)
for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000).map((k) => k.slice(redis.options.keyPrefix!.length)))
await redis.close()
