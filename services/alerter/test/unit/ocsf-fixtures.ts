// Alerts of every kind, built by the alerter's own builders from lines of the real OpenSSH sample
// (loghub OpenSSH_2k.log), each line at its line index as its raw-logs offset (partition 0).
import { fileURLToPath } from 'node:url'
import { loadRuleSet, type CorrelationMatch, type DetectionMatch } from '@vigil/sigma'
import type { Alert, AlertEvidence, MatchedRule, Score } from '@vigil/schemas'
import { OPENSSH_SAMPLE, readLogLines } from '@vigil/testkit'
import { buildAlert } from '../../src/build-alert.ts'
import { correlatedAlert } from '../../src/rules/alert-join.ts'
import { correlationAlert, detectionAlert, type HitContext } from '../../src/rules/sigma-alerts.ts'

export const SAMPLE_LINES = readLogLines(OPENSSH_SAMPLE)
export const WINDOW_MS = 600_000
const RULE_SET_VERSION = 'sigma@3f2a9c1d'
const MODEL_VERSION = 'default@2025-12-01T00:00:00Z'
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** The sample's syslog timestamps have no year; the featurizer's tests take 2025. */
export function eventTimeOf(line: string): number {
  const m = /^(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) /.exec(line)
  if (!m) throw new Error(`no syslog timestamp: ${line}`)
  return Date.UTC(2025, MONTHS.indexOf(m[1]!), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]))
}

export const evidenceAt = (index: number): AlertEvidence => ({
  eventId: `raw-logs/0/${index}`, topic: 'raw-logs', partition: 0, offset: String(index), line: SAMPLE_LINES[index]!,
})

const indexesWhere = (test: (line: string) => boolean) => SAMPLE_LINES.flatMap((l, i) => (test(l) ? [i] : []))

const RULES_DIR = (path: string) => fileURLToPath(new URL(path, import.meta.url))
const sshRules = loadRuleSet([RULES_DIR('../../rules/vigil/ssh-brute-force.yml')])
const anomalyRules = loadRuleSet([RULES_DIR('../../../../packages/sigma/rules/vigil/ssh-anomaly-then-login.yml')])
const bruteForce = sshRules.correlations[0]!.rule.attribution
const failedLogin = sshRules.correlations[0]!.steps[0]!.rule.attribution
const sshLogin = anomalyRules.detections.find((d) => d.rule.attribution.title === 'Successful SSH login')!.rule.attribution

// The brute force in the sample: the first ten "Failed password" lines from 183.62.140.253.
export const BRUTE_FORCE_IP = '183.62.140.253'
const failures = indexesWhere((l) => l.includes('Failed password') && l.includes(`from ${BRUTE_FORCE_IP} `)).slice(0, 10)
const lastFailure = failures.at(-1)!
const T_LAST = eventTimeOf(SAMPLE_LINES[lastFailure]!)
const bruteForceEntity = { kind: 'source.ip', id: BRUTE_FORCE_IP }
const hitAt = (index: number, features: Record<string, number>): HitContext => ({
  entity: bruteForceEntity, eventTime: eventTimeOf(SAMPLE_LINES[index]!), features, evidence: evidenceAt(index),
})

// What the source did in the five minutes up to its tenth failure, counted from the sample.
const recent = indexesWhere((l) => l.includes(`${BRUTE_FORCE_IP}`) && eventTimeOf(l) > T_LAST - 300_000 && eventTimeOf(l) <= T_LAST)
const count = (test: (l: string) => boolean) => recent.filter((i) => test(SAMPLE_LINES[i]!)).length
const features = {
  auth_failures: count((l) => l.includes('Failed password')),
  invalid_user_attempts: count((l) => l.includes('Invalid user')),
  hour_of_day: new Date(T_LAST).getUTCHours(),
}

/** A model alert: the anomaly model on the tenth failure, with its top features against a training baseline. */
export function modelAlert(): Alert {
  const explanations = [
    { feature: 'auth_failures', value: features.auth_failures, baselineP50: 0, baselineP99: 3, contribution: 0.55 },
    { feature: 'invalid_user_attempts', value: features.invalid_user_attempts, baselineP50: 0, baselineP99: 1, contribution: 0.3 },
    { feature: 'hour_of_day', value: features.hour_of_day, baselineP50: 14, baselineP99: 23, contribution: 0.15 },
  ]
  const score: Score = {
    eventId: `raw-logs/0/${lastFailure}`, entity: bruteForceEntity, eventTime: T_LAST, receivedAt: T_LAST + 40, scoredAt: T_LAST + 90,
    family: 'sshd', action: 'ssh_login_failed', score: 0.9996, rawScore: 0.71, modelVersion: MODEL_VERSION, threshold: 0.99, features,
    explanations: explanations.map((e) => ({ ...e, text: `${e.feature} ${e.value}, training p99 ${e.baselineP99}` })),
    evidence: { topic: 'raw-logs', partition: 0, offset: String(lastFailure), line: SAMPLE_LINES[lastFailure]! },
  }
  return buildAlert(score, { windowMs: WINDOW_MS }, T_LAST + 120)
}

/** A Sigma detection alert: "Successful SSH login" on the sample's first accepted password. */
export function sigmaDetectionAlert(): Alert {
  const index = indexesWhere((l) => l.includes('Accepted password for'))[0]!
  const ip = /from (\S+) port/.exec(SAMPLE_LINES[index]!)![1]!
  const eventTime = eventTimeOf(SAMPLE_LINES[index]!)
  const match: DetectionMatch = { kind: 'detection', rule: sshLogin, eventId: `raw-logs/0/${index}`, eventTime, source: 'sshd', alert: true }
  const hit: HitContext = { entity: { kind: 'source.ip', id: ip }, eventTime, features: { auth_attempts: 1 }, evidence: evidenceAt(index) }
  return detectionAlert(match, hit, RULE_SET_VERSION, WINDOW_MS, eventTime + 150).alert
}

/** A Sigma correlation alert: "SSH brute force from one source" firing on the tenth failure. */
export function sigmaCorrelationAlert(): Alert {
  const firing: CorrelationMatch = {
    kind: 'correlation', rule: bruteForce, type: 'event_count', correlated: [failedLogin], groupBy: { 'source.ip': BRUTE_FORCE_IP },
    count: failures.length, members: failures.map((i) => `raw-logs/0/${i}`), quotes: failures.map(() => null), eventId: `raw-logs/0/${lastFailure}`, eventTime: T_LAST,
  }
  const members = failures.map(evidenceAt)
  return correlationAlert(firing, hitAt(lastFailure, features), members, RULE_SET_VERSION, WINDOW_MS, 10, T_LAST + 200).alert
}

/** A correlated alert: the brute-force correlation and the model alert on the same source. */
export function correlatedFixture(): Alert {
  return correlatedAlert(sigmaCorrelationAlert(), modelAlert(), WINDOW_MS, 10, T_LAST + 300).alert
}

/** The model alert about another kind of entity (the host, a user, or a kind Vigil does not place). */
export const modelAlertAbout = (kind: string, id: string): Alert => ({ ...modelAlert(), entity: { kind, id } })

const SIGMAHQ = (path: string) => RULES_DIR(`../../rules/sigmahq/${path}`)

/** A SigmaHQ rule the alerter ships (a path under rules/sigmahq), as an alert names it: with its real title and ATT&CK tags. */
export function sigmahqRule(path: string): MatchedRule {
  const { detections } = loadRuleSet([SIGMAHQ(path)])
  const { id, title, level, author, tags } = detections[0]!.rule.attribution
  return { id, title, level: level ?? 'medium', kind: 'detection', author, tags }
}

/** The Sigma detection alert, raised instead by these rules. */
export const sigmaAlertBy = (...rules: MatchedRule[]): Alert => ({ ...sigmaDetectionAlert(), title: rules[0]!.title, rules })
