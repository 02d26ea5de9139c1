// In-memory doubles for the running models' unit tests: a registry that hands out fake models by
// version and records what it was told, and a model whose scoring a test can hold mid-batch. The
// fake model fails as onnxruntime does when a batch uses it after close().
import type { DeploymentRole, EnsembleScores, LoadedEnsemble, ScoreOptions } from '@vigil/models'
import type { DeliveredMessage, TypedProducer } from '@vigil/platform'
import type { FeatureRecord, ModelControl, Score } from '@vigil/schemas'
import type { ModelRegistry } from '../../../src/adapters/model-registry.ts'
import type { RunningModel } from '../../../src/adapters/running-models.ts'

export interface FakeModel extends RunningModel {
  /** close() calls so far */
  closes: number
  /** the options of each score() call */
  scoreOptions: Array<ScoreOptions | undefined>
  /** Makes this model's next score() calls wait until the returned function is called. */
  hold(): () => void
  /** Resolves once a score() call is waiting on a hold. */
  waiting(): Promise<void>
}

export function fakeModel(version: string): FakeModel {
  let gate: Promise<void> = Promise.resolve()
  let closed = false
  let onWaiting: (() => void) | undefined
  let waiting = new Promise<void>((resolve) => (onWaiting = resolve))
  const ensemble: LoadedEnsemble = {
    featureNames: ['auth_failures'],
    threshold: 0.99,
    members: [{ kind: 'fake', weight: 1 }],
    async score(rows, options): Promise<EnsembleScores> {
      model.scoreOptions.push(options)
      if (closed) throw new Error('Session already disposed')
      onWaiting?.()
      await gate
      if (closed) throw new Error('Session already disposed')
      const n = rows.length
      return { score: new Float64Array(n).fill(0.5), surprisal: new Float64Array(n).fill(0.7), members: [new Float64Array(n).fill(0.5)], topFeatures: new Array(n).fill(undefined) }
    },
    explain: async () => [],
    async close() {
      closed = true
      model.closes++
    },
  }
  const model: FakeModel = {
    model: 'default', version, ensemble, memberNames: ['fake'], closes: 0, scoreOptions: [],
    hold() {
      let release!: () => void
      gate = new Promise((resolve) => (release = resolve))
      waiting = new Promise((resolve) => (onWaiting = resolve))
      return release
    },
    waiting: () => waiting,
  }
  return model
}

/** A registry whose versions are fake models, one instance per load, as the real one loads afresh. */
export function memoryRegistry() {
  const loaded: FakeModel[] = []
  const deployments = new Map<DeploymentRole, string>()
  const registry: ModelRegistry = {
    async load(control) {
      const model = fakeModel(control.version)
      loaded.push(model)
      return model
    },
    async acknowledge(role, version) {
      deployments.set(role, version)
    },
    async withdraw(role) {
      if (role) deployments.delete(role)
      else deployments.clear()
    },
    async renew() {},
  }
  /** every instance loaded of `version`, oldest first */
  const instancesOf = (version: string) => loaded.filter((m) => m.version === version)
  return { registry, loaded, deployments, instancesOf }
}

export const live = (version: string): ModelControl =>
  ({ model: 'default', version, algorithm: 'ensemble', sha256: `sha-${version}`, featureNames: ['auth_failures'], publishedAt: 0, reason: 'test', role: 'live' })
export const shadow = (version: string): ModelControl => ({ ...live(version), role: 'shadow' })
/** what the trainer's shadow review sends after it promotes or rejects the shadow version */
export const endShadow = (): ModelControl => ({ ...live(''), sha256: '', featureNames: [], role: 'shadow' })

/** A `features` batch of `n` sshd events, offsets from `first`. */
export function featureBatch(first: number, n: number): DeliveredMessage<FeatureRecord>[] {
  return Array.from({ length: n }, (_, k) => {
    const i = first + k
    const line = `Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root from 10.0.0.1 port ${40000 + i} ssh2`
    const value = {
      eventId: `raw-logs/0/${i}`, entity: { kind: 'source.ip', id: '10.0.0.1' }, eventTime: 1000 + i, receivedAt: 1005 + i, family: 'sshd',
      event: { timestamp: 1000 + i, message: line, event: { kind: 'event', category: ['authentication'], type: ['info'], action: 'ssh_login_failed', outcome: 'failure', module: 'sshd', original: line } },
      evidence: { topic: 'raw-logs', partition: 0, offset: String(i) },
      vector: { auth_failures: i },
    } as unknown as FeatureRecord
    return { value, key: '10.0.0.1', topic: 'features', partition: 0, offset: String(i), timestamp: 0, headers: {} }
  })
}

/** A producer that keeps what it is sent, by logical topic name. */
export function memoryProducer() {
  const sent = new Map<string, Score[]>()
  const producer: TypedProducer = {
    async send(topic, records) {
      const list = sent.get(topic.name) ?? []
      list.push(...records.map((r) => r.value as Score))
      sent.set(topic.name, list)
    },
    async close() {},
  }
  /** (eventId, modelVersion) of each score sent to `topic` */
  const scored = (topic: string) => (sent.get(topic) ?? []).map((s) => `${s.eventId}@${s.modelVersion}`)
  return { producer, sent, scored }
}
