import type { FeatureContribution, FeatureRow } from '../detector.ts'
import { gaussianMixture } from '../detectors/gaussian-mixture.ts'
import { hbos } from '../detectors/hbos.ts'
import { knnDistance } from '../detectors/knn-distance.ts'
import { isolationForest } from '../forest/isolation-forest.ts'

type Awaitable<T> = T | Promise<T>

/**
 * A member as the ensemble takes it: detector.ts's TrainedDetector, or one whose scoring is
 * asynchronous (an ONNX session). Every DetectorKind fits EnsembleMemberKind as it is.
 */
export interface EnsembleMember {
  readonly kind: string
  score(rows: readonly FeatureRow[]): Awaitable<Float64Array>
  explain?(row: FeatureRow): Awaitable<FeatureContribution[]>
  toJSON(): unknown
  /** releases what the member holds (an onnxruntime session); called once, when the ensemble is dropped */
  close?(): Awaitable<void>
}

export interface EnsembleMemberKind {
  readonly kind: string
  readonly defaults: object
  /** `params` is the kind's defaults overlaid with the configuration's JSON, typed by the kind alone */
  train(rows: readonly FeatureRow[], params: never, seed: number): Awaitable<EnsembleMember>
  load(state: unknown): Awaitable<EnsembleMember>
}

/** Member kinds by name: what an artifact's `members[].kind` refers to. */
export type DetectorRegistry = Readonly<Record<string, EnsembleMemberKind>>

/** The built-in members. */
export const ensembleMembers: DetectorRegistry = {
  [isolationForest.kind]: isolationForest,
  [hbos.kind]: hbos,
  [gaussianMixture.kind]: gaussianMixture,
  [knnDistance.kind]: knnDistance,
}

/** The kind named `kind`, or an error naming the ones there are. */
export function memberKindOf(registry: DetectorRegistry, kind: string): EnsembleMemberKind {
  const found = Object.hasOwn(registry, kind) ? registry[kind] : undefined
  if (!found) throw new Error(`unknown ensemble member '${kind}' (known: ${Object.keys(registry).join(', ')})`)
  return found
}
