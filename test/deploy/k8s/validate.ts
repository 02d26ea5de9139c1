import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1'
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2'
import { CronJob, Job } from 'kubernetes-models/batch/v1'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1'
import type { K8sObject } from './render.ts'

interface ModelClass {
  new (data: never): { validate(): void }
}

/**
 * The kinds Vigil's manifests may contain, by apiVersion and kind, each with its model from
 * kubernetes-models or @kubernetes-models/keda. A kind not listed is an error: add its model here
 * (and any invariant it needs) before a manifest uses it.
 */
const MODELS: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/CronJob': CronJob,
  'batch/v1/Job': Job,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
}

/** What is wrong with `object` by its kind's OpenAPI schema (types, formats, required fields); empty when nothing. */
export function validateObject(object: K8sObject): string[] {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`]
  if (!Model) return [`no model for ${object.apiVersion} ${object.kind}: an unexpected kind (known: ${Object.keys(MODELS).join(', ')})`]
  try {
    new Model(object as never).validate()
    return []
  } catch (err) {
    return [(err as Error).message]
  }
}
