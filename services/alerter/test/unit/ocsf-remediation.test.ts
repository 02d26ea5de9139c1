import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import type { Alert } from '@vigil/schemas'
import { toDetectionFinding } from '../../src/ocsf/detection-finding.ts'
import { entryForTitles, REMEDIATIONS } from '../../src/ocsf/remediation.ts'
import { BRUTE_FORCE_IP, correlatedFixture, modelAlert, sigmaCorrelationAlert, sigmaDetectionAlert } from './ocsf-fixtures.ts'

const actionOf = (name: string) => REMEDIATIONS.find((r) => r.name === name)!.action
const remediation = (alert: Alert) => toDetectionFinding(alert).remediation.desc
const asRule = (alert: Alert, title: string): Alert => ({ ...alert, rules: [{ id: 'r', title, level: 'high', kind: 'detection', author: 'someone' }] })

describe('the remediation a finding recommends', () => {
  it('for SSH brute force (rule or model): block the source, then look for a successful login from it', () => {
    expect(remediation(sigmaCorrelationAlert())).toBe(actionOf('ssh-brute-force'))
    expect(actionOf('ssh-brute-force')).toMatch(/Block the source address at the firewall.*successful login/)
  })

  it('for a model anomaly: the action its leading feature suggests, then the entity\'s events with what stood out', () => {
    const alert = modelAlert()
    const [first, second] = alert.explanations!
    expect(remediation(alert)).toBe(
      `${actionOf('ssh-brute-force')} Review the recent events of source.ip ${BRUTE_FORCE_IP} from ${new Date(alert.firstSeen).toISOString()}; what stood out: `
      + `${first!.feature} ${first!.value} (training median 0, p99 3), ${second!.feature} ${second!.value} (training median 0, p99 1), hour_of_day ${alert.explanations![2]!.value} (training median 14, p99 23).`,
    )
    const timing = { ...alert, explanations: [{ feature: 'hour_of_day', value: 3, baselineP50: 14, baselineP99: 23, contribution: 1 }] }
    expect(remediation(timing)).toMatch(/^Review the recent events of source\.ip/)
  })

  it('for a correlated alert: treat as confirmed and escalate, then the rule\'s action', () => {
    expect(remediation(correlatedFixture())).toMatch(/^Treat as confirmed .* escalate to incident response\. Block the source address at the firewall/)
  })

  it('by rule title, first entry that fits, with a generic fallback', () => {
    const detection = sigmaDetectionAlert()
    expect(remediation(detection)).toBe(actionOf('ssh-login'))
    expect(remediation(asRule(detection, 'SQL Injection Strings In URI'))).toBe(actionOf('web-scanner'))
    expect(remediation(asRule(detection, 'Hack Tool User Agent'))).toBe(actionOf('web-scanner'))
    expect(remediation(asRule(detection, 'Crypto Miner User Agent'))).toBe(actionOf('malware-c2'))
    expect(remediation(asRule(detection, 'Webshell ReGeorg Detection Via Web Logs'))).toBe(actionOf('webshell'))
    expect(remediation(asRule(detection, 'CVE-2021-41773 Exploitation Attempt'))).toBe(actionOf('web-exploit'))
    expect(remediation(asRule(detection, 'SSHD Error Message CVE-2018-15473'))).toBe(actionOf('sshd-exploit'))
    expect(remediation(asRule(detection, 'Successful SSH login after an anomalous failure rate from the same source'))).toBe(actionOf('ssh-login-after-guessing'))
    expect(remediation(asRule(detection, 'Sudo Privilege Escalation CVE-2019-14287 - Builtin'))).toBe(actionOf('host-tampering'))
    expect(remediation(asRule(detection, 'Apache Threading Error'))).toMatch(/^Review the evidence lines/)
    expect(remediation({ ...detection, rules: [] })).toBe(actionOf('ssh-login')) // the title names the rule
  })

  it('is documented: the README table lists every entry', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../src/ocsf/README.md', import.meta.url)), 'utf8')
    for (const entry of REMEDIATIONS) expect(readme, entry.name).toContain(`| \`${entry.name}\` |`)
    expect(entryForTitles(['nothing we know'])).toBeUndefined()
  })
})
