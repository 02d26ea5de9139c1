import type { Alert, MatchedRule } from '@vigil/schemas'
import { modelDetector } from '../build-alert.ts'
import { MODEL_DETECTOR_PREFIX, SIGMA_DETECTOR_PREFIX } from '../rules/sigma-alerts.ts'
import { anomalyAnalyses } from './anomaly-analyses.ts'
import { detectorKind, type DetectorKind } from './detector-kind.ts'
import { entityAttributes } from './entity-attributes.ts'
import {
  ANALYTIC_TYPE, DETECTION_FINDING, FINDING_STATUS, OCSF_VERSION, SEVERITY_CAPTIONS, SEVERITY_OTHER,
  type Analytic, type DetectionFinding, type FindingInfo, type VigilUnmapped,
} from './ocsf-objects.ts'
import { remediationFor } from './remediation.ts'

export type { DetectionFinding } from './ocsf-objects.ts'

/** What the alert itself does not hold: the alert store's view of it and Vigil's version. */
export interface FindingContext {
  /** ms since the epoch: the alert's most recent event; without it, the alert as raised (its first event) */
  lastSeen?: number
  /** events counted in the alert */
  eventCount?: number
  status?: 'open' | 'resolved'
  /** Vigil's version, for metadata.product.version */
  productVersion?: string
}

/**
 * An alert as an OCSF 1.5.0 Detection Finding (class 2004, activity Create): severity and times
 * from the alert, the detector as the analytic (a rule, the model, or their agreement), every
 * evidence line with its raw-logs coordinates, the entity where OCSF puts its kind, the model's
 * explanations as anomaly analyses, a recommended action, and Vigil's own data (score, threshold,
 * model version, features, rules, each feature's contribution) in `unmapped`.
 */
export function toDetectionFinding(alert: Alert, context: FindingContext = {}): DetectionFinding {
  const kind = detectorKind(alert)
  const entity = entityAttributes(alert.entity)
  const lastSeen = context.lastSeen ?? alert.firstSeen
  return {
    ...DETECTION_FINDING,
    ...severityOf(alert),
    time: alert.createdAt,
    timezone_offset: 0,
    message: alert.title,
    ...FINDING_STATUS[context.status ?? 'open'],
    ...(context.eventCount !== undefined ? { count: context.eventCount } : {}),
    start_time: alert.firstSeen,
    end_time: lastSeen,
    // The model's calibrated score; a rule match has no confidence of its own (its score is 1 by convention).
    ...(kind === 'model' || kind === 'correlated' ? { confidence_score: Math.round(alert.score * 100) } : {}),
    is_alert: true,
    metadata: {
      version: OCSF_VERSION,
      uid: alert.alertId,
      // Every finding about one entity shares it, so a consumer can group them.
      correlation_uid: `${alert.entity.kind}:${alert.entity.id}`,
      product: { name: 'Vigil', vendor_name: 'Vigil', ...(context.productVersion ? { version: context.productVersion } : {}) },
      ...(entity.profiles.length > 0 ? { profiles: entity.profiles } : {}),
    },
    finding_info: findingInfo(alert, kind, lastSeen),
    evidences: alert.evidence.map((data) => ({ uid: data.eventId, data, ...entity.evidence })),
    observables: [entity.observable],
    ...(entity.actor ? { actor: entity.actor } : {}),
    ...(entity.device ? { device: entity.device } : {}),
    ...(entity.resources ? { resources: entity.resources } : {}),
    ...(alert.explanations?.length ? { anomaly_analyses: anomalyAnalyses(alert.entity, alert.explanations) } : {}),
    remediation: { desc: remediationFor(alert, kind) },
    unmapped: unmapped(alert),
  }
}

function severityOf(alert: Alert): Pick<DetectionFinding, 'severity_id' | 'severity'> {
  const caption = SEVERITY_CAPTIONS[alert.severityId]
  return caption === undefined ? { severity_id: SEVERITY_OTHER, severity: alert.severity } : { severity_id: alert.severityId, severity: caption }
}

function findingInfo(alert: Alert, kind: DetectorKind, lastSeen: number): FindingInfo {
  const { analytic, related } = analyticsOf(alert, kind)
  return {
    uid: alert.alertId,
    title: alert.title,
    desc: alert.reasons?.length ? alert.reasons.join('\n') : alert.title,
    types: [kind === 'sigma' ? (analytic.category ?? SIGMA_DETECTION) : FINDING_TYPES[kind]],
    created_time: alert.createdAt,
    first_seen_time: alert.firstSeen,
    last_seen_time: lastSeen,
    analytic,
    ...(related.length > 0 ? { related_analytics: related } : {}),
  }
}

const FINDING_TYPES: Record<Exclude<DetectorKind, 'sigma'>, string> = { model: 'Anomaly', correlated: 'Correlated', unknown: 'Alert' }
const SIGMA_DETECTION = 'Sigma detection'

/**
 * The analytic that raised the alert and the others behind it. Every matched rule is one of them,
 * with its level and author (the Detection Rule License's attribution) in its description, as the
 * analytic object has no attribute for either.
 */
function analyticsOf(alert: Alert, kind: DetectorKind): { analytic: Analytic; related: Analytic[] } {
  const rules = alert.rules ?? []
  switch (kind) {
    case 'model':
      return { analytic: modelAnalytic(alert.detector, alert.modelVersion), related: [] }
    case 'sigma': {
      const id = alert.detector.slice(SIGMA_DETECTOR_PREFIX.length)
      const main = rules.find((r) => r.id === id)
      const analytic = main ? ruleAnalytic(main, alert.modelVersion) : { uid: id, name: alert.title, ...ANALYTIC_TYPE.rule, version: alert.modelVersion }
      return { analytic, related: rules.filter((r) => r !== main).map((r) => ruleAnalytic(r, alert.modelVersion)) }
    }
    case 'correlated':
      return {
        analytic: {
          uid: alert.detector, name: 'Sigma rule and anomaly model agree', ...ANALYTIC_TYPE.rule, category: 'Correlation',
          desc: 'A Sigma alert and an anomaly model alert on the same entity, at the same time or in adjacent alert windows',
        },
        // The correlated alert keeps the model's version, not the rules' (theirs is on the Sigma alert).
        related: [...rules.map((r) => ruleAnalytic(r)), modelAnalytic(modelDetector(alert.model ?? undefined), alert.modelVersion)],
      }
    case 'unknown':
      return { analytic: { uid: alert.detector, name: alert.detector, ...ANALYTIC_TYPE.rule, version: alert.modelVersion }, related: [] }
  }
}

const modelAnalytic = (detector: string, version: string): Analytic => ({
  uid: detector, name: `Vigil anomaly model ${detector.slice(MODEL_DETECTOR_PREFIX.length)}`, ...ANALYTIC_TYPE.learning, category: 'Anomaly detection', version,
})

const ruleAnalytic = (rule: MatchedRule, version?: string): Analytic => ({
  uid: rule.id,
  name: rule.title,
  ...ANALYTIC_TYPE.rule,
  category: rule.kind === 'correlation' ? 'Sigma correlation' : SIGMA_DETECTION,
  desc: `level ${rule.level}, by ${rule.author ?? 'an unnamed author'}`,
  ...(version !== undefined ? { version } : {}),
})

function unmapped(alert: Alert): VigilUnmapped {
  // An alert decoded from before rules had tags has none.
  const rules = (alert.rules ?? []).map((r) => ({ ...r, author: r.author ?? null, tags: r.tags ?? [] }))
  const explanations = alert.explanations ?? []
  return {
    detector: alert.detector,
    entity: alert.entity,
    score: alert.score,
    threshold: alert.threshold,
    modelVersion: alert.modelVersion,
    features: alert.features,
    ...(rules.length > 0 ? { rules } : {}),
    ...(explanations.length > 0 ? { contributions: Object.fromEntries(explanations.map((e) => [e.feature, e.contribution])) } : {}),
  }
}
