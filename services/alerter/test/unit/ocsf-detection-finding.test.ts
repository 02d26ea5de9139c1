import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import avro from 'avsc'
import { describe, expect, it } from 'vitest'
import type { Alert } from '@vigil/schemas'
import { toDetectionFinding, type DetectionFinding } from '../../src/ocsf/detection-finding.ts'
import {
  BRUTE_FORCE_IP, SAMPLE_LINES, correlatedFixture, modelAlert, modelAlertAbout, sigmaCorrelationAlert, sigmaDetectionAlert,
} from './ocsf-fixtures.ts'

const SCHEMA_FILE = fileURLToPath(new URL('../../../../schemas/ocsf/detection-finding.avsc', import.meta.url))
const findingType = avro.Type.forSchema(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')))

/** The finding as a consumer receives it. */
const overTheWire = (f: DetectionFinding): Record<string, unknown> => JSON.parse(JSON.stringify(f))

/** Where the value breaks the Avro schema, as paths. */
function avroProblems(value: unknown): string[] {
  const problems: string[] = []
  findingType.isValid(value, { errorHook: (path: string[]) => void problems.push(path.join('.') || '(root)') })
  return problems
}

/** Keys the schema does not declare (avsc's isValid ignores them), so the schema describes all of the finding. */
function undeclaredKeys(type: avro.Type, value: unknown, path = ''): string[] {
  if (value === null || value === undefined) return []
  if (type instanceof avro.types.UnwrappedUnionType) {
    const branch = type.types.find((t) => t.typeName !== 'null' && t.isValid(value))
    return branch ? undeclaredKeys(branch, value, path) : []
  }
  if (type instanceof avro.types.ArrayType) return (value as unknown[]).flatMap((v, i) => undeclaredKeys(type.itemsType, v, `${path}[${i}]`))
  if (type instanceof avro.types.MapType) return Object.entries(value as object).flatMap(([k, v]) => undeclaredKeys(type.valuesType, v, `${path}.${k}`))
  if (type instanceof avro.types.RecordType) {
    const fields = new Map(type.fields.map((f) => [f.name, f.type]))
    return Object.entries(value as object).flatMap(([k, v]) => {
      const field = fields.get(k)
      return field ? undeclaredKeys(field, v, path ? `${path}.${k}` : k) : [path ? `${path}.${k}` : k]
    })
  }
  return []
}

// Required attributes and constraints of OCSF 1.5.0 for what Vigil writes: ocsf/ocsf-schema sources
// (events/findings/detection_finding.json, objects/anomaly_analysis.json, anomaly.json, baseline.json,
// analysis_target.json, observation.json, evidences.json, network_endpoint.json, _entity.json; the
// README names the commits), checked against the compiled 1.5.0 models of mcm/pydantic-ocsf
// (src/ocsf/v1_5_0). Relaxed in 1.4.0 and so no longer here: finding_info.title, product.vendor_name,
// observables.name. Attributes required only under a profile Vigil does not apply (cloud, osint,
// security_control) are left out.
const CLASS_REQUIRED = ['activity_id', 'category_uid', 'class_uid', 'finding_info', 'metadata', 'severity_id', 'time', 'type_uid']
const ENDPOINT_IDS = ['hostname', 'instance_uid', 'interface_name', 'interface_uid', 'ip', 'name', 'uid']
const OBJECT_RULES: { at: string; required?: string[]; atLeastOne?: string[] }[] = [
  { at: 'metadata', required: ['product', 'version'] },
  { at: 'metadata.product', atLeastOne: ['name', 'uid'] },
  { at: 'finding_info', required: ['uid'] },
  { at: 'finding_info.analytic', required: ['type_id'], atLeastOne: ['name', 'uid'] },
  { at: 'finding_info.related_analytics[]', required: ['type_id'], atLeastOne: ['name', 'uid'] },
  { at: 'evidences[]', atLeastOne: ['actor', 'api', 'connection_info', 'data', 'database', 'databucket', 'device', 'dst_endpoint', 'email', 'file', 'process', 'query', 'resources', 'src_endpoint', 'url', 'user', 'job', 'script'] },
  { at: 'evidences[].src_endpoint', atLeastOne: [...ENDPOINT_IDS, 'svc_name', 'domain'] },
  { at: 'evidences[].device', required: ['type_id'], atLeastOne: ENDPOINT_IDS },
  { at: 'device', required: ['type_id'], atLeastOne: ENDPOINT_IDS },
  { at: 'observables[]', required: ['type_id'] },
  { at: 'resources[]', atLeastOne: ['name', 'uid'] },
  { at: 'anomaly_analyses[]', required: ['analysis_targets', 'anomalies'] },
  { at: 'anomaly_analyses[].analysis_targets[]', required: ['name'] },
  { at: 'anomaly_analyses[].anomalies[]', required: ['observation_parameter', 'observations'] },
  { at: 'anomaly_analyses[].anomalies[].observations[]', required: ['value'] },
  { at: 'anomaly_analyses[].baselines[]', required: ['observation_parameter', 'observations'] },
  { at: 'anomaly_analyses[].baselines[].observations[]', required: ['value'] },
  { at: 'remediation', required: ['desc'] },
]

/** The objects at a path like `evidences[].device` (none when an optional object is absent). */
function objectsAt(root: unknown, path: string): Record<string, unknown>[] {
  let here: unknown[] = [root]
  for (const step of path.split('.')) {
    const name = step.replace('[]', '')
    here = here.flatMap((o) => {
      const v = (o as Record<string, unknown>)[name]
      if (v === undefined || v === null) return []
      return step.endsWith('[]') ? (v as unknown[]) : [v]
    })
  }
  return here as Record<string, unknown>[]
}

/** The required OCSF 1.5.0 attributes the finding lacks, as paths. */
function missingRequired(finding: Record<string, unknown>): string[] {
  const missing = CLASS_REQUIRED.filter((k) => finding[k] === undefined || finding[k] === null)
  for (const rule of OBJECT_RULES) {
    for (const o of objectsAt(finding, rule.at)) {
      for (const k of rule.required ?? []) if (o[k] === undefined || o[k] === null) missing.push(`${rule.at}.${k}`)
      if (rule.atLeastOne && !rule.atLeastOne.some((k) => o[k] !== undefined && o[k] !== null)) missing.push(`${rule.at}.(one of ${rule.atLeastOne.join(', ')})`)
    }
  }
  return missing
}

const FIXTURES: [string, () => Alert][] = [
  ['model alert', modelAlert],
  ['Sigma detection alert', sigmaDetectionAlert],
  ['Sigma correlation alert', sigmaCorrelationAlert],
  ['correlated alert', correlatedFixture],
  ['model alert about a host', () => modelAlertAbout('host.name', 'LabSZ')],
  ['model alert about a user', () => modelAlertAbout('user.name', 'fztu')],
  ['model alert about another kind of entity', () => modelAlertAbout('process.name', 'sshd')],
]

describe('alerts as OCSF 1.5.0 Detection Findings', () => {
  describe.each(FIXTURES)('a %s', (_name, fixture) => {
    const alert = fixture()
    const finding = overTheWire(toDetectionFinding(alert, { lastSeen: alert.firstSeen + 60_000, eventCount: 3, productVersion: '0.1.0' }))

    it('is accepted by the Avro schema after a JSON round trip, which declares every key it has', () => {
      expect(avroProblems(finding)).toEqual([])
      expect(undeclaredKeys(findingType, finding)).toEqual([])
    })

    it('has every attribute OCSF 1.5.0 requires of class 2004 and its objects, and is an alert', () => {
      expect(missingRequired(finding)).toEqual([])
      expect(finding).toMatchObject({
        class_uid: 2004, category_uid: 2, activity_id: 1, type_uid: 200401, is_alert: true, metadata: { version: '1.5.0', uid: alert.alertId },
      })
    })

    it('traces every evidence line back to its place in raw-logs', () => {
      const evidences = finding.evidences as DetectionFinding['evidences']
      expect(evidences.map((e) => e.data)).toEqual(alert.evidence)
      for (const { uid, data } of evidences) {
        expect(uid).toBe(data.eventId)
        expect(data.topic).toBe('raw-logs')
        expect(data.partition).toBe(0)
        expect(SAMPLE_LINES[Number(data.offset)]).toBe(data.line)
      }
    })

    it('takes severity, times and identity from the alert', () => {
      expect(finding).toMatchObject({
        severity_id: alert.severityId, time: alert.createdAt, start_time: alert.firstSeen, end_time: alert.firstSeen + 60_000, count: 3,
        status_id: 1, status: 'New', message: alert.title,
        finding_info: { uid: alert.alertId, title: alert.title, created_time: alert.createdAt, first_seen_time: alert.firstSeen, last_seen_time: alert.firstSeen + 60_000 },
        unmapped: { detector: alert.detector, score: alert.score, threshold: alert.threshold, modelVersion: alert.modelVersion, features: alert.features },
      })
      expect(finding.severity).toBe({ 2: 'Low', 3: 'Medium', 4: 'High', 5: 'Critical' }[alert.severityId])
    })
  })

  it('carries one anomaly analysis per model explanation, with the observed value and both baselines', () => {
    for (const alert of [modelAlert(), correlatedFixture()]) {
      const finding = toDetectionFinding(alert)
      const analyses = finding.anomaly_analyses!
      expect(alert.explanations!.length).toBe(3)
      expect(analyses).toHaveLength(alert.explanations!.length)
      alert.explanations!.forEach((e, i) => {
        const a = analyses[i]!
        expect(a.analysis_targets).toEqual([{ name: BRUTE_FORCE_IP, type: 'source.ip' }])
        expect(a.anomalies).toEqual([expect.objectContaining({ observation_parameter: e.feature, observations: [{ value: String(e.value) }] })])
        expect(a.baselines.map((b) => [b.observation_parameter, b.observed_pattern, b.observations[0]!.value])).toEqual([
          [e.feature, 'P50', String(e.baselineP50)], [e.feature, 'P99', String(e.baselineP99)],
        ])
      })
      expect(analyses.map((a) => a.anomalies[0]!.observed_pattern)).toEqual(['ABOVE_P99', 'ABOVE_P99', 'BELOW_P50'])
      // The one thing OCSF has no place for stays in unmapped; the rest is not repeated there.
      expect(finding.unmapped.contributions).toEqual({ auth_failures: 0.55, invalid_user_attempts: 0.3, hour_of_day: 0.15 })
      expect(Object.keys(finding.unmapped)).not.toContain('explanations')
      expect(finding.confidence_score).toBe(100) // 0.9996
    }
    // A value named against the training rows nearest the event: their range as two more baselines, and the side it left.
    const apart = toDetectionFinding({ ...modelAlert(), explanations: [
      { feature: 'bytes', value: 40, baselineP50: 60, baselineP99: 1500, contribution: 0.7, nearestLow: 52, nearestHigh: 60 },
      { feature: 'hour_of_day', value: 9, baselineP50: 12, baselineP99: 23, contribution: 0.3, nearestLow: 2, nearestHigh: 4 },
    ] }).anomaly_analyses!
    expect(apart.map((a) => a.anomalies[0]!.observed_pattern)).toEqual(['BELOW_NEAREST_MIN', 'ABOVE_NEAREST_MAX'])
    expect(apart[0]!.baselines.map((b) => [b.observed_pattern, b.observations[0]!.value])).toEqual([['P50', '60'], ['P99', '1500'], ['NEAREST_MIN', '52'], ['NEAREST_MAX', '60']])
    // One named for lying in an outer tenth of training: that tenth's bound as a third baseline, and the side it passed.
    const tenth = toDetectionFinding({ ...modelAlert(), explanations: [
      { feature: 'bytes', value: 364, baselineP50: 48, baselineP99: 404, contribution: 0.7, outerTenth: 60 },
      { feature: 'bytes', value: 40, baselineP50: 48, baselineP99: 404, contribution: 0.3, outerTenth: 44 },
    ] }).anomaly_analyses!
    expect(tenth.map((a) => a.anomalies[0]!.observed_pattern)).toEqual(['ABOVE_P90', 'BELOW_P10'])
    expect(tenth.map((a) => a.baselines.map((b) => [b.observed_pattern, b.observations[0]!.value]))).toEqual([
      [['P50', '48'], ['P99', '404'], ['P90', '60']], [['P50', '48'], ['P99', '404'], ['P10', '44']],
    ])
    for (const alert of [sigmaDetectionAlert(), sigmaCorrelationAlert()]) {
      const finding = toDetectionFinding(alert)
      expect(finding.anomaly_analyses).toBeUndefined()
      expect(finding.unmapped.contributions).toBeUndefined()
    }
  })

  it('names each matched rule as an analytic with its id, name, level and author', () => {
    for (const alert of [sigmaDetectionAlert(), sigmaCorrelationAlert(), correlatedFixture()]) {
      const { analytic, related_analytics = [] } = toDetectionFinding(alert).finding_info
      const analytics = [analytic, ...related_analytics]
      expect(alert.rules!.length).toBeGreaterThan(0)
      for (const rule of alert.rules!) {
        const a = analytics.find((x) => x.uid === rule.id)
        expect(a, rule.title).toMatchObject({ name: rule.title, type_id: 1, type: 'Rule' })
        expect(a!.desc).toBe(`level ${rule.level}, by ${rule.author}`)
      }
      expect(toDetectionFinding(alert).unmapped.rules).toEqual(alert.rules)
    }
    expect(toDetectionFinding(sigmaCorrelationAlert()).unmapped.rules![0]!.tags).toEqual(['attack.credential-access', 'attack.t1110.001'])
    // An alert decoded from before rules had tags gets none, so the finding still fits its schema.
    const untagged = sigmaCorrelationAlert()
    untagged.rules = untagged.rules!.map(({ tags: _tags, ...rule }) => rule)
    const finding = overTheWire(toDetectionFinding(untagged))
    expect((finding.unmapped as DetectionFinding['unmapped']).rules!.map((r) => r.tags)).toEqual([[], []])
    expect(avroProblems(finding)).toEqual([])
  })

  it('names the detector as the analytic: the rule, the model, or their agreement beside both', () => {
    const correlation = sigmaCorrelationAlert()
    expect(toDetectionFinding(correlation).finding_info).toMatchObject({
      analytic: { uid: correlation.rules![0]!.id, category: 'Sigma correlation', version: correlation.modelVersion },
      related_analytics: [{ uid: correlation.rules![1]!.id, category: 'Sigma detection' }],
      types: ['Sigma correlation'],
    })
    expect(toDetectionFinding(correlation).confidence_score).toBeUndefined()
    const model = modelAlert()
    expect(toDetectionFinding(model).finding_info).toMatchObject({
      analytic: { uid: 'model:default', type_id: 4, type: 'Learning (ML/DL)', version: model.modelVersion }, types: ['Anomaly'],
    })
    expect(toDetectionFinding(model).finding_info.related_analytics).toBeUndefined()
    const { analytic, related_analytics } = toDetectionFinding(correlatedFixture()).finding_info
    expect(analytic).toMatchObject({ uid: 'correlated', type_id: 1 })
    expect(related_analytics!.map((a) => a.type_id)).toEqual([1, 1, 4])
  })

  it('puts the entity where OCSF has a place for its kind, and names it as an observable', () => {
    const byIp = toDetectionFinding(modelAlert())
    expect(byIp.evidences.every((e) => e.src_endpoint?.ip === BRUTE_FORCE_IP)).toBe(true)
    expect(byIp.observables).toEqual([{ name: 'evidences.src_endpoint.ip', type_id: 2, type: 'IP Address', value: BRUTE_FORCE_IP }])
    expect(byIp.metadata.profiles).toBeUndefined()
    expect(byIp.metadata.correlation_uid).toBe(`source.ip:${BRUTE_FORCE_IP}`)

    const byName = toDetectionFinding(modelAlertAbout('source.domain', 'n219076184117.netvigator.com'))
    expect(byName.evidences.every((e) => e.src_endpoint?.hostname === 'n219076184117.netvigator.com' && e.src_endpoint.ip === undefined)).toBe(true)
    expect(byName.observables).toEqual([{ name: 'evidences.src_endpoint.hostname', type_id: 1, type: 'Hostname', value: 'n219076184117.netvigator.com' }])
    expect(avroProblems(overTheWire(byName))).toEqual([])

    const byHost = toDetectionFinding(modelAlertAbout('host.name', 'LabSZ'))
    expect(byHost.device).toEqual({ hostname: 'LabSZ', type_id: 0, type: 'Unknown' })
    expect(byHost.observables[0]).toMatchObject({ name: 'device.hostname', type_id: 1, value: 'LabSZ' })
    expect(byHost.metadata.profiles).toEqual(['host'])

    const byUser = toDetectionFinding(modelAlertAbout('user.name', 'fztu'))
    expect(byUser.actor).toEqual({ user: { name: 'fztu' } })
    expect(byUser.observables[0]).toMatchObject({ name: 'actor.user.name', type_id: 4, value: 'fztu' })

    const other = toDetectionFinding(modelAlertAbout('process.name', 'sshd'))
    expect(other.resources).toEqual([{ uid: 'sshd', name: 'sshd', type: 'process.name' }])
    expect(other.evidences.every((e) => Object.keys(e).join() === 'uid,data')).toBe(true)
  })

  it('reads status, counts and the product version from the context, and defaults without it', () => {
    const alert = modelAlert()
    expect(toDetectionFinding(alert, { status: 'resolved' })).toMatchObject({ status_id: 4, status: 'Resolved' })
    const bare = toDetectionFinding(alert)
    expect(bare).toMatchObject({ status_id: 1, end_time: alert.firstSeen, finding_info: { last_seen_time: alert.firstSeen } })
    expect(bare.count).toBeUndefined()
    expect(bare.metadata.product).toEqual({ name: 'Vigil', vendor_name: 'Vigil' })
    expect(avroProblems(overTheWire(bare))).toEqual([])
  })

  it('keeps a severity OCSF does not number as Other, with the alert\'s own name', () => {
    const finding = toDetectionFinding({ ...modelAlert(), severityId: 7, severity: 'urgent' })
    expect(finding).toMatchObject({ severity_id: 99, severity: 'urgent' })
  })

  describe('the checks fail a finding that breaks them', () => {
    const good = () => overTheWire(toDetectionFinding(sigmaCorrelationAlert()))

    it('a missing required attribute (finding_info.uid, severity_id)', () => {
      const noUid = good()
      delete (noUid.finding_info as Record<string, unknown>).uid
      expect(missingRequired(noUid)).toEqual(['finding_info.uid'])
      expect(avroProblems(noUid)).toEqual(['finding_info.uid'])

      const noSeverity = good()
      delete noSeverity.severity_id
      expect(missingRequired(noSeverity)).toEqual(['severity_id'])
      expect(avroProblems(noSeverity)).toEqual(['severity_id'])
    })

    it('an evidence without anything in it, a key the schema does not declare', () => {
      const bad = good()
      ;(bad.evidences as Record<string, unknown>[])[0] = {}
      expect(missingRequired(bad)).toContain('evidences[].(one of actor, api, connection_info, data, database, databucket, device, dst_endpoint, email, file, process, query, resources, src_endpoint, url, user, job, script)')
      const extra = good()
      ;(extra.finding_info as Record<string, unknown>).attack_graph = {}
      expect(undeclaredKeys(findingType, extra)).toEqual(['finding_info.attack_graph'])
    })

    it('an anomaly analysis without its feature or its target', () => {
      const bad = overTheWire(toDetectionFinding(modelAlert()))
      const [first, second] = bad.anomaly_analyses as Record<string, Record<string, unknown>[]>[]
      delete first!.anomalies![0]!.observation_parameter
      delete second!.analysis_targets![0]!.name
      expect(missingRequired(bad)).toEqual(['anomaly_analyses[].analysis_targets[].name', 'anomaly_analyses[].anomalies[].observation_parameter'])
      expect(avroProblems(bad)).toEqual(['anomaly_analyses.0.anomalies.0.observation_parameter', 'anomaly_analyses.1.analysis_targets.0.name'])
    })
  })
})
