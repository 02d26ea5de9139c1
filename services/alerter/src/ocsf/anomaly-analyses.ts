import type { AlertExplanation, Entity } from '@vigil/schemas'
import type { Anomaly, AnomalyAnalysis } from './ocsf-objects.ts'

/**
 * One OCSF anomaly_analysis per model explanation: the entity as the analysis target, the feature's
 * observed value as the anomaly, and its training median and 99th percentile as two baselines; for a
 * value named against the training rows nearest the event, their lowest and highest as two more; for
 * one named against an outer tenth of training, its p90 or p10 as a third.
 */
export function anomalyAnalyses(entity: Entity, explanations: readonly AlertExplanation[]): AnomalyAnalysis[] {
  return explanations.map((e) => ({
    analysis_targets: [{ name: entity.id, type: entity.kind }],
    anomalies: [observed(e.feature, patternOf(e), e.value)],
    baselines: [
      observed(e.feature, 'P50', e.baselineP50), observed(e.feature, 'P99', e.baselineP99),
      ...(isNearest(e) ? [observed(e.feature, 'NEAREST_MIN', e.nearestLow), observed(e.feature, 'NEAREST_MAX', e.nearestHigh)] : []),
      ...(isOuterTenth(e) ? [observed(e.feature, e.value > e.outerTenth ? 'P90' : 'P10', e.outerTenth)] : []),
    ],
  }))
}

/** An explanation named against the training rows nearest the event (scores.avsc, nearestLow). */
export const isNearest = (e: AlertExplanation): e is AlertExplanation & { nearestLow: number; nearestHigh: number } =>
  typeof e.nearestLow === 'number' && typeof e.nearestHigh === 'number'

// The model compares each feature with its distribution in the training data.
const observed = (feature: string, pattern: string, value: number): Anomaly => ({
  observation_parameter: feature,
  observation_type: 'Distribution Analysis',
  observed_pattern: pattern,
  observations: [{ value: String(value) }],
})

/**
 * An explanation named, where no feature stood out by the training range or the nearest rows, against
 * the outer tenth of training it lies in (scores.avsc, outerTenth): its p90 or p10.
 */
export const isOuterTenth = (e: AlertExplanation): e is AlertExplanation & { outerTenth: number } => typeof e.outerTenth === 'number'

/** Where the observed value sits against the training distribution, or against the nearest rows' range. */
function patternOf(e: AlertExplanation): string {
  if (isNearest(e)) return e.value > e.nearestHigh ? 'ABOVE_NEAREST_MAX' : 'BELOW_NEAREST_MIN'
  if (isOuterTenth(e)) return e.value > e.outerTenth ? 'ABOVE_P90' : 'BELOW_P10'
  if (e.value > e.baselineP99) return 'ABOVE_P99'
  if (e.value > e.baselineP50) return 'ABOVE_P50'
  if (e.value < e.baselineP50) return 'BELOW_P50'
  return 'AT_P50'
}
