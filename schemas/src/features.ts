import type { FeatureVector } from './generated.ts'

/** Name of one feature: a field of the `features` topic's FeatureVector. */
export type FeatureName = keyof FeatureVector

/** One feature, defined once: the featurizer computes it, the scorer and trainer read vectors by these names, and the docs list it. */
export interface FeatureDefinition {
  name: FeatureName
  group: 'frequency' | 'rate' | 'behaviour'
  /** log families whose events give the feature a real value; others get `defaultValue` */
  families: readonly string[]
  description: string
  unit: string
  defaultValue: number
}

/** Per-entity windows: everything is counted over this much event time, ending at the event. */
export const FEATURE_WINDOW_SECONDS = 600

/** Every feature, in vector order. The order is the model's input order: append, never reorder. */
export const featureDefinitions = [
  { name: 'auth_attempts', group: 'frequency', families: ['sshd'], unit: 'count', defaultValue: 0,
    description: 'authentication attempts (failed or accepted) by the entity in the window, this event included' },
  { name: 'auth_failures', group: 'frequency', families: ['sshd'], unit: 'count', defaultValue: 0,
    description: 'failed authentications by the entity in the window' },
  { name: 'auth_failure_ratio', group: 'rate', families: ['sshd'], unit: 'ratio', defaultValue: 0,
    description: 'auth_failures / auth_attempts; 0 when there were no attempts' },
  { name: 'distinct_users', group: 'frequency', families: ['sshd'], unit: 'count', defaultValue: 0,
    description: 'distinct user names the entity tried in the window' },
  { name: 'invalid_user_attempts', group: 'frequency', families: ['sshd'], unit: 'count', defaultValue: 0,
    description: 'attempts by the entity for user names that do not exist on the host, in the window' },
  { name: 'events_in_window', group: 'frequency', families: ['*'], unit: 'count', defaultValue: 1,
    description: 'events of any kind from the entity in the window, this event included' },
  { name: 'seconds_since_previous', group: 'behaviour', families: ['*'], unit: 'seconds', defaultValue: FEATURE_WINDOW_SECONDS,
    description: "event time since the entity's previous event, capped at the window length" },
] as const satisfies readonly FeatureDefinition[]

/** Feature names in vector order. */
export const featureNames: readonly FeatureName[] = featureDefinitions.map((f) => f.name)

/** The vector as numbers in `featureNames` order, the form models take. */
export function toFeatureArray(vector: FeatureVector, names: readonly string[] = featureNames): number[] {
  return names.map((n) => (vector as unknown as Record<string, number>)[n] ?? 0)
}
