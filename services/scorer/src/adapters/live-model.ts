import { decodeArtifact, loadModel, loadModelArtifact, sha256Of, type LoadedModel } from '@vigil/models'
import { PoisonMessageError, TransientError, type Logger, type Metrics, type PgPool } from '@vigil/platform'
import type { ModelControl } from '@vigil/schemas'

/** The model version in use, swapped whole between batches. */
export interface RunningModel {
  version: string
  model: LoadedModel
}

export interface LiveModel {
  /** The version to score the next batch with; null until the first one is loaded. */
  current(): RunningModel | null
  /** Resolves once a first version is loaded. */
  firstLoaded(): Promise<RunningModel>
  /** Loads the version a model-control record names and makes it current. */
  apply(control: ModelControl): Promise<void>
}

/**
 * Holds the live model. A version is loaded from the registry, its sha256 checked against what
 * model-control announced, and only then swapped in; a batch already running keeps the model it
 * started with, so no message is scored by two versions or skipped.
 */
export function createLiveModel(pool: PgPool, modelName: string, log: Logger, metrics: Metrics): LiveModel {
  let running: RunningModel | null = null
  let resolveFirst: (m: RunningModel) => void
  const first = new Promise<RunningModel>((resolve) => (resolveFirst = resolve))

  return {
    current: () => running,
    firstLoaded: () => first,
    async apply(control) {
      if (control.model !== modelName) return
      if (running?.version === control.version) return
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
      const model = loadModel(decodeArtifact(stored.artifact))
      running = { version: control.version, model }
      metrics.modelVersion.reset()
      metrics.modelVersion.set({ model: control.model, version: control.version }, 1)
      log.info({ model: control.model, version: control.version, reason: control.reason }, 'model swapped in')
      resolveFirst(running)
    },
  }
}
