import { describe, expect, it } from 'vitest'
import { createLogger } from '@vigil/platform'
import { createFeedbackLoop, type FeedbackMetrics } from '../../src/api/feedback-loop.ts'
import type { FeedbackVerdict } from '../../src/api/verdict-store.ts'

const log = createLogger('alerter', 'silent', 'test')

/** Gauges and a counter that keep what was set, as prom-client would export it. */
function recordingMetrics() {
  const gauge = () => {
    const values = new Map<string, number>()
    return { values, set: (labels: Record<string, string>, v: number) => void values.set(JSON.stringify(labels), v), reset: () => values.clear() }
  }
  const ratio = gauge()
  const verdicts = gauge()
  const requests = new Map<string, number>()
  let active = -1
  const metrics: FeedbackMetrics = {
    alertFalsePositiveRatio: ratio,
    alertVerdicts: verdicts,
    suppressionsActive: { set: (v: number) => { active = v } },
    apiRequests: { inc: (l) => void requests.set(`${l.route} ${l.status}`, (requests.get(`${l.route} ${l.status}`) ?? 0) + 1) },
  }
  return {
    metrics,
    ratio: (detector: string) => ratio.values.get(JSON.stringify({ detector })),
    verdicts: (detector: string, verdict: string) => verdicts.values.get(JSON.stringify({ detector, verdict })),
    active: () => active,
    requests: (route: string, status: number) => requests.get(`${route} ${status}`) ?? 0,
  }
}

function verdict(alertId: string, kind: FeedbackVerdict['verdict'], detector: string, decidedAt: number): FeedbackVerdict {
  return {
    alertId, verdict: kind, note: null, analyst: null, detector, modelVersion: 'v1', entity: { kind: 'source.ip', id: '10.0.0.1' },
    firstSeen: 0, lastSeen: 1, decidedAt,
  }
}

/** Verdicts in memory, with the store's publish bookkeeping. */
function memoryVerdicts(all: FeedbackVerdict[]) {
  const published = new Set<string>()
  const key = (v: FeedbackVerdict) => `${v.alertId}@${v.decidedAt}`
  return {
    published: () => [...published],
    async unpublished() {
      return all.filter((v) => !published.has(key(v))).sort((a, b) => a.decidedAt - b.decidedAt)
    },
    async markPublished(v: FeedbackVerdict) {
      published.add(key(v))
    },
    async counts() {
      const counts = new Map<string, number>()
      for (const v of all) counts.set(`${v.detector}|${v.verdict}`, (counts.get(`${v.detector}|${v.verdict}`) ?? 0) + 1)
      return [...counts].map(([k, count]) => {
        const [detector, kind] = k.split('|') as [string, FeedbackVerdict['verdict']]
        return { detector, verdict: kind, count }
      })
    },
  }
}

describe('feedback loop', () => {
  it('publishes what is pending in order, stops at the first failure, and retries on the next round', async () => {
    const all = [verdict('a', 'true_positive', 'model:default', 1), verdict('b', 'false_positive', 'model:default', 2), verdict('c', 'false_positive', 'sigma:r1', 3)]
    const store = memoryVerdicts(all)
    const sent: string[] = []
    let brokerUp = false
    const m = recordingMetrics()
    const loop = createFeedbackLoop({
      verdicts: store, metrics: m.metrics, log, intervalMs: 60_000, activeSuppressions: () => 4,
      publishVerdict: async (v) => {
        if (!brokerUp) throw new Error('broker down')
        sent.push(v.alertId)
      },
    })
    try {
      await loop.runOnce()
      expect(sent).toEqual([])
      expect(store.published()).toEqual([])
      // metrics come from the table whether or not the topic took the verdicts
      expect(m.ratio('model:default')).toBe(0.5)
      expect(m.ratio('sigma:r1')).toBe(1)
      expect(m.verdicts('model:default', 'false_positive')).toBe(1)
      expect(m.active()).toBe(4)

      brokerUp = true
      await loop.runOnce()
      expect(sent).toEqual(['a', 'b', 'c'])
      expect(store.published()).toHaveLength(3)
      await loop.runOnce()
      expect(sent).toHaveLength(3) // nothing twice
    } finally {
      await loop.close()
    }
  })

  it('says whether one verdict was published', async () => {
    const store = memoryVerdicts([])
    const m = recordingMetrics()
    let up = false
    const loop = createFeedbackLoop({
      verdicts: store, metrics: m.metrics, log, intervalMs: 60_000, activeSuppressions: () => 0,
      publishVerdict: async () => { if (!up) throw new Error('down') },
    })
    try {
      expect(await loop.publish(verdict('x', 'true_positive', 'model:default', 5))).toBe(false)
      expect(store.published()).toEqual([])
      up = true
      expect(await loop.publish(verdict('x', 'true_positive', 'model:default', 5))).toBe(true)
      expect(store.published()).toEqual(['x@5'])
    } finally {
      await loop.close()
    }
  })
})
