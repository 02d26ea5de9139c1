import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { createMemoryCorrelationState, createSigmaEngine, loadRuleSet, sigmaEventOfFeatures, sourceOf } from '@vigil/sigma'
import type { FeatureRecord } from '@vigil/schemas'
import { createCorrelationFeed } from '../../src/rules/correlation-feed.ts'
import { createMemoryReplayGuard, type ReplayGuard } from '../../src/rules/replay-guard.ts'
import { failedLogin } from './rules-fakes.ts'

const set = loadRuleSet([fileURLToPath(new URL('../../rules/vigil/ssh-brute-force.yml', import.meta.url))])
const engine = createSigmaEngine(set)
const matched = (records: readonly FeatureRecord[]) => records.map((r) => {
  const event = sigmaEventOfFeatures(r)
  return { event, source: sourceOf(event), matches: engine.match(event) }
})
const firingsOf = (out: { eventId: string }[][]) => out.flat().map((f) => f.eventId)

// A guard that remembers nothing: the correlator alone.
const noGuard: ReplayGuard = { fired: async (items) => items.map(() => false), remember: async () => {} }

/** 12 failed logins from A, 20 s apart (the 10th completes the count), and 9 from B. */
const batch = [
  ...Array.from({ length: 12 }, (_, i) => failedLogin(i, i * 20, '183.62.140.253')),
  ...Array.from({ length: 9 }, (_, i) => failedLogin(100 + i, i * 20, '187.141.143.180')),
].sort((a, b) => a.eventTime - b.eventTime)

describe('the correlation feed', () => {
  it('loads the brute-force rule: 10 failed logins from one source in 5 minutes, the failed-login rule raising no alert of its own', () => {
    expect(set.skipped).toEqual([])
    expect(set.correlations[0]!.rule).toMatchObject({ type: 'event_count', groupBy: ['source.ip'], timespanMs: 300_000, condition: { gte: 10 } })
    expect(engine.match(sigmaEventOfFeatures(failedLogin(0, 0, '10.0.0.1')))).toMatchObject([{ alert: false }])
  })

  it('fires once for the source with ten failures in the window, with the ten as members', async () => {
    const feed = createCorrelationFeed(set.correlations, createMemoryCorrelationState(), createMemoryReplayGuard(), 600_000)
    const out = await feed.observe(matched(batch))
    expect(firingsOf(out)).toEqual(['raw-logs/0/9'])
    const firing = out.flat()[0]!
    expect(firing).toMatchObject({ count: 10, groupBy: { 'source.ip': '183.62.140.253' }, timespanMs: 300_000 })
    expect(firing.members).toEqual(Array.from({ length: 10 }, (_, i) => `raw-logs/0/${i}`))
  })

  it('does not fire again for a batch delivered twice, or for events repeated within a batch', async () => {
    const feed = createCorrelationFeed(set.correlations, createMemoryCorrelationState(), createMemoryReplayGuard(), 600_000)
    expect(firingsOf(await feed.observe(matched(batch)))).toHaveLength(1)
    expect(firingsOf(await feed.observe(matched(batch)))).toEqual([])
    const doubled = createCorrelationFeed(set.correlations, createMemoryCorrelationState(), createMemoryReplayGuard(), 600_000)
    expect(firingsOf(await doubled.observe(matched(batch.flatMap((r) => [r, r]))))).toEqual(['raw-logs/0/9'])
  })

  it('without the guard, the correlator alone fires again on the replay (what the guard is for)', async () => {
    const feed = createCorrelationFeed(set.correlations, createMemoryCorrelationState(), noGuard, 600_000)
    expect(firingsOf(await feed.observe(matched(batch)))).toHaveLength(1)
    expect(firingsOf(await feed.observe(matched(batch)))).toHaveLength(1)
  })

  it('still fires on new failures after a firing, counting the ones that came after it', async () => {
    const feed = createCorrelationFeed(set.correlations, createMemoryCorrelationState(), createMemoryReplayGuard(), 600_000)
    await feed.observe(matched(batch))
    const more = Array.from({ length: 10 }, (_, i) => failedLogin(200 + i, 300 + i * 5, '183.62.140.253'))
    // The 11th and 12th of the first batch came after its firing: with 8 new ones they make ten.
    expect(firingsOf(await feed.observe(matched(more)))).toEqual(['raw-logs/0/207'])
  })
})
