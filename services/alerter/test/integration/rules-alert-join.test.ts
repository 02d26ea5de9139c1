import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createLogger } from '@vigil/platform'
import { loadRuleSet } from '@vigil/sigma'
import type { Alert, Score } from '@vigil/schemas'
import { freshTestDatabase, type TestDatabase } from '@vigil/testkit'
import { createAlertStore } from '../../src/adapters/alert-store.ts'
import { migrateAlerterDatabase } from '../../src/adapters/database.ts'
import { buildAlert } from '../../src/build-alert.ts'
import { CORRELATED_DETECTOR, correlatedAlert, createAlertJoin } from '../../src/rules/alert-join.ts'
import { raiseAlerts, type RaiseDeps } from '../../src/rules/raise-alerts.ts'
import { alertIdOf, bucketOf, detectionAlert, type RaisedAlert } from '../../src/rules/sigma-alerts.ts'

// The join of Sigma and model alerts against the real Postgres: a Sigma alert that meets model
// alerts of its own window and of the adjacent ones makes one correlated alert, the rule's window's,
// whatever order they come in and however often they are delivered; a pair an older alerter joined
// under the earlier window's id is not joined again.

const WINDOW = 600_000
const RULE_FIRED = Date.UTC(2025, 11, 10, 9, 10, 19) // 09:10:19, in the window 09:10-09:20
const RULES = fileURLToPath(new URL('../../rules', import.meta.url))
const sshdError = loadRuleSet([join(RULES, 'sigmahq/rules/linux/builtin/sshd/lnx_sshd_susp_ssh.yml')]).detections[0]!.rule.attribution

let db: TestDatabase
let deps: RaiseDeps
const published: Alert[] = []

beforeAll(async () => {
  db = await freshTestDatabase(inject('stack').PG_URL, 'alertjoin', (pool) => migrateAlerterDatabase(pool, createLogger('test', 'silent', 'test')))
  deps = {
    store: createAlertStore(db.pool, 10),
    producer: { send: async (_topic, records) => void published.push(...records.map((r) => r.value as Alert)) },
    sinks: { enqueue: async () => {} },
    join: createAlertJoin(db.pool, { windowMs: WINDOW, maxEvidence: 10 }),
  }
})
afterAll(async () => db?.drop())

const entity = (ip: string) => ({ kind: 'source.ip', id: ip })

function sigmaRaised(ip: string): RaisedAlert {
  const evidence = { eventId: `raw-logs/0/${ip}-rule`, topic: 'raw-logs', partition: 0, offset: '300', line: `sshd: error: kex_exchange_identification from ${ip}` }
  const match = { kind: 'detection' as const, rule: sshdError, eventId: evidence.eventId, eventTime: RULE_FIRED, source: 'sshd', alert: true }
  return detectionAlert(match, { entity: entity(ip), eventTime: RULE_FIRED, features: { auth_attempts: 1 }, evidence }, 'sigma@test', WINDOW, RULE_FIRED)
}

function modelRaised(ip: string, at: number, score: number, attempts: number): RaisedAlert {
  const s: Score = {
    eventId: `raw-logs/0/${ip}-${at}`, entity: entity(ip), eventTime: at, receivedAt: at, scoredAt: at, family: 'sshd', action: 'ssh_login_failed',
    score, rawScore: 0.8, modelVersion: 'v1', threshold: 0.99, features: { auth_attempts: attempts },
    evidence: { topic: 'raw-logs', partition: 0, offset: String(at % 100_000), line: `Failed password for root from ${ip} (${attempts} attempts)` },
  }
  return { alert: buildAlert(s, { windowMs: WINDOW }, at), eventId: s.eventId, eventTime: at }
}

const correlatedRows = async (ip: string) => (await db.pool.query<{ alert_id: string; first_seen: Date; event_count: number; body: Alert }>(
  'SELECT alert_id, first_seen, event_count, body FROM alerts WHERE detector = $1 AND entity_id = $2 ORDER BY alert_id', [CORRELATED_DETECTOR, ip])).rows

describe('the join of Sigma and model alerts', () => {
  const modelBefore = (ip: string) => modelRaised(ip, Date.UTC(2025, 11, 10, 9, 5, 0), 0.995, 7) // the window before the rule's
  const modelSame = (ip: string) => modelRaised(ip, Date.UTC(2025, 11, 10, 9, 12, 0), 0.9999, 17) // the rule's window

  it.each([
    ['the model alerts first', '185.190.58.151', (ip: string) => [modelBefore(ip), sigmaRaised(ip), modelSame(ip)]],
    ['the rule fires first', '185.190.58.152', (ip: string) => [sigmaRaised(ip), modelSame(ip), modelBefore(ip)]],
  ])('makes one correlated alert of a Sigma alert and the model alerts of its window and the one before, the rule\'s window\'s (%s)', async (_order, ip, order) => {
    for (const raised of order(ip)) await raiseAlerts([raised], deps)
    const sigma = sigmaRaised(ip).alert
    const rows = await correlatedRows(ip)
    expect(rows.map((r) => r.alert_id)).toEqual([alertIdOf(entity(ip), CORRELATED_DETECTOR, bucketOf(RULE_FIRED, WINDOW))])
    const [row] = rows
    expect(row!.event_count).toBe(2) // both pairs, in the one alert
    expect(bucketOf(row!.first_seen.getTime(), WINDOW)).toBe(bucketOf(RULE_FIRED, WINDOW)) // never dated before the rule fired
    expect(row!.body.reasons!.filter((r) => r.startsWith(`Sigma alert ${sigma.alertId}`))).toHaveLength(1)
    // its score and features are the stronger model alert's, whose line it cites first
    expect(row!.body.features).toEqual({ auth_attempts: 17 })
    expect(row!.body.evidence[0]).toEqual(modelSame(ip).alert.evidence[0])
    expect(new Set(published.filter((a) => a.detector === CORRELATED_DETECTOR && a.entity.id === ip).map((a) => a.alertId))).toEqual(new Set([row!.alert_id]))

    // Every alert delivered again: nothing new, nothing counted twice.
    const before = published.length
    for (const raised of order(ip)) await raiseAlerts([raised], deps)
    expect(await correlatedRows(ip)).toEqual(rows)
    expect(published).toHaveLength(before)
  })

  it('does not join again a pair an older alerter joined under the earlier window\'s id (a rolling upgrade)', async () => {
    const ip = '185.190.58.153'
    await deps.store.record(modelBefore(ip).alert, modelBefore(ip).eventId, modelBefore(ip).eventTime)
    await deps.store.record(sigmaRaised(ip).alert, sigmaRaised(ip).eventId, RULE_FIRED)
    // As an alerter before this one stored the pair: named by the earlier of the two windows.
    const old = correlatedAlert(sigmaRaised(ip).alert, modelBefore(ip).alert, WINDOW, 10)
    const earlierId = alertIdOf(entity(ip), CORRELATED_DETECTOR, bucketOf(modelBefore(ip).eventTime, WINDOW))
    await deps.store.record({ ...old.alert, alertId: earlierId }, old.eventId, old.eventTime)

    // The new alerter redoes the join (the Sigma alert's event delivered again as the upgrade restarts its consumer).
    await raiseAlerts([sigmaRaised(ip)], deps)
    expect((await correlatedRows(ip)).map((r) => [r.alert_id, r.event_count])).toEqual([[earlierId, 1]])
    // A model alert of the rule's window is a new pair: it joins under the rule's window.
    await raiseAlerts([modelSame(ip)], deps)
    const rulesWindow = alertIdOf(entity(ip), CORRELATED_DETECTOR, bucketOf(RULE_FIRED, WINDOW))
    expect((await correlatedRows(ip)).map((r) => [r.alert_id, r.event_count]).sort()).toEqual([[earlierId, 1], [rulesWindow, 1]].sort())
  })

  it('joins a model alert of the window after the rule\'s into the rule\'s correlated alert: one attack across the boundary', async () => {
    const ip = '185.190.58.154'
    const modelAfter = modelRaised(ip, Date.UTC(2025, 11, 10, 9, 20, 3), 0.999, 9) // just past the rule's window
    await raiseAlerts([sigmaRaised(ip)], deps)
    await raiseAlerts([modelAfter], deps)
    const rows = await correlatedRows(ip)
    expect(rows.map((r) => [r.alert_id, r.event_count])).toEqual([[alertIdOf(entity(ip), CORRELATED_DETECTOR, bucketOf(RULE_FIRED, WINDOW)), 1]])
    expect(rows[0]!.first_seen.getTime()).toBe(modelAfter.eventTime) // when both had fired
  })

  it.each([
    ['the rule fires first', '185.190.58.160', true],
    ['the model alerts first', '185.190.58.161', false],
  ])('joins a model alert that went on from two windows before the rule\'s, with one model alert and one correlated alert (%s)', async (_order, ip, ruleFirst) => {
    const continuing: RaiseDeps = {
      ...deps, store: createAlertStore(db.pool, 10, { gapMs: WINDOW, maxSpanMs: 86_400_000 }),
      join: createAlertJoin(db.pool, { windowMs: WINDOW, maxSpanMs: 86_400_000, maxEvidence: 10 }),
    }
    // Every 3 minutes from 08:50 to 09:14: one model alert, first seen two windows before the rule fired.
    const model = Array.from({ length: 9 }, (_, k) => modelRaised(ip, Date.UTC(2025, 11, 10, 8, 50 + 3 * k, 0), 0.995, k + 1))
    const order = ruleFirst ? [sigmaRaised(ip), ...model] : [...model.slice(0, 7), sigmaRaised(ip), ...model.slice(7)]
    for (const raised of order) await raiseAlerts([raised], continuing)
    const { rows } = await db.pool.query<{ alert_id: string; event_count: number }>(
      "SELECT alert_id, event_count FROM alerts WHERE detector = 'model:default' AND entity_id = $1", [ip])
    expect(rows).toEqual([{ alert_id: model[0]!.alert.alertId, event_count: 9 }])
    const correlated = await correlatedRows(ip)
    expect(correlated.map((r) => r.alert_id)).toEqual([alertIdOf(entity(ip), CORRELATED_DETECTOR, bucketOf(RULE_FIRED, WINDOW))])
  })
})
