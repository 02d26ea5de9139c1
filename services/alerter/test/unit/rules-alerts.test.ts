import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadRuleSet, type CorrelationMatch, type DetectionMatch } from '@vigil/sigma'
import type { Alert, Score } from '@vigil/schemas'
import { buildAlert, modelDetector } from '../../src/build-alert.ts'
import { CORRELATED_DETECTOR, correlatedAlert, joinedWindows, kindOf } from '../../src/rules/alert-join.ts'
import { alertIdOf, bucketOf, correlationAlert, detectionAlert, escalate, evidenceOfQuote, MAX_QUOTED_LINE_CHARS, QUOTE_CUT_MARK, quoteOf, severityOfLevel, type HitContext } from '../../src/rules/sigma-alerts.ts'
import { toDetectionFinding } from '../../src/ocsf/detection-finding.ts'

const RULES = fileURLToPath(new URL('../../rules', import.meta.url))
const WINDOW = 600_000
const T = Date.UTC(2025, 11, 10, 7, 0, 0)
const set = loadRuleSet([join(RULES, 'sigmahq/rules/linux/builtin/sshd/lnx_sshd_susp_ssh.yml'), join(RULES, 'vigil/ssh-brute-force.yml')])
const sshdError = set.detections.find((d) => d.rule.attribution.id === 'e76b413a-83d0-4b94-8e4c-85db4a5b8bdc')!.rule.attribution
const bruteForce = set.correlations[0]!.rule.attribution
const failedLogin = set.correlations[0]!.steps[0]!.rule.attribution

const hit = (i: number, at = T, ip = '183.62.140.253'): HitContext => ({
  entity: { kind: 'source.ip', id: ip }, eventTime: at, features: { auth_failures: i },
  evidence: { eventId: `raw-logs/0/${i}`, topic: 'raw-logs', partition: 0, offset: String(i), line: `line ${i}` },
})
const detection = (eventTime = T): DetectionMatch => ({ kind: 'detection', rule: sshdError, eventId: 'raw-logs/0/1', eventTime, source: 'sshd', alert: true })

describe('Sigma alerts', () => {
  it('take their severity from the rule level (informational is low, no level is medium), one step up at most critical', () => {
    expect(['informational', 'low', 'medium', 'high', 'critical', null, 'HIGH'].map(severityOfLevel)).toEqual(['low', 'low', 'medium', 'high', 'critical', 'medium', 'high'])
    expect(['low', 'medium', 'high', 'critical'].map((s) => escalate(s as never))).toEqual(['medium', 'high', 'critical', 'critical'])
  })

  it('name alerts as model alerts do: hash of entity, detector and window', () => {
    const score = { entity: { kind: 'source.ip', id: '10.0.0.1' }, eventTime: T + 5_000, score: 0.999, eventId: 'e', evidence: { topic: 'raw-logs', partition: 0, offset: '0', line: 'l' }, features: {} } as unknown as Score
    expect(buildAlert(score, { windowMs: WINDOW }).alertId).toBe(alertIdOf(score.entity, modelDetector(), bucketOf(score.eventTime, WINDOW)))
  })

  it('raise one alert per entity, rule and window, keeping the rule attribution the DRL asks for', () => {
    const a = detectionAlert(detection(), hit(1), 'sigma@v', WINDOW, T)
    expect(a.alert).toMatchObject({
      detector: 'sigma:e76b413a-83d0-4b94-8e4c-85db4a5b8bdc', severity: 'medium', severityId: 3, modelVersion: 'sigma@v', score: 1, threshold: 1,
      title: 'Suspicious OpenSSH Daemon Error: source.ip 183.62.140.253', firstSeen: T, evidence: [hit(1).evidence],
    })
    expect(a.alert.reasons).toEqual([
      'Sigma rule "Suspicious OpenSSH Daemon Error" (e76b413a-83d0-4b94-8e4c-85db4a5b8bdc), level medium, by Florian Roth (Nextron Systems), license DRL-1.1',
      'references: https://github.com/openssh/openssh-portable/blob/c483a5c0fb8e8b8915fad85c5f6113386a4341ca/ssherr.c https://github.com/ossec/ossec-hids/blob/1ecffb1b884607cb12e619f9ab3c04f530801083/etc/rules/sshd_rules.xml',
    ])
    expect(a.eventId).toBe('raw-logs/0/1')
    const sameWindow = detectionAlert(detection(), hit(2, T + WINDOW - 1), 'sigma@v', WINDOW)
    const nextWindow = detectionAlert(detection(), hit(3, T + WINDOW), 'sigma@v', WINDOW)
    const otherEntity = detectionAlert(detection(), hit(4, T, '10.0.0.9'), 'sigma@v', WINDOW)
    expect(sameWindow.alert.alertId).toBe(a.alert.alertId)
    expect(new Set([a.alert.alertId, nextWindow.alert.alertId, otherEntity.alert.alertId]).size).toBe(3)
  })

  it('cite a fired correlation: what it counted, its attribution and its rules\', the completing event first', () => {
    const firing: CorrelationMatch = {
      kind: 'correlation', rule: bruteForce, type: 'event_count', correlated: [failedLogin], groupBy: { 'source.ip': '183.62.140.253' },
      count: 10, members: Array.from({ length: 10 }, (_, i) => `raw-logs/0/${i}`), quotes: Array.from({ length: 10 }, () => null), eventId: 'raw-logs/0/9', eventTime: T,
    }
    const members = Array.from({ length: 10 }, (_, i) => hit(i).evidence)
    const a = correlationAlert(firing, hit(9), members, 'sigma@v', WINDOW, 4, T)
    expect(a.alert).toMatchObject({ detector: `sigma:${bruteForce.id}`, severity: 'high', severityId: 4, title: 'SSH brute force from one source: source.ip 183.62.140.253' })
    expect(a.alert.evidence.map((e) => e.eventId)).toEqual(['raw-logs/0/9', 'raw-logs/0/0', 'raw-logs/0/1', 'raw-logs/0/2'])
    expect(a.alert.reasons).toEqual([
      '10 events (event_count) for source.ip=183.62.140.253',
      `Sigma correlation "SSH brute force from one source" (${bruteForce.id}), level high, by Vigil`,
      `Sigma rule "Failed SSH login" (${failedLogin.id}), level informational, by Vigil`,
    ])
    expect(a.eventId).toBe('raw-logs/0/9')
    // Every member's users, not only those of the four it cites.
    const named = correlationAlert(firing, hit(9), members.map((m, i) => ({ ...m, users: [`user${i}`] })), 'sigma@v', WINDOW, 4, T)
    // (the completing event's own evidence, hit(9)'s, names nobody here; members 0-8 name user0-user8)
    expect(named.users).toEqual(Array.from({ length: 9 }, (_, i) => `user${i}`))
  })
})

describe('correlated alerts (a Sigma alert and a model alert of one entity)', () => {
  const sigma = detectionAlert(detection(), hit(1, T + 30_000), 'sigma@v', WINDOW, T).alert
  const model = (at: number, score = 0.9995): Alert => ({
    ...buildAlert({
      eventId: 'raw-logs/0/77', entity: sigma.entity, eventTime: at, receivedAt: at, scoredAt: at, family: 'sshd', action: 'ssh_login_failed',
      score, rawScore: 1, modelVersion: 'v3', threshold: 0.99, features: { auth_failures: 40 },
      explanations: [{ feature: 'auth_failures', value: 40, baselineP50: 1, baselineP99: 3, contribution: 0.5, text: 'auth_failures 40, training p99 3' }],
      evidence: { topic: 'raw-logs', partition: 0, offset: '77', line: 'model line' },
    } satisfies Score, { windowMs: WINDOW }, at),
  })

  it('are a step more severe than the more severe of the two and cite both', () => {
    const c = correlatedAlert(sigma, model(T + 60_000), WINDOW, 10, T)
    expect(kindOf(sigma)).toBe('sigma')
    expect(kindOf(model(T))).toBe('model')
    // first seen when both had fired: the model's alert, a minute in
    expect(c.alert).toMatchObject({ detector: CORRELATED_DETECTOR, severity: 'critical', severityId: 5, score: 0.9995, modelVersion: 'v3', firstSeen: T + 60_000 })
    expect(c.alert.reasons![0]).toBe(`Sigma alert ${sigma.alertId} (${sigma.detector}, medium): ${sigma.title}`)
    expect(c.alert.reasons).toContain(sigma.reasons![0])
    expect(c.alert.reasons).toContain('auth_failures 40, training p99 3')
    expect(c.alert.evidence.map((e) => e.line)).toEqual(['model line', 'line 1']) // the line its score and features come from first
    expect(c.eventId).toBe(`${sigma.alertId}+${model(T + 60_000).alertId}`)
    expect(correlatedAlert(sigma, model(T, 0.995), WINDOW, 10).alert.severity).toBe('high') // medium and medium
  })

  it('name the model that scored: a model alert\'s detector and the correlated alert\'s model come from the score (MODEL_NAME)', () => {
    const fraud = { ...model(T + 60_000), ...buildAlert({
      eventId: 'raw-logs/0/78', entity: sigma.entity, eventTime: T, receivedAt: T, scoredAt: T, family: 'sshd', action: 'ssh_login_failed',
      score: 0.9995, rawScore: 1, modelVersion: 'v9', model: 'fraud', threshold: 0.99, features: {},
      evidence: { topic: 'raw-logs', partition: 0, offset: '78', line: 'x' },
    } satisfies Score, { windowMs: WINDOW }, T) }
    expect(fraud).toMatchObject({ detector: 'model:fraud', model: 'fraud' })
    expect(model(T)).toMatchObject({ detector: 'model:default', model: 'default' })
    const c = correlatedAlert(sigma, fraud, WINDOW, 10, T).alert
    expect(c.model).toBe('fraud')
    expect(toDetectionFinding(c).finding_info.related_analytics!.at(-1)).toMatchObject({ uid: 'model:fraud', version: 'v9' })
  })

  it('are the rule\'s window\'s: one Sigma alert joined with the model alerts of its window and the one before makes one correlated alert, dated when both had fired', () => {
    const modelFirst = correlatedAlert(sigma, model(T - WINDOW + 1), WINDOW, 10) // the window before the rule's
    const sameWindow = correlatedAlert(sigma, model(T + 60_000), WINDOW, 10)
    const rulesWindow = alertIdOf(sigma.entity, CORRELATED_DETECTOR, bucketOf(sigma.firstSeen, WINDOW))
    expect([modelFirst.alert.alertId, sameWindow.alert.alertId]).toEqual([rulesWindow, rulesWindow])
    expect([modelFirst.alert.firstSeen, sameWindow.alert.firstSeen]).toEqual([sigma.firstSeen, T + 60_000])
    expect(bucketOf(modelFirst.eventTime, WINDOW)).toBe(bucketOf(sigma.firstSeen, WINDOW))
    expect(modelFirst.eventId).not.toBe(sameWindow.eventId) // two pairs, each counted once in the one alert
  })

  it('are looked for in windows that agree from either side, the adjacent ones included', () => {
    const b = bucketOf(sigma.firstSeen, WINDOW)
    expect(joinedWindows('sigma', b)).toEqual([b - 1, b + 2])
    for (let modelWindow = b - 3; modelWindow <= b + 3; modelWindow++) {
      const [from, to] = joinedWindows('model', modelWindow)
      const [sigmaFrom, sigmaTo] = joinedWindows('sigma', b)
      // a model alert finds this Sigma alert exactly when this Sigma alert finds it
      expect(b >= from && b < to).toBe(modelWindow >= sigmaFrom && modelWindow < sigmaTo)
    }
    // A model alert just past the rule's window joins it too, under the rule's window.
    const later = correlatedAlert(sigma, model(sigma.firstSeen + WINDOW), WINDOW, 10).alert
    expect(later.alertId).toBe(alertIdOf(sigma.entity, CORRELATED_DETECTOR, b))
  })

  it('cite the event their score and features come from when the Sigma alert\'s lines fill the cap', () => {
    const failures = Array.from({ length: 10 }, (_, i) => hit(i, T + i * 1000).evidence)
    const rule = { ...sigma, evidence: failures }
    const c = correlatedAlert(rule, model(T + 60_000), WINDOW, 10).alert
    expect(c.evidence).toHaveLength(10)
    expect(c.evidence[0]).toEqual(model(T + 60_000).evidence[0])
    expect(c.features).toEqual({ auth_failures: 40 })
    expect(c.evidence.slice(1)).toEqual(failures.slice(0, 9)) // then the rule's, the earliest kept
  })
})

describe('a correlation member\'s quote', () => {
  it('keeps its event\'s evidence, and is no evidence when it is not one', () => {
    const evidence = { eventId: 'raw-logs/3/7', topic: 'raw-logs', partition: 3, offset: '7', line: 'Failed password for root', users: ['root'] }
    expect(evidenceOfQuote(quoteOf(evidence))).toEqual(evidence)
    const { users: _, ...withoutUsers } = evidence
    expect(evidenceOfQuote(quoteOf(withoutUsers))).toEqual(withoutUsers)
    for (const quote of [null, '', 'raw-logs/3/7', '[]', 'null', JSON.stringify({ ...evidence, partition: '3' }), JSON.stringify({ ...evidence, users: [1] })]) {
      expect(evidenceOfQuote(quote)).toBeNull()
    }
  })

  it('cuts a long line, never between the halves of a surrogate pair', () => {
    const evidence = { eventId: 'e', topic: 'raw-logs', partition: 0, offset: '1', line: 'a'.repeat(MAX_QUOTED_LINE_CHARS + 10) }
    expect(evidenceOfQuote(quoteOf(evidence))!.line).toBe(`${'a'.repeat(MAX_QUOTED_LINE_CHARS)}${QUOTE_CUT_MARK}`)
    const emoji = { ...evidence, line: `${'a'.repeat(MAX_QUOTED_LINE_CHARS - 1)}\u{1F600}${'b'.repeat(10)}` }
    const cut = evidenceOfQuote(quoteOf(emoji))!.line
    expect(cut).toBe(`${'a'.repeat(MAX_QUOTED_LINE_CHARS - 1)}${QUOTE_CUT_MARK}`)
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(cut)).toBe(false) // no lone high surrogate
    const short = { ...evidence, line: 'a'.repeat(MAX_QUOTED_LINE_CHARS) }
    expect(evidenceOfQuote(quoteOf(short))).toEqual(short)
  })
})
