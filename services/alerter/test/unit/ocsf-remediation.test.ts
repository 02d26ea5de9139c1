import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadRuleSet } from '@vigil/sigma'
import type { Alert } from '@vigil/schemas'
import { toDetectionFinding } from '../../src/ocsf/detection-finding.ts'
import { entryForTags, entryForTitles, REMEDIATIONS } from '../../src/ocsf/remediation.ts'
import { DEFAULT_RULE_DIRS, loadRules } from '../../src/rules/rule-set.ts'
import { matchedRule } from '../../src/rules/sigma-alerts.ts'
import {
  BRUTE_FORCE_IP, correlatedFixture, modelAlert, sigmaAlertBy, sigmahqRule, sigmaCorrelationAlert, sigmaDetectionAlert,
} from './ocsf-fixtures.ts'

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
      + `${first!.feature} ${first!.value} (training p99 3), ${second!.feature} ${second!.value} (training p99 1), hour_of_day ${alert.explanations![2]!.value} (training median 14).`,
    )
    // Each value beside the baseline it left: above p99, below the median, or within both.
    const beside = (value: number) => remediation({ ...alert, explanations: [{ feature: 'seconds_since_previous', value, baselineP50: 600, baselineP99: 900, contribution: 1 }] })
    expect(beside(0)).toMatch(/seconds_since_previous 0 \(training median 600\)\.$/)
    expect(beside(5000)).toMatch(/seconds_since_previous 5000 \(training p99 900\)\.$/)
    expect(beside(700)).toMatch(/seconds_since_previous 700 \(rare in training, median 600, p99 900\)\.$/)
    // A value usual for training, named against the training rows nearest the event: their range, whichever side it left.
    const apart = (value: number) => remediation({ ...alert, explanations: [{ feature: 'bytes', value, baselineP50: 60, baselineP99: 1500, contribution: 1, nearestLow: 52, nearestHigh: 60 }] })
    expect(apart(40)).toMatch(/bytes 40 \(nearest rows of the training sample 52 to 60\)\.$/)
    expect(apart(700)).toMatch(/bytes 700 \(nearest rows of the training sample 52 to 60\)\.$/)
    // Its feature's entry is no ground for action: a failure ratio lower than its neighbours' does not block the source.
    const lower = remediation({ ...alert, explanations: [{ feature: 'auth_failure_ratio', value: 0.25, baselineP50: 0, baselineP99: 1, contribution: 1, nearestLow: 0.33, nearestHigh: 0.5 }] })
    expect(lower).toMatch(/^Review the recent events of source\.ip .*auth_failure_ratio 0\.25 \(nearest rows of the training sample 0\.33 to 0\.5\)\.$/)
    expect(remediation({ ...alert, explanations: [{ feature: 'auth_failure_ratio', value: 0.25, baselineP50: 0, baselineP99: 1, contribution: 1, nearestLow: 0.5, nearestHigh: 0.5 }] }))
      .toMatch(/\(nearest rows of the training sample all 0\.5\)\.$/)
    // A value named only for lying in an outer tenth of training: its p90 or p10, and no entry's action.
    const tenth = (feature: string, value: number, outerTenth: number) => remediation({ ...alert, explanations: [{ feature, value, baselineP50: 48, baselineP99: 404, contribution: 1, outerTenth }] })
    expect(tenth('bytes', 364, 60)).toMatch(/^Review the recent events of source\.ip .*bytes 364 \(above 90% of training rows, p90 60\)\.$/)
    expect(tenth('bytes', 40, 44)).toMatch(/bytes 40 \(below 90% of training rows, p10 44\)\.$/)
    expect(tenth('invalid_user_attempts', 2, 1)).toMatch(/^Review the recent events of source\.ip .*invalid_user_attempts 2 \(above 90% of training rows, p90 1\)\.$/)
    // Whatever the order, the action comes from a reason that left its training range.
    const mixed = remediation({ ...alert, explanations: [
      { feature: 'bytes', value: 40, baselineP50: 60, baselineP99: 1500, contribution: 0.6, nearestLow: 52, nearestHigh: 60 },
      { feature: 'invalid_user_attempts', value: 9, baselineP50: 0, baselineP99: 2, contribution: 0.4 },
    ] })
    expect(mixed.startsWith(actionOf('ssh-brute-force'))).toBe(true)
    const timing = { ...alert, explanations: [{ feature: 'hour_of_day', value: 3, baselineP50: 14, baselineP99: 23, contribution: 1 }] }
    expect(remediation(timing)).toMatch(/^Review the recent events of source\.ip/)
  })

  it('for a correlated alert: treat as confirmed and escalate, then the rule\'s action', () => {
    expect(remediation(correlatedFixture())).toMatch(/^Treat as confirmed .* escalate to incident response\. Block the source address at the firewall/)
  })

  it('by the rules\' ATT&CK tags first: the first technique listed that has an entry, sub-techniques included', () => {
    // Real SigmaHQ rules as the alerter ships them, tags in the rule's own order.
    const hackTool = sigmahqRule('rules/web/proxy_generic/proxy_ua_hacktool.yml') // t1190, then t1110
    expect(hackTool.tags).toEqual(['attack.initial-access', 'attack.t1190', 'attack.credential-access', 'attack.t1110'])
    expect(remediation(sigmaAlertBy(hackTool))).toBe(actionOf('web-exploit'))
    expect(remediation(sigmaAlertBy(sigmahqRule('rules-emerging-threats/2019/Malware/Ursnif/proxy_malware_ursnif_c2_url.yml')))).toBe(actionOf('malware-c2'))
    expect(remediation(sigmaAlertBy(sigmahqRule('rules-emerging-threats/2023/Exploits/CVE-2023-34362-MOVEit-Transfer-Exploit/web_cve_2023_34362_known_payload_request.yml.yml'))))
      .toBe(actionOf('webshell')) // t1505.003; its title names no web shell the title patterns know ("Potential Web Shell Request")
    expect(remediation(sigmaAlertBy(sigmahqRule('rules-emerging-threats/2019/Exploits/CVE-2019-14287/lnx_sudo_exploit_cve_2019_14287.yml')))).toBe(actionOf('host-tampering'))
    // Tags win over titles: retitled, the libssh rule's title alone would say SSH, its tag says exploitation of a public-facing application.
    const libssh = sigmahqRule('rules-emerging-threats/2023/Exploits/CVE-2023-2283/lnx_sshd_exploit_cve_2023_2283_libssh_authentication_bypass.yml')
    const sshTitled = { ...libssh, title: 'SSHD authentication bypass' }
    expect(remediation(sigmaAlertBy(sshTitled))).toBe(actionOf('web-exploit'))
    expect(remediation(sigmaAlertBy({ ...sshTitled, tags: [] }))).toBe(actionOf('sshd-exploit'))
    // A technique no entry lists falls through to the titles (t1589 is reconnaissance, no action of its own).
    const enumeration = sigmahqRule('rules-emerging-threats/2018/Exploits/CVE-2018-15473/lnx_sshd_exploit_cve_2018_15473.yml')
    expect(entryForTags(enumeration.tags!)).toBeUndefined()
    expect(remediation(sigmaAlertBy(enumeration))).toBe(actionOf('sshd-exploit'))
    // Vigil's brute-force correlation carries attack.t1110.001.
    expect(entryForTags(sigmaCorrelationAlert().rules!.flatMap((r) => r.tags ?? []))?.name).toBe('ssh-brute-force')
    expect(entryForTags(['attack.t1110', 'attack.T1110.003'])?.name).toBe('ssh-brute-force')
    expect(entryForTags(['attack.t11100', 'attack.credential-access', 'cve.2021-41773', 'attack.g0032', 'attack.t1505.001'])).toBeUndefined()
  })

  it('for an SSH scan: block the source and look for the logins that often follow, by its title, whatever its tags', () => {
    const { correlations } = loadRuleSet([fileURLToPath(new URL('../../rules/vigil/ssh-scan.yml', import.meta.url))])
    const { attribution } = correlations[0]!.rule
    expect(remediation(sigmaAlertBy(matchedRule(attribution, 'correlation')))).toBe(actionOf('ssh-scan'))
    expect(remediation(sigmaAlertBy({ ...matchedRule(attribution, 'correlation'), tags: undefined }))).toBe(actionOf('ssh-scan'))
    expect(actionOf('ssh-scan')).toMatch(/^Block the source address at the firewall.*logins from it/)
  })

  it('for a web scan: block or rate-limit the source at the proxy, and check what it got', () => {
    const { correlations } = loadRuleSet([fileURLToPath(new URL('../../rules/vigil/web-scan.yml', import.meta.url))])
    const { attribution } = correlations[0]!.rule
    expect(remediation(sigmaAlertBy(matchedRule(attribution, 'correlation')))).toBe(actionOf('web-scanner'))
    expect(entryForTags(attribution.tags ?? [])?.name).toBe('web-scanner') // by its tag, whatever its title
  })

  it('for a network sweep or port scan: check what answered; block an outside source, isolate an inside one; not the web scanner\'s proxy', () => {
    const { correlations } = loadRuleSet([fileURLToPath(new URL('../../rules/vigil/network-scan.yml', import.meta.url))])
    expect(correlations).toHaveLength(2)
    // As the alerter lists them: the correlation, then every detection it names (sigma-alerts.ts correlationAlert).
    for (const { rule, steps } of correlations) {
      const alert = sigmaAlertBy(matchedRule(rule.attribution, 'correlation'), ...steps.map((s) => matchedRule(s.rule.attribution, 'detection')))
      expect(remediation(alert), rule.attribution.title).toBe(actionOf('network-scan'))
    }
    expect(actionOf('network-scan')).toMatch(/which probed hosts and ports answered.*block it at the firewall.*isolate the host/)
  })

  it('for Zeek\'s notices: a scan as Vigil\'s own, password guessing as brute force, an attack as an exploit, malware as malware', () => {
    const { detections } = loadRuleSet([fileURLToPath(new URL('../../rules/vigil/zeek-notice.yml', import.meta.url))])
    const actionFor = (title: string) => remediation(sigmaAlertBy(matchedRule(detections.find((d) => d.rule.attribution.title === title)!.rule.attribution, 'detection')))
    expect(actionFor('Network scan Zeek reported')).toBe(actionOf('network-scan'))
    expect(actionFor('Password guessing Zeek reported')).toBe(actionOf('ssh-brute-force'))
    expect(actionFor('Attack Zeek reported')).toBe(actionOf('web-exploit'))
    expect(actionFor('Malware download Zeek reported')).toBe(actionOf('malware-c2'))
  })

  it('for an RDP brute force: block the source, look for a Windows logon it made', () => {
    const { correlations } = loadRuleSet([fileURLToPath(new URL('../../rules/vigil/rdp-brute-force.yml', import.meta.url))])
    expect(remediation(sigmaAlertBy(matchedRule(correlations[0]!.rule.attribution, 'correlation')))).toBe(actionOf('ssh-brute-force'))
    expect(actionOf('ssh-brute-force')).toMatch(/Block the source address at the firewall.*Windows logon, event 4624/)
  })

  it('lists each technique under one entry at most', () => {
    const techniques = REMEDIATIONS.flatMap((r) => r.techniques ?? [])
    expect(new Set(techniques).size).toBe(techniques.length)
    for (const t of techniques) expect(t).toMatch(/^t\d{4}(\.\d{3})?$/)
  })

  it('by rule title for rules without a known technique, first entry that fits, with a generic fallback', () => {
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
    for (const entry of REMEDIATIONS) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${entry.name}\` |`))
      expect(row, entry.name).toBeDefined()
      for (const t of entry.techniques ?? []) expect(row, `${entry.name} ${t}`).toContain(`T${t.slice(1)}`)
    }
    expect(entryForTitles(['nothing we know'])).toBeUndefined()
  })

  it('is documented: the README counts the default rules by how they get their action, as they are', () => {
    const { set } = loadRules(DEFAULT_RULE_DIRS, { info: () => {}, debug: () => {} })
    const rules = [...set.detections, ...set.correlations].map(({ rule }) => rule)
    const byTag = rules.filter((r) => entryForTags(r.attribution.tags ?? []))
    const byTitle = rules.filter((r) => !byTag.includes(r) && entryForTitles([r.attribution.title]))
    const generic = rules.filter((r) => !byTag.includes(r) && !byTitle.includes(r))
    // A detection a correlation names raises no alert of its own (Sigma's generate: false).
    const fed = new Set(set.correlations.flatMap((c) => c.steps.map((s) => s.rule.attribution.id)))
    const feedsOnly = generic.filter((r) => fed.has(r.attribution.id))
    const readme = readFileSync(fileURLToPath(new URL('../../src/ocsf/README.md', import.meta.url)), 'utf8').replace(/\s+/g, ' ')
    expect(readme).toContain(`Of the ${rules.length} rules the alerter loads by default (${set.detections.length} detections, ${set.correlations.length} correlations), `
      + `${byTag.length} get their action by tag, ${byTitle.length} by title and ${generic.length} the generic action, ${feedsOnly.length} of them Vigil's detections `
      + `that only feed a correlation and raise no alert of their own (by titles alone, ${rules.filter((r) => entryForTitles([r.attribution.title])).length} got one).`)
  })
})
