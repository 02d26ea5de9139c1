import { describe, expect, it } from 'vitest'
import type { Score } from '@vigil/schemas'
import { buildAlert } from '../../src/build-alert.ts'
import { compileMatch, type SuppressionMatch } from '../../src/api/suppression-match.ts'
import { raiseAlerts } from '../../src/rules/raise-alerts.ts'
import { memoryRaiseDeps } from './rules-fakes.ts'

// The one path from raised alerts to the store, the sinks and `alerts`: what a suppression does to it.
const T = Date.UTC(2025, 11, 10, 7, 0, 0)
const score = (ip: string, i: number): Score => ({
  eventId: `raw-logs/0/${ip}-${i}`, entity: { kind: 'source.ip', id: ip }, eventTime: T + i * 1000, receivedAt: T, scoredAt: T,
  family: 'sshd', action: 'ssh_login_failed', score: 0.9995, rawScore: 1, threshold: 0.99, modelVersion: 'v1', features: { auth_failures: 9 },
  explanations: [{ feature: 'auth_failures', value: 9, baselineP50: 0, baselineP99: 2, contribution: 0.8, text: 'auth_failures 9, training p99 2' }],
  evidence: { topic: 'raw-logs', partition: 0, offset: String(i), line: `Failed password for root from ${ip}` },
} as Score)
const raised = (ip: string, i: number) => {
  const s = score(ip, i)
  return { alert: buildAlert(s, { windowMs: 600_000 }, T), eventId: s.eventId, eventTime: s.eventTime }
}

function suppressing(match: SuppressionMatch, suppressionId = 7) {
  const covers = compileMatch(match)
  return { isSuppressed: (alert: Parameters<typeof covers>[0]) => (covers(alert) ? { suppressionId } as never : undefined) }
}

describe('raising alerts', () => {
  it('stores a suppressed alert resolved, counts it, and neither notifies nor publishes it; others go on', async () => {
    const { deps, store, published, enqueued } = memoryRaiseDeps()
    const counted: string[] = []
    const out = await raiseAlerts([raised('10.0.0.1', 0), raised('10.0.0.2', 0)], {
      ...deps, suppressions: suppressing({ scope: 'cidr', value: '10.0.0.1/32', entityKind: null }), suppressed: { inc: ({ detector }) => void counted.push(detector) },
    })
    expect(out.map((a) => a.entity.id)).toEqual(['10.0.0.2'])
    expect(published.map((a) => a.entity.id)).toEqual(['10.0.0.2'])
    expect(enqueued.map((a) => a.entity.id)).toEqual(['10.0.0.2'])
    expect([...store.suppressed.values()]).toEqual([7])
    expect(counted).toEqual(['model:default'])
    // A later event of the suppressed alert is folded into it, still unannounced.
    expect(await raiseAlerts([raised('10.0.0.1', 1)], { ...deps, suppressions: suppressing({ scope: 'entity', value: '10.0.0.1', entityKind: null }) })).toEqual([])
    expect(published).toHaveLength(1)
  })

  it('carries the model\'s explanations, structured, beside their words', () => {
    const { alert } = raised('10.0.0.3', 0)
    expect(alert.explanations).toEqual([{ feature: 'auth_failures', value: 9, baselineP50: 0, baselineP99: 2, contribution: 0.8 }])
    expect(alert.reasons).toEqual(['auth_failures 9, training p99 2'])
  })

  it('says which members scored it high when no feature explains a score', () => {
    const unexplained = { ...score('10.0.0.4', 0), explanations: [], members: { 'isolation-forest': 0.41, 'onnx:classifier': 0.9995, 'knn-distance': 0.3, hbos: 0.2 } }
    expect(buildAlert(unexplained, { windowMs: 600_000 }, T).reasons).toEqual([
      'no feature stands out; the members scored onnx:classifier 0.9995, isolation-forest 0.4100, knn-distance 0.3000 (calibrated, of 1)',
    ])
    expect(buildAlert({ ...unexplained, members: {} }, { windowMs: 600_000 }, T).reasons).toEqual([])
  })
})
