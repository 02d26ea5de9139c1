import type { LoadedEnsemble } from '@vigil/models'
import type { Logger, Metrics } from '@vigil/platform'
import type { ModelControl } from '@vigil/schemas'
import type { ModelRegistry } from './model-registry.ts'

/** One loaded version. */
export interface RunningModel {
  /** the model's name (MODEL_NAME), which its scores carry */
  model: string
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
  /**
   * Runs one batch with the current pair. Neither version is closed before `batch` settles, however
   * many swaps happen meanwhile; call only after firstLoaded().
   */
  withCurrent<T>(batch: (pair: ModelPair) => Promise<T>): Promise<T>
  firstLoaded(): Promise<ModelPair>
  /** Loads what a model-control record names, checks its sha256, swaps it in and acknowledges it in the registry. */
  apply(control: ModelControl): Promise<void>
  /** Withdraws this instance's deployments and closes every loaded version. */
  close(): Promise<void>
}

export interface RunningModelsOptions {
  modelName: string
}

/**
 * The versions this scorer runs. A version is loaded from the registry, its sha256 checked against
 * what model-control announced, and only then swapped in, whole, between batches: a batch already
 * running keeps the pair it started with, so no message is scored by two live versions or skipped.
 * Each swap is acknowledged in the registry (model_deployments), so it knows what runs where.
 */
export function createRunningModels(registry: ModelRegistry, options: RunningModelsOptions, log: Logger, metrics: Metrics): RunningModels {
  const { modelName } = options
  let pair: ModelPair | null = null
  // a shadow version announced before any live one: it joins the first pair
  let pendingShadow: RunningModel | null = null
  let resolveFirst: (p: ModelPair) => void
  const first = new Promise<ModelPair>((resolve) => (resolveFirst = resolve))
  // A swap does not wait for the batches running: a version swapped out is closed when the last
  // batch that took it ends (onnxruntime fails a batch whose session is released under it).
  const batchesHolding = new Map<RunningModel, number>()
  const closing = new Set<Promise<void>>()
  let shuttingDown = false

  function inUse(model: RunningModel): boolean {
    if (batchesHolding.has(model)) return true
    return !shuttingDown && (model === pair?.live || model === pair?.shadow || model === pendingShadow)
  }

  function closeIfUnused(model: RunningModel | null | undefined): Promise<void> {
    if (!model || inUse(model)) return Promise.resolve()
    const closed = model.ensemble.close()
      .catch((err: unknown) => log.warn({ err, model: modelName, version: model.version }, 'could not close a model version'))
      .finally(() => closing.delete(closed))
    closing.add(closed)
    return closed
  }

  function hold(model: RunningModel) {
    batchesHolding.set(model, (batchesHolding.get(model) ?? 0) + 1)
  }

  function release(model: RunningModel) {
    const left = batchesHolding.get(model)! - 1
    if (left > 0) {
      batchesHolding.set(model, left)
    } else {
      batchesHolding.delete(model)
      void closeIfUnused(model) // the batch's result does not wait on a release
    }
  }

  function showMetrics() {
    metrics.modelVersion.reset()
    if (pair) metrics.modelVersion.set({ model: modelName, version: pair.live.version, role: 'live' }, 1)
    if (pair?.shadow) metrics.modelVersion.set({ model: modelName, version: pair.shadow.version, role: 'shadow' }, 1)
  }

  // What the registry was last told this instance runs (undefined: nothing yet). A write that failed
  // (Postgres away) fails the record, which is applied again: the swap is done by then, and only this
  // tells the retry that the registry still has to hear of it.
  const told: { live?: string; shadow?: string | null } = {}
  async function tellRegistry(reason: string) {
    const live = pair?.live.version
    const shadowVersion = (pair?.shadow ?? pendingShadow)?.version ?? null
    if (live !== undefined && told.live !== live) {
      await registry.acknowledge('live', live, reason)
      told.live = live
    }
    if (told.shadow !== shadowVersion) {
      if (shadowVersion === null) await registry.withdraw('shadow')
      else await registry.acknowledge('shadow', shadowVersion, reason)
      told.shadow = shadowVersion
    }
  }

  async function applyShadow(control: ModelControl) {
    const running = pair?.shadow ?? pendingShadow
    if (control.version === '') {
      pendingShadow = null
      if (pair) pair = { ...pair, shadow: null }
      await closeIfUnused(running)
      await tellRegistry(control.reason)
      if (running) log.info({ model: modelName, reason: control.reason }, 'shadow run ended')
      return
    }
    if (running?.version === control.version) return tellRegistry(control.reason)
    const loaded = await registry.load(control)
    if (pair) pair = { ...pair, shadow: loaded }
    else pendingShadow = loaded
    await closeIfUnused(running)
    await tellRegistry(control.reason)
    log.info({ model: modelName, version: control.version, reason: control.reason }, 'shadow version swapped in')
  }

  async function applyLive(control: ModelControl) {
    if (pair?.live.version === control.version) return tellRegistry(control.reason)
    // A live record naming the shadow version promotes it, and its shadow run ends with it: the
    // end-shadow record that follows it (trainer's controlRecordsFor) may be missing from a topic
    // written before the trainer sent one, and a shadow kept beside it would outlive its retirement.
    const runningShadow = pair?.shadow ?? pendingShadow
    const promoted = runningShadow?.version === control.version ? runningShadow : null
    const loaded = promoted ?? await registry.load(control)
    const previous = pair?.live
    pair = { live: loaded, shadow: promoted ? null : pair?.shadow ?? pendingShadow }
    pendingShadow = null
    resolveFirst(pair)
    await closeIfUnused(previous)
    await tellRegistry(control.reason)
    log.info({ model: modelName, version: control.version, reason: control.reason, fromShadow: promoted !== null }, 'model swapped in')
  }

  return {
    current: () => pair,
    firstLoaded: () => first,
    async withCurrent(batch) {
      if (!pair) throw new Error('no live model yet: batches start after firstLoaded()')
      // taken and held in one step, so a swap cannot close the pair before the batch holds it
      const taken = pair
      hold(taken.live)
      if (taken.shadow) hold(taken.shadow)
      try {
        return await batch(taken)
      } finally {
        release(taken.live)
        if (taken.shadow) release(taken.shadow)
      }
    },
    async apply(control) {
      if (control.model !== modelName) return
      await (control.role === 'shadow' ? applyShadow(control) : applyLive(control))
      showMetrics()
    },
    async close() {
      shuttingDown = true
      for (const model of new Set([pair?.live, pair?.shadow, pendingShadow])) void closeIfUnused(model)
      await Promise.all(closing)
      await registry.withdraw()
    },
  }
}
