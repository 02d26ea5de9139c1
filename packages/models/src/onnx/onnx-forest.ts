import type { EnsembleArtifact } from '../ensemble/ensemble-artifact.ts'
import { ensembleMembers, type DetectorRegistry, type EnsembleMemberKind } from '../ensemble/registry.ts'
import { isolationForest, type IsolationForestJSON } from '../forest/isolation-forest.ts'
import { forestToOnnx } from './forest-to-onnx.ts'
import { createOnnxDetector, onnxDetectorKind } from './onnx-member.ts'

/** How a scorer runs the forests of an ensemble: onnxruntime (the export the trainer stored) or the TypeScript kernel. */
export type ForestRuntime = 'onnx' | 'typescript'

type ForestStateWithOnnx = IsolationForestJSON & { onnx?: string }

/**
 * Stores, in every forest member of `artifact`, its ONNX export (ai.onnx.ml TreeEnsembleRegressor,
 * base64): the trainer exports once, and every scorer runs the same bytes.
 */
export function attachOnnxExports(artifact: EnsembleArtifact): EnsembleArtifact {
  return {
    ...artifact,
    members: artifact.members.map((m) => {
      if (m.kind !== isolationForest.kind) return m
      const forest = isolationForest.load(m.state).forest
      return { ...m, state: { ...(m.state as IsolationForestJSON), onnx: Buffer.from(forestToOnnx(forest)).toString('base64') } }
    }),
  }
}

/**
 * Forests scored by onnxruntime from the export stored in their state, and explained by the
 * TypeScript forest (onnxruntime gives scores, not paths). A state without an export (an artifact
 * trained before exports) is exported here.
 */
const onnxScoredForest: EnsembleMemberKind = {
  kind: isolationForest.kind,
  defaults: isolationForest.defaults,
  train: (rows, params: never, seed) => isolationForest.train(rows, params, seed),
  async load(state) {
    const { onnx, ...json } = state as ForestStateWithOnnx
    const forest = isolationForest.load(json)
    const bytes = onnx ? new Uint8Array(Buffer.from(onnx, 'base64')) : forestToOnnx(forest.forest)
    const session = await createOnnxDetector({
      bytes, inputFeatures: Array.from({ length: forest.forest.featureCount }, (_, i) => `f${i}`), direction: 'higher-is-anomalous',
    })
    return {
      kind: isolationForest.kind,
      score: (rows) => session.score(rows),
      explain: (row) => forest.explain(row),
      toJSON: () => state,
      close: () => session.close(),
    }
  },
}

const typescriptForest: EnsembleMemberKind = {
  ...isolationForest,
  load: (state) => isolationForest.load(stripOnnx(state)),
}

function stripOnnx(state: unknown): unknown {
  const { onnx: _onnx, ...json } = state as ForestStateWithOnnx
  return json
}

/** Member kinds for training and loading ensembles: the built-in members, user ONNX models, and forests scored on `runtime`. */
export function ensembleRegistry(runtime: ForestRuntime): DetectorRegistry {
  return {
    ...ensembleMembers,
    [onnxDetectorKind.kind]: onnxDetectorKind,
    [isolationForest.kind]: runtime === 'onnx' ? onnxScoredForest : typescriptForest,
  }
}
