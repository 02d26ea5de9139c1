import type { AlertExplanation, Entity } from '@vigil/schemas'
import type { Anomaly, AnomalyAnalysis } from './ocsf-objects.ts'

/**
 * One OCSF anomaly_analysis per model explanation: the entity as the analysis target, the feature's
 * observed value as the anomaly, and its training median and 99th percentile as two baselines.
 */
export function anomalyAnalyses(entity: Entity, explanations: readonly AlertExplanation[]): AnomalyAnalysis[] {
  return explanations.map((e) => ({
    analysis_targets: [{ name: entity.id, type: entity.kind }],
    anomalies: [observed(e.feature, patternOf(e), e.value)],
    baselines: [observed(e.feature, 'P50', e.baselineP50), observed(e.feature, 'P99', e.baselineP99)],
  }))
}

// The model compares each feature with its distribution in the training data.
const observed = (feature: string, pattern: string, value: number): Anomaly => ({
  observation_parameter: feature,
  observation_type: 'Distribution Analysis',
  observed_pattern: pattern,
  observations: [{ value: String(value) }],
})

/** Where the observed value sits against the training distribution. */
function patternOf(e: AlertExplanation): string {
  if (e.value > e.baselineP99) return 'ABOVE_P99'
  if (e.value > e.baselineP50) return 'ABOVE_P50'
  if (e.value < e.baselineP50) return 'BELOW_P50'
  return 'AT_P50'
}
