import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject'
import type { ITriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication'
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment'
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob'
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap'
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { ISecret } from 'kubernetes-models/v1/Secret'
import type { IService } from 'kubernetes-models/v1/Service'
import type { K8sObject } from './render.ts'

// Typed views of a validated render, and the environment a container sees.

export interface Rendered {
  /** the overlay (or variant) the objects came from */
  name: string
  objects: K8sObject[]
}

/** A render's objects by kind, typed by their models (call after validateObject passed). */
export function byKind(rendered: Rendered) {
  const of = <T>(kind: string) => rendered.objects.filter((o) => o.kind === kind) as unknown as T[]
  return {
    deployments: of<IDeployment & K8sObject>('Deployment'),
    cronJobs: of<ICronJob & K8sObject>('CronJob'),
    services: of<IService & K8sObject>('Service'),
    configMaps: of<IConfigMap & K8sObject>('ConfigMap'),
    secrets: of<ISecret & K8sObject>('Secret'),
    hpas: of<IHorizontalPodAutoscaler & K8sObject>('HorizontalPodAutoscaler'),
    scaledObjects: of<IScaledObject & K8sObject>('ScaledObject'),
    triggerAuthentications: of<ITriggerAuthentication & K8sObject>('TriggerAuthentication'),
    pdbs: of<IPodDisruptionBudget & K8sObject>('PodDisruptionBudget'),
    networkPolicies: of<INetworkPolicy & K8sObject>('NetworkPolicy'),
  }
}
export type Kinds = ReturnType<typeof byKind>

/** A container's environment as Kubernetes builds it: envFrom in order, then env; secret-backed names are listed, not valued. */
export interface ContainerEnv {
  values: Record<string, string>
  /** name → "secret/key" */
  fromSecrets: Map<string, string>
  /** ConfigMaps referenced that the render does not contain */
  missingConfigMaps: string[]
}

export function containerEnv(container: IContainer, configMaps: readonly IConfigMap[]): ContainerEnv {
  const values: Record<string, string> = {}
  const fromSecrets = new Map<string, string>()
  const missingConfigMaps: string[] = []
  const configMap = (name: string) => {
    const found = configMaps.find((c) => c.metadata?.name === name)
    if (!found) missingConfigMaps.push(name)
    return found?.data ?? {}
  }
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      for (const [k, v] of Object.entries(configMap(source.configMapRef.name!))) values[`${source.prefix ?? ''}${k}`] = v
    }
    // envFrom a Secret would hide which names it sets: the manifests name each secret key instead.
    if (source.secretRef) fromSecrets.set(`${source.prefix ?? ''}*`, `${source.secretRef.name}/*`)
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) values[e.name] = e.value
    else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef
      const v = configMap(ref.name!)[ref.key]
      if (v !== undefined) values[e.name] = v
    } else if (e.valueFrom?.secretKeyRef) {
      delete values[e.name]
      fromSecrets.set(e.name, `${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`)
    } else values[e.name] = ''
  }
  return { values, fromSecrets, missingConfigMaps }
}

/** The service a Deployment or CronJob runs: the deployment's name, which is the service's everywhere. */
export function podTemplateOf(workload: IDeployment | ICronJob) {
  return 'jobTemplate' in (workload.spec ?? {}) ? (workload as ICronJob).spec?.jobTemplate.spec?.template : (workload as IDeployment).spec?.template
}

/** Whether a label selector's matchLabels (no expressions here) select pods with `labels`. */
export function selects(matchLabels: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  const wanted = Object.entries(matchLabels ?? {})
  return wanted.length > 0 && wanted.every(([k, v]) => labels?.[k] === v)
}

/** A quantity (cpu "500m", "2"; memory "384Mi", "1Gi", "1e3") in base units. */
export function quantity(value: string | number | undefined): number {
  if (value === undefined) return NaN
  if (typeof value === 'number') return value
  const m = /^([0-9.]+(?:e[0-9]+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/.exec(value)
  if (!m) return NaN
  const scale: Record<string, number> = { m: 1e-3, k: 1e3, Ki: 2 ** 10, M: 1e6, Mi: 2 ** 20, G: 1e9, Gi: 2 ** 30, T: 1e12, Ti: 2 ** 40 }
  return Number(m[1]) * (m[2] ? scale[m[2]]! : 1)
}
