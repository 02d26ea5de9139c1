import type { Alert } from '@vigil/schemas'
import { CORRELATED_DETECTOR, kindOf } from '../rules/alert-join.ts'

/** What raised an alert: the anomaly model, a Sigma rule, or both agreeing (`correlated`). */
export type DetectorKind = 'model' | 'sigma' | 'correlated' | 'unknown'

export const detectorKind = (alert: Pick<Alert, 'detector'>): DetectorKind =>
  alert.detector === CORRELATED_DETECTOR ? 'correlated' : (kindOf(alert) ?? 'unknown')
