// The subset of OCSF 1.5.0 that Vigil's Detection Findings use, as TypeScript types, with the enum
// values (and their captions) we emit. Names are OCSF's, hence snake_case. The Avro form of the same
// shape is schemas/ocsf/detection-finding.avsc; the unit test holds the two together.
import type { AlertEvidence, MatchedRule } from '@vigil/schemas'

export const OCSF_VERSION = '1.5.0'

/** Detection Finding (class 2004, category 2 Findings), activity 1 Create: type_uid = 2004 * 100 + 1. */
export const DETECTION_FINDING = {
  category_uid: 2, category_name: 'Findings',
  class_uid: 2004, class_name: 'Detection Finding',
  activity_id: 1, activity_name: 'Create',
  type_uid: 200401, type_name: 'Detection Finding: Create',
} as const

/** base_event severity_id captions. */
export const SEVERITY_CAPTIONS: Readonly<Record<number, string>> = {
  0: 'Unknown', 1: 'Informational', 2: 'Low', 3: 'Medium', 4: 'High', 5: 'Critical', 6: 'Fatal', 99: 'Other',
}
export const SEVERITY_OTHER = 99

/** detection_finding status_id: Vigil's alert states. */
export const FINDING_STATUS = { open: { status_id: 1, status: 'New' }, resolved: { status_id: 4, status: 'Resolved' } } as const

/** analytic type_id. */
export const ANALYTIC_TYPE = {
  rule: { type_id: 1, type: 'Rule' },
  learning: { type_id: 4, type: 'Learning (ML/DL)' },
} as const

/** observable type_id. */
export const OBSERVABLE_TYPE = {
  hostname: { type_id: 1, type: 'Hostname' },
  ip: { type_id: 2, type: 'IP Address' },
  userName: { type_id: 4, type: 'User Name' },
  resourceUid: { type_id: 10, type: 'Resource UID' },
} as const

/** device type_id 0: Vigil knows a host by name only. */
export const DEVICE_TYPE_UNKNOWN = { type_id: 0, type: 'Unknown' } as const

export interface DetectionFinding {
  activity_id: number
  activity_name: string
  category_uid: number
  category_name: string
  class_uid: number
  class_name: string
  type_uid: number
  type_name: string
  severity_id: number
  severity: string
  /** ms since the epoch: when the alert was created */
  time: number
  timezone_offset: number
  message: string
  status_id: number
  status: string
  /** events counted in the alert */
  count?: number
  /** ms since the epoch: the first and the most recent event of the finding */
  start_time: number
  end_time: number
  /** 0-100 */
  confidence_score?: number
  /** an alertable signal: every finding Vigil creates is one (OCSF 1.4) */
  is_alert: boolean
  metadata: Metadata
  finding_info: FindingInfo
  evidences: Evidence[]
  observables: Observable[]
  /** host profile */
  actor?: Actor
  /** host profile */
  device?: Device
  resources?: ResourceDetails[]
  /** the model's reasons: one per explanation (OCSF 1.5) */
  anomaly_analyses?: AnomalyAnalysis[]
  remediation: Remediation
  unmapped: VigilUnmapped
}

export interface Metadata {
  version: string
  uid: string
  correlation_uid: string
  product: Product
  profiles?: string[]
}

export interface Product {
  name: string
  vendor_name: string
  version?: string
}

export interface FindingInfo {
  uid: string
  title: string
  desc: string
  types: string[]
  created_time: number
  first_seen_time: number
  last_seen_time: number
  analytic: Analytic
  related_analytics?: Analytic[]
}

export interface Analytic {
  uid: string
  name: string
  type_id: number
  type: string
  category?: string
  desc?: string
  version?: string
}

export interface Evidence {
  /** the event's id in raw-logs (OCSF 1.5) */
  uid: string
  /** the alert's evidence item as Vigil holds it: the original line and where it is in raw-logs */
  data: AlertEvidence
  src_endpoint?: NetworkEndpoint
  actor?: Actor
  device?: Device
}

/** A source.ip entity's address, or a source.domain entity's name (the client's, as its lines gave it). */
export interface NetworkEndpoint {
  ip?: string
  hostname?: string
}

export interface Actor {
  user: User
}

export interface User {
  name: string
}

export interface Device {
  hostname: string
  type_id: number
  type: string
}

export interface Observable {
  /** where the value is in the finding, e.g. evidences.src_endpoint.ip */
  name: string
  type_id: number
  type: string
  value: string
}

export interface ResourceDetails {
  uid: string
  name: string
  type: string
}

export interface Remediation {
  desc: string
}

/** Vigil's own data, which OCSF 1.5 has no attribute for. */
export interface VigilUnmapped {
  detector: string
  entity: { kind: string; id: string }
  score: number
  threshold: number
  modelVersion: string
  features: Record<string, number>
  /** the matched Sigma rules with their level, author and tags, as the alert has them */
  rules?: Required<MatchedRule>[]
  /** each explained feature's share of the anomaly, 0-1: anomaly_analyses has no place for it */
  contributions?: Record<string, number>
}

// anomaly_analysis and the objects in it arrived in OCSF 1.5.0.

export interface AnomalyAnalysis {
  analysis_targets: AnalysisTarget[]
  anomalies: Anomaly[]
  baselines: Baseline[]
}

export interface AnalysisTarget {
  name: string
  type: string
}

export interface Anomaly {
  /** the feature */
  observation_parameter: string
  observation_type: string
  observed_pattern: string
  observations: Observation[]
}

/** OCSF's baseline has the attributes of anomaly. */
export type Baseline = Anomaly

export interface Observation {
  value: string
}
