import type { AlertExplanation, Entity } from '@vigil/schemas'
import type { AnomalyAnalysis } from './ocsf-objects.ts'

/**
 * One OCSF anomaly_analysis per model explanation: the entity as the analysis target, the feature's
 * observed value as the anomaly, and its training median and 99th percentile as two baselines.
 */
export function anomalyAnalyses(entity: Entity, explanations: readonly AlertExplanation[]): AnomalyAnalysis[] {
  return explanations.map((e) => ({
    analysis_targets: [{ name: entity.id, type: entity.kind }],
    anomalies: [{
      observed_attribute: e.feature,
      observation_type: 'Deviation Analysis',
      observed_pattern: patternOf(e),
      observations: [{ value: String(e.value) }],
    }],
    baselines: [
      { observed_attribute: e.feature, observation_type: 'Distribution Analysis', observed_pattern: 'P50', observations: [{ value: String(e.baselineP50) }] },
      { observed_attribute: e.feature, observation_type: 'Distribution Analysis', observed_pattern: 'P99', observations: [{ value: String(e.baselineP99) }] },
    ],
  }))
}

/** Where the observed value sits against the training distribution. */
function patternOf(e: AlertExplanation): string {
  if (e.value > e.baselineP99) return 'ABOVE_P99'
  if (e.value > e.baselineP50) return 'ABOVE_P50'
  if (e.value < e.baselineP50) return 'BELOW_P50'
  return 'AT_P50'
}
