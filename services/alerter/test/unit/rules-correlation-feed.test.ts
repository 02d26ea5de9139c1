import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { compileRuleSet, createMemoryCorrelationState, createSigmaEngine, loadRuleSet, sigmaEventOfFeatures, sourceOf } from '@vigil/sigma'
import type { FeatureRecord } from '@vigil/schemas'
import { createCorrelationFeed } from '../../src/rules/correlation-feed.ts'
import { failedLogin } from './rules-fakes.ts'

const set = loadRuleSet([fileURLToPath(new URL('../../rules/vigil/ssh-brute-force.yml', import.meta.url))])
const engine = createSigmaEngine(set)
const matched = (records: readonly FeatureRecord[]) => records.map((r) => {
  const event = sigmaEventOfFeatures(r)
  return { event, source: sourceOf(event), matches: engine.match(event) }
})
const firingsOf = (out: { eventId: string }[][]) => out.flat().map((f) => f.eventId)

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
    const feed = createCorrelationFeed(set.correlations, createMemoryCorrelationState())
    const out = await feed.observe(matched(batch))
    expect(firingsOf(out)).toEqual(['raw-logs/0/9'])
    const firing = out.flat()[0]!
    expect(firing).toMatchObject({ count: 10, groupBy: { 'source.ip': '183.62.140.253' }, timespanMs: 300_000 })
    expect(firing.members).toEqual(Array.from({ length: 10 }, (_, i) => `raw-logs/0/${i}`))
  })

  it('gives a batch delivered again the firing it completed, and fires nothing new for it; an event repeated within a batch counts once', async () => {
    const feed = createCorrelationFeed(set.correlations, createMemoryCorrelationState())
    const first = (await feed.observe(matched(batch))).flat()
    expect(first.map((f) => f.eventId)).toEqual(['raw-logs/0/9'])
    // what lets a batch whose alert was not stored raise it when handled again
    expect((await feed.observe(matched(batch))).flat()).toEqual(first)
    const doubled = createCorrelationFeed(set.correlations, createMemoryCorrelationState())
    expect(firingsOf(await doubled.observe(matched(batch.flatMap((r) => [r, r]))))).toEqual(['raw-logs/0/9'])
  })

  it('fires a value_count rule again for a later wave of new events with the same values', async () => {
    const spraying = compileRuleSet([{
      file: 'spraying.yml',
      text: `title: failed login\nid: failed\nname: failed\nlogsource: {product: linux, service: sshd}\ndetection:\n  k: ['Failed password']\n  condition: k\n---\n`
        + `title: spraying\nid: spraying\ncorrelation: {type: value_count, rules: [failed], group-by: [source.ip], timespan: 5m, condition: {gte: 3, field: user.name}}\n`,
    }])
    const sprayEngine = createSigmaEngine(spraying)
    const feed = createCorrelationFeed(spraying.correlations, createMemoryCorrelationState())
    const wave = (first: number, seconds: number) => ['root', 'admin', 'oracle'].map((user, i) => {
      const r = failedLogin(first + i, seconds + i, '10.9.9.9')
      return { ...r, event: { ...r.event, user: { name: user } } }
    })
    const observe = (records: FeatureRecord[]) => feed.observe(records.map((r) => {
      const event = sigmaEventOfFeatures(r)
      return { event, source: sourceOf(event), matches: sprayEngine.match(event) }
    }))
    expect(firingsOf(await observe(wave(0, 0)))).toEqual(['raw-logs/0/2'])
    expect(firingsOf(await observe(wave(10, 480)))).toEqual(['raw-logs/0/12'])
  })

  it('still fires on new failures after a firing, counting the ones that came after it', async () => {
    const feed = createCorrelationFeed(set.correlations, createMemoryCorrelationState())
    await feed.observe(matched(batch))
    const more = Array.from({ length: 10 }, (_, i) => failedLogin(200 + i, 300 + i * 5, '183.62.140.253'))
    // The 11th and 12th of the first batch came after its firing: with 8 new ones they make ten.
    expect(firingsOf(await feed.observe(matched(more)))).toEqual(['raw-logs/0/207'])
  })
})
