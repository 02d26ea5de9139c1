import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment'
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { IContainerPort } from 'kubernetes-models/v1/ContainerPort'
import type { ServiceName } from '@vigil/schemas'
import { SERVICE_NAMES, topicSettings, type CodeFacts, type ServiceFacts } from './code-facts.ts'
import type { K8sObject } from './render.ts'
import { findSecretValues } from './secret-scan.ts'
import { CliConfig } from '../../../services/trainer/src/cli/config.ts'
import { byKind, containerEnv, podTemplateOf, quantity, selects, type ContainerEnv, type Kinds, type Rendered } from './workloads.ts'

// The rules every render of deploy/k8s must keep. Each check returns its problems, one line each
// ("<render>: <Kind>/<name>: what is wrong"); the test expects none, and a mutated render some.

export type Check = (rendered: Rendered, facts: CodeFacts) => string[]

/** Every check, by what it guards. */
export const CHECKS: Record<string, Check> = {
  'probes, resources, security and image of each container': checkContainers,
  'a shutdown budget shorter than the grace period': checkShutdown,
  'settings every service requires, valid by its config.ts': checkSettings,
  'ports in step with their settings and the Services': checkPorts,
  'autoscalers on existing Deployments, within the partitions, on the groups the code uses': checkAutoscalers,
  'one trainer at most': checkTrainerSingleton,
  'Postgres connections at full scale within its default max_connections': checkPostgresConnections,
  'no secret values in the output': checkNoSecretValues,
  'a disruption budget that never blocks a drain': checkDisruptionBudgets,
  'a network policy per service that lets its traffic through': checkNetworkPolicies,
  'ConfigMaps referenced, present and under 1 MiB': checkConfigMaps,
  'one namespace per render': checkNamespace,
}

export function runChecks(rendered: Rendered, facts: CodeFacts): string[] {
  return Object.values(CHECKS).flatMap((check) => check(rendered, facts))
}

/** The Deployment's service, its main container and the environment that container sees. */
interface Workload {
  deployment: IDeployment & K8sObject
  service: ServiceFacts | null
  container: IContainer
  env: ContainerEnv
  where: string
}

function workloads(rendered: Rendered, facts: CodeFacts, kinds = byKind(rendered)): Workload[] {
  return kinds.deployments.map((deployment) => {
    const name = deployment.metadata.name
    const containers = deployment.spec?.template.spec?.containers ?? []
    const container = containers.find((c) => c.name === name) ?? containers[0]!
    return {
      deployment, container, where: `${rendered.name}: Deployment/${name}`,
      service: SERVICE_NAMES.includes(name as ServiceName) ? facts.services[name as ServiceName] : null,
      env: containerEnv(container, kinds.configMaps),
    }
  })
}

/** Environment variables for the runtime, not for a service's config.ts. */
const NOT_SETTINGS = new Set(['NODE_OPTIONS'])

/** Settings that name a file the pod reads (CA bundles, secrets as files). */
const FILE_SETTING = /_FILE$/

function checkContainers(rendered: Rendered, facts: CodeFacts): string[] {
  const problems: string[] = []
  for (const { deployment, service, where } of workloads(rendered, facts)) {
    const pod = deployment.spec?.template.spec
    if (!service) {
      problems.push(`${where}: runs no Vigil service (a Deployment is named after the service it runs: ${SERVICE_NAMES.join(', ')})`)
      continue
    }
    if (pod?.automountServiceAccountToken !== false) problems.push(`${where}: mounts a service account token the services never use`)
    if (pod?.securityContext?.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${where}: pod seccompProfile is not RuntimeDefault`)
    for (const c of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
      const at = `${where}: container ${c.name}`
      const isMain = c.name === service.name
      if (isMain) {
        if (c.livenessProbe?.httpGet?.path !== '/healthz') problems.push(`${at}: liveness probe is not an HTTP GET of /healthz`)
        if (c.readinessProbe?.httpGet?.path !== '/readyz') problems.push(`${at}: readiness probe is not an HTTP GET of /readyz`)
        for (const [kind, probe] of [['liveness', c.livenessProbe], ['readiness', c.readinessProbe], ['startup', c.startupProbe]] as const) {
          if (probe?.httpGet && portOf(c, probe.httpGet.port)?.name !== 'metrics') problems.push(`${at}: ${kind} probe is not on the metrics port`)
        }
        const image = /^(?:.*\/)?([^/:@]+)(?::([^/@]+))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(c.image ?? '')
        if (!image || image[1] !== `vigil-${service.name}`) problems.push(`${at}: image ${c.image} is not the Dockerfile target's image vigil-${service.name}`)
        else if (!image[3] && (!image[2] || image[2] === 'latest')) problems.push(`${at}: image ${c.image} has no pinned tag or digest`)
        if (c.command) problems.push(`${at}: overrides the image's entrypoint (command); the contract is the entrypoint plus args`)
        if (!service.imageCommand) problems.push(`${at}: the Dockerfile has no target "${service.name}" with a CMD`)
        else if (c.args && JSON.stringify(c.args) !== JSON.stringify(service.imageCommand)) {
          problems.push(`${at}: args ${JSON.stringify(c.args)} differ from the Dockerfile target's CMD ${JSON.stringify(service.imageCommand)}`)
        }
      }
      const requests = c.resources?.requests ?? {}
      const limits = c.resources?.limits ?? {}
      for (const r of ['cpu', 'memory']) {
        if (requests[r] === undefined) problems.push(`${at}: no ${r} request`)
        if (limits[r] === undefined) problems.push(`${at}: no ${r} limit`)
        if (quantity(requests[r]) > quantity(limits[r])) problems.push(`${at}: ${r} request ${requests[r]} is above its limit ${limits[r]}`)
      }
      const heap = /--max-old-space-size=(\d+)/.exec(c.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '')
      if (heap && Number(heap[1]) * 2 ** 20 >= quantity(limits.memory)) problems.push(`${at}: heap limit ${heap[1]} MiB is not below the memory limit ${limits.memory}`)
      const sc = c.securityContext
      if ((sc?.runAsNonRoot ?? pod?.securityContext?.runAsNonRoot) !== true) problems.push(`${at}: runAsNonRoot is not true`)
      const uid = sc?.runAsUser ?? pod?.securityContext?.runAsUser
      if (uid === undefined || uid === 0) problems.push(`${at}: runAsUser is ${uid ?? 'unset'} (the image's user is uid 1000)`)
      if (sc?.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation is not false`)
      if (sc?.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem is not true`)
      if (!sc?.capabilities?.drop?.includes('ALL')) problems.push(`${at}: capabilities do not drop ALL`)
      if ((sc?.capabilities?.add ?? []).length > 0) problems.push(`${at}: adds capabilities ${sc?.capabilities?.add?.join(', ')}`)
      if (sc?.privileged) problems.push(`${at}: privileged`)
    }
  }
  return problems
}

function checkShutdown(rendered: Rendered, facts: CodeFacts): string[] {
  const problems: string[] = []
  for (const { deployment, env, where } of workloads(rendered, facts)) {
    const pod = deployment.spec?.template.spec
    const grace = pod?.terminationGracePeriodSeconds ?? 30
    const budgetSeconds = topicSettingsOrNull(env)?.shutdownMs ?? NaN
    const pause = Math.max(0, ...(pod?.containers ?? []).map((c) => c.lifecycle?.preStop?.sleep?.seconds ?? 0))
    if (!(grace > pause + budgetSeconds / 1000)) {
      problems.push(`${where}: terminationGracePeriodSeconds ${grace} is not above the preStop pause (${pause} s) + SHUTDOWN_TIMEOUT_MS (${budgetSeconds / 1000} s)`)
    }
    if ((pod?.containers ?? []).some((c) => c.lifecycle?.preStop?.exec)) problems.push(`${where}: a preStop exec needs a shell or tool the image may not have; use preStop.sleep`)
  }
  return problems
}

function topicSettingsOrNull(env: ContainerEnv) {
  try {
    return topicSettings(env.values)
  } catch {
    return null
  }
}

function checkSettings(rendered: Rendered, facts: CodeFacts): string[] {
  const problems: string[] = []
  for (const { service, container, env, where } of workloads(rendered, facts)) {
    if (!service) continue
    const shape = service.settings.shape as Record<string, { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } }>
    for (const [key, schema] of Object.entries(shape)) {
      const provided = (env.values[key] ?? '') !== '' || env.fromSecrets.has(key) || env.fromSecrets.has(`${key}_FILE`) || (env.values[`${key}_FILE`] ?? '') !== ''
      if (!provided && !schema.safeParse(undefined).success) problems.push(`${where}: ${key} is required by services/${service.name}/src/config.ts and not set`)
    }
    for (const [key, value] of Object.entries(env.values)) {
      if (value === '' || !(key in shape)) continue
      if (FILE_SETTING.test(key)) {
        // A file the pod reads at start: it must lie in a volume the container mounts.
        const mounted = (container.volumeMounts ?? []).some((m) => value.startsWith(`${m.mountPath.replace(/\/$/, '')}/`))
        if (!mounted) problems.push(`${where}: ${key}=${value} is not under any volume the container mounts`)
        continue
      }
      const parsed = shape[key]!.safeParse(value)
      if (!parsed.success) problems.push(`${where}: ${key}=${JSON.stringify(value)}: ${parsed.error?.issues.map((i) => i.message).join('; ')}`)
    }
    // A setting no service reads is a typo or a leftover; settings are ignored silently otherwise.
    for (const key of [...Object.keys(env.values), ...env.fromSecrets.keys()]) {
      const names = [key, ...(FILE_SETTING.test(key) ? [key.replace(FILE_SETTING, '')] : [])] // NAME_FILE: NAME read from a file
      if (!NOT_SETTINGS.has(key) && !SERVICE_NAMES.some((n) => names.some((k) => k in facts.services[n].settings.shape))) {
        problems.push(`${where}: ${key} is read by no service's config.ts`)
      }
    }
    if ((env.values.KAFKA_SASL_MECHANISM ?? '') !== '') {
      for (const k of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD']) {
        if (!env.fromSecrets.has(k) && !env.fromSecrets.has(`${k}_FILE`)) problems.push(`${where}: KAFKA_SASL_MECHANISM is set but ${k} does not come from a Secret`)
      }
    }
  }
  return problems
}

/** Settings that open a listener, and the container port name each must match. */
const LISTENER_SETTINGS: Record<string, { port: string; protocol: 'TCP' | 'UDP' }> = {
  METRICS_PORT: { port: 'metrics', protocol: 'TCP' },
  SYSLOG_TCP_PORT: { port: 'syslog-tcp', protocol: 'TCP' },
  SYSLOG_UDP_PORT: { port: 'syslog-udp', protocol: 'UDP' },
  ZEEK_TCP_PORT: { port: 'zeek-tcp', protocol: 'TCP' },
  API_PORT: { port: 'api', protocol: 'TCP' },
}

function checkPorts(rendered: Rendered, facts: CodeFacts): string[] {
  const problems: string[] = []
  const kinds = byKind(rendered)
  const all = workloads(rendered, facts, kinds)
  for (const { deployment, service, container, env, where } of all) {
    if (!service) continue
    const declared = new Set((container.ports ?? []).map((p) => p.name))
    for (const [setting, { port, protocol }] of Object.entries(LISTENER_SETTINGS)) {
      if (!(setting in service.settings.shape)) continue
      const value = Number(env.values[setting] || NaN)
      const p = container.ports?.find((x) => x.name === port)
      // the API listens only with a token; a declared api port must still match API_PORT
      if (!(value > 0)) {
        if (p) problems.push(`${where}: declares port ${port} but ${setting} is not set to a port`)
        continue
      }
      if (!p) problems.push(`${where}: ${setting}=${value} but the container declares no port named ${port}`)
      else if (p.containerPort !== value || (p.protocol ?? 'TCP') !== protocol) problems.push(`${where}: port ${port} is ${p.containerPort}/${p.protocol ?? 'TCP'}, ${setting} says ${value}/${protocol}`)
      declared.delete(port)
    }
    for (const left of declared) problems.push(`${where}: port ${left} matches no listener setting`)
    const annotations = deployment.spec?.template.metadata?.annotations ?? {}
    if (annotations['prometheus.io/scrape'] !== 'true' || annotations['prometheus.io/path'] !== '/metrics' || annotations['prometheus.io/port'] !== env.values.METRICS_PORT) {
      problems.push(`${where}: scrape annotations are not scrape=true, path=/metrics, port=METRICS_PORT (${env.values.METRICS_PORT})`)
    }
  }
  for (const svc of kinds.services) {
    const targets = all.filter((w) => selects(svc.spec?.selector, w.deployment.spec?.template.metadata?.labels))
    if (targets.length !== 1) {
      problems.push(`${rendered.name}: Service/${svc.metadata.name}: selects ${targets.length} Deployments, not one`)
      continue
    }
    for (const sp of svc.spec?.ports ?? []) {
      const p = portOf(targets[0]!.container, sp.targetPort ?? sp.port)
      if (!p || (p.protocol ?? 'TCP') !== (sp.protocol ?? 'TCP')) problems.push(`${rendered.name}: Service/${svc.metadata.name}: port ${sp.name} targets no ${sp.protocol ?? 'TCP'} port of ${targets[0]!.deployment.metadata.name}`)
    }
  }
  return problems
}

function portOf(container: IContainer, ref: number | string | undefined): IContainerPort | undefined {
  return (container.ports ?? []).find((p) => (typeof ref === 'number' ? p.containerPort === ref : p.name === ref))
}

/** The dev overlay (or a mutated copy of it) runs one of everything; the others are production. */
const isDevRender = (rendered: Rendered) => /\bdev$/.test(rendered.name)

/** KEDA's names for platform's KAFKA_SASL_MECHANISM values. */
const KEDA_SASL: Record<string, string> = { plain: 'plaintext', 'scram-sha-256': 'scram_sha256', 'scram-sha-512': 'scram_sha512' }

function checkAutoscalers(rendered: Rendered, facts: CodeFacts): string[] {
  const problems: string[] = []
  const kinds = byKind(rendered)
  const all = workloads(rendered, facts, kinds)
  const scalers = [
    ...kinds.hpas.map((h) => ({ where: `${rendered.name}: HorizontalPodAutoscaler/${h.metadata.name}`, kind: h.spec?.scaleTargetRef.kind, target: h.spec?.scaleTargetRef.name, min: h.spec?.minReplicas ?? 1, max: h.spec?.maxReplicas })),
    ...kinds.scaledObjects.map((s) => ({ where: `${rendered.name}: ScaledObject/${s.metadata.name}`, kind: s.spec.scaleTargetRef.kind ?? 'Deployment', target: s.spec.scaleTargetRef.name, min: s.spec.minReplicaCount ?? 0, max: s.spec.maxReplicaCount ?? 100 })),
  ]
  const scaledBy = new Map<string, string[]>()
  for (const s of scalers) {
    const w = all.find((x) => x.deployment.metadata.name === s.target)
    if (s.kind !== 'Deployment' || !w) {
      problems.push(`${s.where}: targets ${s.kind}/${s.target}, which is not a Deployment of this render`)
      continue
    }
    scaledBy.set(w.deployment.metadata.name, [...(scaledBy.get(w.deployment.metadata.name) ?? []), s.where])
    if (w.deployment.spec?.replicas !== undefined) problems.push(`${s.where}: its Deployment sets spec.replicas (${w.deployment.spec.replicas}), which every apply would reset`)
    if (s.max === undefined || s.min > s.max) problems.push(`${s.where}: min ${s.min} > max ${s.max}`)
    // A drain evicts a pod before its replacement runs: with one, the stage stops until it is back.
    if (!isDevRender(rendered) && s.min < 2) problems.push(`${s.where}: min replicas ${s.min}: a node drain stops the stage (production keeps 2)`)
    const settings = topicSettingsOrNull(w.env)
    if (!w.service || !settings) {
      problems.push(`${s.where}: its target runs no service with Kafka settings`)
      continue
    }
    if (w.service.consumes.length === 0) problems.push(`${s.where}: ${w.service.name} consumes nothing: lag and partitions say nothing of it`)
    for (const c of w.service.consumes) {
      // platform's partitionsOf gives data and dead-letter topics TOPIC_PARTITIONS, control topics one.
      if (c.topic.kind === 'control') problems.push(`${s.where}: ${w.service.name} reads the control topic ${c.topic.name} with group ${c.groupId}: a group there must not scale`)
      else if ((s.max ?? Infinity) > settings.partitions) {
        problems.push(`${s.where}: max replicas ${s.max} > ${settings.partitions} partitions of ${settings.prefix}${c.topic.name} (TOPIC_PARTITIONS), which group ${c.groupId} reads`)
      }
    }
  }
  for (const [name, by] of scaledBy) if (by.length > 1) problems.push(`${rendered.name}: Deployment/${name} has ${by.length} autoscalers: ${by.join(', ')}`)

  for (const so of kinds.scaledObjects) {
    const where = `${rendered.name}: ScaledObject/${so.metadata.name}`
    const w = all.find((x) => x.deployment.metadata.name === so.spec.scaleTargetRef.name)
    const settings = w && topicSettingsOrNull(w.env)
    if (!w?.service || !settings) continue
    const env = w.env.values
    const kafkaTriggers = so.spec.triggers.filter((t) => t.type === 'kafka')
    for (const c of w.service.consumes) {
      const group = `${settings.prefix}${c.groupId}`
      const topic = `${settings.prefix}${c.topic.name}`
      if (!kafkaTriggers.some((t) => t.metadata.consumerGroup === group && t.metadata.topic === topic)) {
        problems.push(`${where}: no kafka trigger for group ${group} on ${topic}, which services/${w.service.name}/src/main.ts consumes`)
      }
    }
    for (const t of kafkaTriggers) {
      const m = t.metadata
      const at = `${where}: trigger ${m.consumerGroup} on ${m.topic}`
      if (!w.service.consumes.some((c) => m.consumerGroup === `${settings.prefix}${c.groupId}` && m.topic === `${settings.prefix}${c.topic.name}`)) {
        problems.push(`${at}: ${w.service.name} consumes no such group and topic (TOPIC_PREFIX "${settings.prefix}")`)
      }
      if ((m.bootstrapServers ?? '').split(',').map((b) => b.trim()).sort().join(',') !== [...settings.brokers].sort().join(',')) {
        problems.push(`${at}: bootstrapServers ${m.bootstrapServers} is not KAFKA_BROKERS ${settings.brokers.join(',')}`)
      }
      if (!/^[1-9]\d*$/.test(m.lagThreshold ?? '')) problems.push(`${at}: lagThreshold ${m.lagThreshold} is not a positive integer`)
      if (m.allowIdleConsumers === 'true') problems.push(`${at}: allowIdleConsumers lets replicas exceed the partitions`)
      const mechanism = env.KAFKA_SASL_MECHANISM ?? ''
      if ((m.sasl ?? 'none') !== (mechanism ? KEDA_SASL[mechanism.toLowerCase()] : 'none')) {
        problems.push(`${at}: sasl ${m.sasl ?? 'unset'} does not match KAFKA_SASL_MECHANISM ${mechanism || 'unset'}`)
      }
      const ssl = env.KAFKA_SSL === 'true'
      if ((m.tls === 'enable') !== ssl) problems.push(`${at}: tls ${m.tls ?? 'unset'} does not match KAFKA_SSL ${env.KAFKA_SSL ?? 'unset'}`)
      if (mechanism || (ssl && env.KAFKA_SSL_CA_FILE)) {
        const auth = kinds.triggerAuthentications.find((a) => a.metadata?.name === t.authenticationRef?.name)
        const params = new Set((auth?.spec?.secretTargetRef ?? []).map((r) => r.parameter))
        const needed = [...(mechanism ? ['username', 'password'] : []), ...(ssl && env.KAFKA_SSL_CA_FILE ? ['ca'] : [])]
        if (!auth) problems.push(`${at}: Kafka needs credentials or a CA but authenticationRef names no TriggerAuthentication of this render`)
        else for (const p of needed) if (!params.has(p)) problems.push(`${at}: TriggerAuthentication/${auth.metadata?.name} has no ${p}`)
      }
    }
  }
  return problems
}

// Postgres's default max_connections (100) less its superuser_reserved_connections (3).
const PG_CONNECTIONS = 97

/**
 * Every replica an autoscaler may run, and the one more a rollout surges to, each with its full pool
 * (PG_POOL_SIZE, or its config.ts default), and the models CLI that the README runs in the trainer's
 * pod: past what Postgres takes, the newest pods fail at start ("sorry, too many clients") just when
 * the load that scaled them out is highest.
 */
function checkPostgresConnections(rendered: Rendered, facts: CodeFacts): string[] {
  const kinds = byKind(rendered)
  const maxReplicas = new Map<string, number>([
    ...kinds.hpas.map((h) => [h.spec?.scaleTargetRef.name ?? '', h.spec?.maxReplicas ?? 1] as const),
    ...kinds.scaledObjects.map((s) => [s.spec.scaleTargetRef.name, s.spec.maxReplicaCount ?? 100] as const),
  ])
  const cliPool = Number(CliConfig.shape.PG_POOL_SIZE.parse(undefined))
  const holders = [`models CLI ${cliPool}`]
  let total = cliPool
  for (const { deployment, service, env } of workloads(rendered, facts, kinds)) {
    const poolSize = service?.settings.shape.PG_POOL_SIZE as { safeParse(v: unknown): { success: boolean; data?: unknown } } | undefined
    if (!poolSize) continue
    const parsed = poolSize.safeParse(env.values.PG_POOL_SIZE || undefined)
    if (!parsed.success) continue // checkSettings reports it
    const name = deployment.metadata.name
    const replicas = maxReplicas.get(name) ?? deployment.spec?.replicas ?? 1
    const pods = replicas + surgeOf(deployment, replicas)
    total += pods * Number(parsed.data)
    holders.push(`${name} ${pods} × ${String(parsed.data)}`)
  }
  return total > PG_CONNECTIONS
    ? [`${rendered.name}: up to ${total} Postgres connections at full scale (${holders.join(', ')}), over the ${PG_CONNECTIONS} of Postgres's default max_connections: lower PG_POOL_SIZE or the maxima, or raise max_connections and this bound`]
    : []
}

/** The pods a rolling update adds above `replicas` (Kubernetes's default maxSurge is 25%, rounded up). */
function surgeOf(deployment: IDeployment, replicas: number): number {
  if (deployment.spec?.strategy?.type === 'Recreate') return 0
  const surge = deployment.spec?.strategy?.rollingUpdate?.maxSurge ?? '25%'
  return typeof surge === 'number' ? surge : Math.ceil((replicas * Number(surge.replace('%', ''))) / 100)
}

function checkTrainerSingleton(rendered: Rendered, facts: CodeFacts): string[] {
  const kinds = byKind(rendered)
  const problems: string[] = []
  const main = facts.services.trainer.main
  const runsTrainer = (containers: IContainer[] | undefined) => (containers ?? []).some((c) => c.image?.includes('vigil-trainer') || (c.args ?? []).includes(main))
  const deployments = kinds.deployments.filter((d) => runsTrainer(podTemplateOf(d)?.spec?.containers))
  const cronJobs = kinds.cronJobs.filter((j) => runsTrainer(podTemplateOf(j)?.spec?.containers))
  if (deployments.length + cronJobs.length !== 1) problems.push(`${rendered.name}: ${deployments.length + cronJobs.length} workloads run the trainer, not one`)
  for (const d of deployments) {
    const where = `${rendered.name}: Deployment/${d.metadata.name}`
    if (d.spec?.replicas !== 1) problems.push(`${where}: runs the trainer with replicas ${d.spec?.replicas ?? 'unset (an autoscaler could change it)'}, not 1`)
    if (d.spec?.strategy?.type !== 'Recreate') problems.push(`${where}: strategy ${d.spec?.strategy?.type ?? 'RollingUpdate'} starts a new trainer before the old one stops; use Recreate`)
    const scaled = [...kinds.hpas.map((h) => h.spec?.scaleTargetRef.name), ...kinds.scaledObjects.map((s) => s.spec.scaleTargetRef.name)]
    if (scaled.includes(d.metadata.name)) problems.push(`${where}: an autoscaler targets the trainer`)
  }
  for (const j of cronJobs) {
    const where = `${rendered.name}: CronJob/${j.metadata.name}`
    if (j.spec?.concurrencyPolicy !== 'Forbid') problems.push(`${where}: concurrencyPolicy is not Forbid`)
    if ((j.spec?.jobTemplate.spec?.parallelism ?? 1) > 1) problems.push(`${where}: parallelism above 1`)
  }
  return problems
}

function checkNoSecretValues(rendered: Rendered): string[] {
  const problems: string[] = []
  for (const s of byKind(rendered).secrets) {
    const keys = [...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})]
    if (keys.length > 0) problems.push(`${rendered.name}: Secret/${s.metadata.name}: carries values (${keys.join(', ')}); create Secrets with kubectl, never in the manifests`)
  }
  for (const o of rendered.objects) {
    for (const hit of findSecretValues(JSON.stringify(o, null, 1))) problems.push(`${rendered.name}: ${o.kind}/${o.metadata.name}: ${hit}`)
  }
  return problems
}

function checkDisruptionBudgets(rendered: Rendered, facts: CodeFacts): string[] {
  const kinds = byKind(rendered)
  const problems: string[] = []
  for (const { deployment, where } of workloads(rendered, facts, kinds)) {
    const labels = deployment.spec?.template.metadata?.labels
    const pdbs = kinds.pdbs.filter((p) => selects(p.spec?.selector?.matchLabels, labels))
    const singleton = deployment.spec?.strategy?.type === 'Recreate'
    if (pdbs.length > 1) problems.push(`${where}: ${pdbs.length} PodDisruptionBudgets select it`)
    if (pdbs.length === 0 && !singleton) problems.push(`${where}: no PodDisruptionBudget`)
    for (const p of pdbs) {
      // minAvailable, or maxUnavailable 0, blocks every drain of a one-replica Deployment.
      const max = p.spec?.maxUnavailable
      if (p.spec?.minAvailable !== undefined || max === undefined || max === 0 || max === '0%') {
        problems.push(`${rendered.name}: PodDisruptionBudget/${p.metadata.name}: may block node drains (use maxUnavailable >= 1)`)
      }
      // The default (IfHealthyBudget) keeps every unready pod while the budget is spent: two replicas
      // both unready (waiting for a model, or for Kafka) block the drain for good.
      if (p.spec?.unhealthyPodEvictionPolicy !== 'AlwaysAllow') {
        problems.push(`${rendered.name}: PodDisruptionBudget/${p.metadata.name}: unready pods would block node drains (use unhealthyPodEvictionPolicy: AlwaysAllow)`)
      }
    }
  }
  return problems
}

function checkNetworkPolicies(rendered: Rendered, facts: CodeFacts): string[] {
  const kinds = byKind(rendered)
  const problems: string[] = []
  for (const { deployment, service, container, env, where } of workloads(rendered, facts, kinds)) {
    const policies = kinds.networkPolicies.filter((p) => selects(p.spec?.podSelector?.matchLabels, deployment.spec?.template.metadata?.labels))
    if (policies.length !== 1) {
      problems.push(`${where}: ${policies.length} NetworkPolicies select it, not one`)
      continue
    }
    const policy = policies[0]!
    const at = `${rendered.name}: NetworkPolicy/${policy.metadata.name}`
    const types = policy.spec?.policyTypes ?? []
    if (!types.includes('Ingress') || !types.includes('Egress')) problems.push(`${at}: does not restrict both Ingress and Egress`)
    const resolve = (port: number | string | undefined) => (typeof port === 'string' ? portOf(container, port)?.containerPort : port)
    const ingress = (policy.spec?.ingress ?? []).flatMap((r) => (r.ports ?? []).map((p) => ({ port: resolve(p.port), protocol: p.protocol ?? 'TCP', named: p.port })))
    const egress = (policy.spec?.egress ?? []).flatMap((r) => (r.ports ?? []).map((p) => ({ port: resolve(p.port), protocol: p.protocol ?? 'TCP' })))
    if ((policy.spec?.ingress ?? []).some((r) => !r.ports) || (policy.spec?.egress ?? []).some((r) => !r.ports)) problems.push(`${at}: a rule without ports opens every port`)
    for (const p of ingress) if (p.port === undefined) problems.push(`${at}: ingress port ${p.named} is not a port of the container`)
    for (const p of container.ports ?? []) {
      if (!ingress.some((i) => i.port === p.containerPort && i.protocol === (p.protocol ?? 'TCP'))) problems.push(`${at}: ingress does not allow port ${p.name} (${p.containerPort}/${p.protocol ?? 'TCP'})`)
    }
    const needs: Array<[string, number]> = [['DNS', 53]]
    const settings = topicSettingsOrNull(env)
    for (const b of settings?.brokers ?? []) needs.push([`Kafka ${b}`, Number(b.split(':').pop())])
    const urlPort = (url: string | undefined, fallback: number) => (url ? Number(new URL(url).port || fallback) : null)
    const registry = urlPort(env.values.SCHEMA_REGISTRY_URL || undefined, env.values.SCHEMA_REGISTRY_URL?.startsWith('https') ? 443 : 80)
    if (registry) needs.push(['the schema registry', registry])
    if (service && 'PG_URL' in service.settings.shape) needs.push(['Postgres', urlPort(env.values.PG_URL || 'postgres://x', 5432)!])
    if (service && 'REDIS_URL' in service.settings.shape) needs.push(['Redis', urlPort(env.values.REDIS_URL || 'redis://x', 6379)!])
    for (const [what, port] of needs) {
      if (!egress.some((e) => e.port === port && e.protocol === 'TCP')) problems.push(`${at}: egress does not allow ${what} (${port}/TCP)`)
    }
    if (!egress.some((e) => e.port === 53 && e.protocol === 'UDP')) problems.push(`${at}: egress does not allow DNS (53/UDP)`)
  }
  return problems
}

/** A ConfigMap holds at most 1 MiB (etcd's object limit); leave room for its metadata. */
const CONFIG_MAP_MAX_BYTES = 1_000_000

function checkConfigMaps(rendered: Rendered, facts: CodeFacts): string[] {
  const kinds = byKind(rendered)
  const problems: string[] = []
  const names = new Set(kinds.configMaps.map((c) => c.metadata.name))
  for (const { deployment, env, where } of workloads(rendered, facts, kinds)) {
    for (const missing of env.missingConfigMaps) problems.push(`${where}: references ConfigMap ${missing}, which the render does not contain`)
    for (const v of deployment.spec?.template.spec?.volumes ?? []) {
      if (v.configMap && !names.has(v.configMap.name!) && !v.configMap.optional) problems.push(`${where}: volume ${v.name} references ConfigMap ${v.configMap.name}, which the render does not contain`)
    }
  }
  for (const c of kinds.configMaps) {
    const bytes = [...Object.values(c.data ?? {}), ...Object.values(c.binaryData ?? {})].reduce((n, v) => n + Buffer.byteLength(v), 0)
    if (bytes > CONFIG_MAP_MAX_BYTES) problems.push(`${rendered.name}: ConfigMap/${c.metadata.name}: ${bytes} bytes, over the ~1 MiB a ConfigMap can hold`)
  }
  return problems
}

function checkNamespace(rendered: Rendered): string[] {
  const namespaced = rendered.objects.filter((o) => o.kind !== 'Namespace')
  const spaces = new Set(namespaced.map((o) => o.metadata.namespace ?? '(none)'))
  if (spaces.size > 1) return [`${rendered.name}: objects in several namespaces: ${[...spaces].join(', ')}`]
  const declared = rendered.objects.filter((o) => o.kind === 'Namespace')
  return declared
    .filter((n) => !spaces.has(n.metadata.name) || n.metadata.labels?.['pod-security.kubernetes.io/enforce'] !== 'restricted')
    .map((n) => `${rendered.name}: Namespace/${n.metadata.name}: not the objects' namespace, or not enforcing the restricted Pod Security Standard`)
}

export type { Kinds }
