import type { EcsEvent, FeatureRecord, Score } from '@vigil/schemas'

/** What the engine matches: one normalized event (the `features` record's parts), or an ML anomaly. */
export interface SigmaEvent {
  eventId: string
  /** the featurizer's log family (sshd, privilege, web, firewall, zeek, syslog), or `anomaly` */
  family: string
  /** event time, ms since the epoch: correlation windows run on it */
  eventTime: number
  event: EcsEvent
  /** set for ML anomalies: the scorer's verdict, which Sigma rules can name (logsource product vigil, category anomaly) */
  anomaly?: Anomaly | null
}

export interface Anomaly {
  score: number
  rawScore: number
  modelVersion: string
  /** the family of the event the model scored */
  family: string
  entity: { kind: string; id: string }
  features: Record<string, number>
}

/** The family of events made from scores. */
export const ANOMALY_FAMILY = 'anomaly'

/** A `features` record as the engine sees it. */
export function sigmaEventOfFeatures(record: Pick<FeatureRecord, 'eventId' | 'family' | 'eventTime' | 'event'>): SigmaEvent {
  return { eventId: record.eventId, family: record.family, eventTime: record.eventTime, event: record.event }
}

/**
 * A score as an event, so correlation rules can order "the model found this anomalous" against log
 * events of the same entity (e.g. an anomalous SSH failure rate, then a successful login from the
 * same source). The entity becomes the ECS field it names (source.ip, user.name or host.name).
 */
export function sigmaEventOfScore(score: Score): SigmaEvent {
  const { entity } = score
  const event: EcsEvent = {
    timestamp: score.eventTime,
    message: `anomaly score ${score.score.toFixed(3)} for ${score.family} ${score.action} by ${entity.kind} ${entity.id}`,
    event: {
      kind: 'alert', category: ['intrusion_detection'], type: ['info'], action: score.action, outcome: 'unknown',
      module: 'vigil', dataset: 'vigil.anomaly', original: score.evidence.line,
    },
    ...(entity.kind === 'source.ip' && { source: { ip: entity.id } }),
    ...(entity.kind === 'source.domain' && { source: { domain: entity.id } }),
    ...(entity.kind === 'user.name' && { user: { name: entity.id } }),
    ...(entity.kind === 'host.name' && { host: { name: entity.id } }),
  }
  return {
    eventId: `score:${score.eventId}`,
    family: ANOMALY_FAMILY,
    eventTime: score.eventTime,
    event,
    anomaly: {
      score: score.score, rawScore: score.rawScore, modelVersion: score.modelVersion, family: score.family, entity, features: score.features,
    },
  }
}
