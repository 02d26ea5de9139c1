import {
  acknowledgeDeployment, decodeEnsembleArtifact, ensembleRegistry, loadEnsemble, loadModelArtifact, memberNames, sha256Of, withdrawDeployment, writeAudit,
  type DeploymentRole, type ForestRuntime, type LoadedEnsemble,
} from '@vigil/models'
import { PoisonMessageError, TransientError, type Logger, type Metrics, type PgPool } from '@vigil/platform'
import type { ModelControl } from '@vigil/schemas'

/** One loaded version. */
export interface RunningModel {
  version: string
  ensemble: LoadedEnsemble
  /** member names, in the ensemble's member order */
  memberNames: string[]
}

/** What the next batch is scored with: the live version and, while one runs, a shadow version. */
export interface ModelPair {
  live: RunningModel
  shadow: RunningModel | null
}

export interface RunningModels {
  /** null until a first live version is loaded */
  current(): ModelPair | null
  firstLoaded(): Promise<ModelPair>
  /** Loads what a model-control record names, checks its sha256, swaps it in and acknowledges it in the registry. */
  apply(control: ModelControl): Promise<void>
  close(): Promise<void>
}

export interface RunningModelsOptions {
  modelName: string
  instanceId: string
  runtime: ForestRuntime
}

/**
 * The versions this scorer runs. A version is loaded from the registry, its sha256 checked against
 * what model-control announced, and only then swapped in, whole, between batches: a batch already
 * running keeps the pair it started with, so no message is scored by two live versions or skipped.
 * Each swap is acknowledged in the registry (model_deployments), so it knows what runs where.
 */
export function createRunningModels(pool: PgPool, options: RunningModelsOptions, log: Logger, metrics: Metrics): RunningModels {
  const { modelName, instanceId } = options
  let pair: ModelPair | null = null
  // a shadow version announced before any live one: it joins the first pair
  let pendingShadow: RunningModel | null = null
  let resolveFirst: (p: ModelPair) => void
  const first = new Promise<ModelPair>((resolve) => (resolveFirst = resolve))
  const retired: RunningModel[] = []

  async function load(control: ModelControl): Promise<RunningModel> {
    let stored
    try {
      stored = await loadModelArtifact(pool, control.model, control.version)
    } catch (cause) {
      throw new TransientError('MODEL_REGISTRY_UNAVAILABLE', `could not read model ${control.version}: ${(cause as Error).message}`, { cause })
    }
    if (!stored) throw new PoisonMessageError('MODEL_VERSION_UNKNOWN', `model-control names ${control.model}@${control.version}, which the registry does not have`)
    const actual = sha256Of(stored.artifact)
    if (actual !== control.sha256) {
      throw new PoisonMessageError('MODEL_CHECKSUM_MISMATCH', `artifact of ${control.version} has sha256 ${actual}, model-control says ${control.sha256}`)
    }
    let artifact
    try {
      artifact = decodeEnsembleArtifact(stored.artifact)
    } catch (cause) {
      throw new PoisonMessageError('MODEL_ARTIFACT_UNSUPPORTED', `artifact of ${control.version} cannot be loaded: ${(cause as Error).message}`, { cause })
    }
    const ensemble = await loadEnsemble(artifact, ensembleRegistry(options.runtime))
    return { version: control.version, ensemble, memberNames: memberNames(artifact) }
  }

  async function acknowledge(role: DeploymentRole, version: string, reason: string) {
    await acknowledgeDeployment(pool, { instanceId, model: modelName, version, role })
    await writeAudit(pool, { model: modelName, version, phase: 'load', actor: `scorer:${instanceId}`, details: { role, reason, runtime: options.runtime } })
  }

  function showMetrics() {
    metrics.modelVersion.reset()
    if (pair) metrics.modelVersion.set({ model: modelName, version: pair.live.version, role: 'live' }, 1)
    if (pair?.shadow) metrics.modelVersion.set({ model: modelName, version: pair.shadow.version, role: 'shadow' }, 1)
  }

  async function applyShadow(control: ModelControl) {
    const running = pair?.shadow ?? pendingShadow
    if (control.version === '') {
      if (running) retired.push(running)
      pendingShadow = null
      if (pair) pair = { ...pair, shadow: null }
      await withdrawDeployment(pool, instanceId, 'shadow')
      log.info({ model: modelName, reason: control.reason }, 'shadow run ended')
      return
    }
    if (running?.version === control.version) return
    const loaded = await load(control)
    if (running) retired.push(running)
    if (pair) pair = { ...pair, shadow: loaded }
    else pendingShadow = loaded
    await acknowledge('shadow', control.version, control.reason)
    log.info({ model: modelName, version: control.version, reason: control.reason }, 'shadow version swapped in')
  }

  async function applyLive(control: ModelControl) {
    if (pair?.live.version === control.version) return
    const loaded = await load(control)
    if (pair) retired.push(pair.live)
    pair = { live: loaded, shadow: pair?.shadow ?? pendingShadow }
    pendingShadow = null
    await acknowledge('live', control.version, control.reason)
    log.info({ model: modelName, version: control.version, reason: control.reason }, 'model swapped in')
    resolveFirst(pair)
  }

  return {
    current: () => pair,
    firstLoaded: () => first,
    async apply(control) {
      if (control.model !== modelName) return
      await (control.role === 'shadow' ? applyShadow(control) : applyLive(control))
      showMetrics()
      // A version swapped out may still be scoring the batch that began before the swap: it is
      // released at the swap after, when no batch can hold it any more.
      while (retired.length > 1) await retired.shift()!.ensemble.close()
    },
    async close() {
      await withdrawDeployment(pool, instanceId)
    },
  }
}
