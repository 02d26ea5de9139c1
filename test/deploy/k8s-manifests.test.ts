import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject'
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment'
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { loadCodeFacts } from './k8s/code-facts.ts'
import { dashboardProblems } from './k8s/dashboard.ts'
import { CHECKS, runChecks, type Check } from './k8s/invariants.ts'
import { findRenderer, parseObjects, type K8sObject, type Renderer } from './k8s/render.ts'
import { findSecretValues, scanTree } from './k8s/secret-scan.ts'
import { validateObject } from './k8s/validate.ts'
import { byKind, type Rendered } from './k8s/workloads.ts'

// Renders every overlay of deploy/k8s with kustomize, validates each object against its
// Kubernetes (or KEDA) model, and checks the invariants of k8s/invariants.ts against what the code
// says: the services' config.ts, their main.ts consumers, the Dockerfile targets, platform's
// metrics. The last block mutates a good render and expects each check to notice.

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const K8S = join(REPO, 'deploy', 'k8s')
const OVERLAYS = readdirSync(join(K8S, 'overlays')).filter((d) => statSync(join(K8S, 'overlays', d)).isDirectory()).sort()
const facts = loadCodeFacts(REPO)

let renderer: Renderer
const renders = new Map<string, Rendered>()
const render = (overlay: string): Rendered => {
  const r = renders.get(overlay)
  if (!r) throw new Error(`overlay ${overlay} was not rendered`)
  return r
}

beforeAll(() => {
  renderer = findRenderer(REPO) // throws, naming the install script, when there is no kustomize
  for (const overlay of OVERLAYS) {
    renders.set(overlay, { name: `overlays/${overlay}`, objects: parseObjects(renderer.render(join(K8S, 'overlays', overlay))) })
  }
})

describe('deploy/k8s overlays', () => {
  it('are dev, prod and prod-hpa, each rendered', () => {
    expect(OVERLAYS).toEqual(['dev', 'prod', 'prod-hpa'])
    for (const overlay of OVERLAYS) expect(render(overlay).objects.length, `${overlay} (${renderer.name})`).toBeGreaterThan(20)
  })

  it.each(OVERLAYS)('%s: every object validates against its model', (overlay) => {
    const problems = render(overlay).objects.flatMap((o) => validateObject(o).map((p) => `${o.kind}/${o.metadata.name}: ${p}`))
    expect(problems).toEqual([])
  })

  it.each(OVERLAYS)('%s: runs the five services, the scaled ones under the autoscaler the overlay chose', (overlay) => {
    const kinds = byKind(render(overlay))
    expect(kinds.deployments.map((d) => d.metadata.name).sort()).toEqual(['alerter', 'featurizer', 'ingestor', 'scorer', 'trainer'])
    const scaled = [...kinds.scaledObjects.map((s) => s.spec.scaleTargetRef.name), ...kinds.hpas.map((h) => h.spec?.scaleTargetRef.name)].sort()
    expect(scaled).toEqual(['alerter', 'featurizer', 'scorer'])
    expect(kinds.scaledObjects.length > 0).toBe(overlay === 'prod')
  })

  describe.each(Object.keys(CHECKS))('%s', (title) => {
    it.each(OVERLAYS)('%s', (overlay) => {
      expect(CHECKS[title]!(render(overlay), facts)).toEqual([])
    })
  })
})

describe('deploy/k8s documentation and files', () => {
  it('README tells how to create every Secret the manifests reference, key by key', () => {
    const readme = readFileSync(join(K8S, 'README.md'), 'utf8')
    const refs = new Set<string>()
    for (const overlay of OVERLAYS) {
      const text = JSON.stringify(render(overlay).objects)
      for (const m of text.matchAll(/"secretKeyRef":\{"key":"([^"]+)","name":"([^"]+)"/g)) refs.add(`${m[2]} ${m[1]}`)
      for (const m of text.matchAll(/"secretName":"([^"]+)"/g)) refs.add(`${m[1]} `)
      for (const a of byKind(render(overlay)).triggerAuthentications) for (const r of a.spec?.secretTargetRef ?? []) refs.add(`${r.name} ${r.key}`)
    }
    expect(refs.size).toBeGreaterThan(10)
    const undocumented = [...refs].filter((ref) => {
      const [name, key] = ref.split(' ')
      return !readme.includes(`kubectl create secret generic ${name} `) || (key !== '' && !readme.includes(key!))
    })
    expect(undocumented).toEqual([])
  })

  it('no file under deploy/ holds something that looks like a secret', () => {
    expect(scanTree(join(REPO, 'deploy'))).toEqual([])
  })

  it('the Grafana dashboard queries only metrics the services export, and shows throughput, lag, latency, alerts and model versions', () => {
    const dashboard = JSON.parse(readFileSync(join(K8S, 'grafana', 'vigil-dashboard.json'), 'utf8')) as Parameters<typeof dashboardProblems>[0]
    expect(dashboardProblems(dashboard, facts.metricNames, REQUIRED_PANELS)).toEqual([])
  })
})

const REQUIRED_PANELS = ['app_messages_in_total', 'app_messages_out_total', 'app_consumer_lag_messages', 'app_batch_duration_seconds', 'app_model_version_info', 'app_sink_deliveries_total']

describe('the checks find what they guard against', () => {
  /** The problems `check` reports on a copy of the overlay's render changed by `change`. */
  const after = (overlay: string, check: Check, change: (objects: K8sObject[]) => void) => {
    const objects = structuredClone(render(overlay).objects)
    change(objects)
    return check({ name: `mutated ${overlay}`, objects }, facts)
  }
  const find = <T>(objects: K8sObject[], kind: string, name: string) => {
    const o = objects.find((x) => x.kind === kind && x.metadata.name.startsWith(name))
    if (!o) throw new Error(`no ${kind}/${name}`)
    return o as unknown as T & K8sObject
  }
  const deployment = (objects: K8sObject[], name: string) => find<IDeployment>(objects, 'Deployment', name)
  const container = (objects: K8sObject[], name: string) => deployment(objects, name).spec!.template.spec!.containers[0]!
  const common = (objects: K8sObject[]) => find<IConfigMap>(objects, 'ConfigMap', 'vigil-common-').data!
  const check = (title: string) => CHECKS[Object.keys(CHECKS).find((t) => t.startsWith(title))!]!

  it('a container without its readiness probe, running as root, or with a writable root', () => {
    const problems = after('prod', check('probes'), (o) => {
      delete container(o, 'scorer').readinessProbe
      container(o, 'ingestor').securityContext!.runAsUser = 0
      container(o, 'alerter').securityContext!.readOnlyRootFilesystem = false
      container(o, 'trainer').image = 'registry.example.com/vigil-trainer:latest'
    })
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/Deployment\/scorer: container scorer: readiness probe/),
      expect.stringMatching(/Deployment\/ingestor: container ingestor: runAsUser is 0/),
      expect.stringMatching(/Deployment\/alerter: container alerter: readOnlyRootFilesystem/),
      expect.stringMatching(/Deployment\/trainer: .*no pinned tag/),
    ]))
  })

  it('a grace period within the shutdown budget', () => {
    const problems = after('prod', check('a shutdown budget'), (o) => {
      deployment(o, 'alerter').spec!.template.spec!.terminationGracePeriodSeconds = 12 // preStop 5 s + budget 10 s
    })
    expect(problems).toEqual([expect.stringMatching(/Deployment\/alerter: terminationGracePeriodSeconds 12 is not above/)])
  })

  it('a ScaledObject above the partitions, or the partitions lowered under it (read from TOPIC_PARTITIONS)', () => {
    expect(after('prod', check('autoscalers'), (o) => {
      find<IScaledObject>(o, 'ScaledObject', 'featurizer').spec.maxReplicaCount = 13
    })).toEqual([expect.stringMatching(/ScaledObject\/featurizer: max replicas 13 > 12 partitions of raw-logs/)])
    const lowered = after('prod', check('autoscalers'), (o) => {
      common(o).TOPIC_PARTITIONS = '6'
    })
    expect(lowered).toHaveLength(4) // featurizer, scorer, and the alerter's two groups
    expect(lowered).toEqual(expect.arrayContaining([expect.stringMatching(/ScaledObject\/alerter: max replicas 12 > 6 partitions of features .* alerter-sigma/)]))
  })

  it('an HPA on a missing Deployment, two autoscalers on one, a Deployment fixing its replicas under one', () => {
    const problems = after('prod-hpa', check('autoscalers'), (o) => {
      find<IHorizontalPodAutoscaler>(o, 'HorizontalPodAutoscaler', 'scorer').spec!.scaleTargetRef.name = 'scorer-v2'
      const extra = structuredClone(find<IHorizontalPodAutoscaler>(o, 'HorizontalPodAutoscaler', 'alerter'))
      extra.metadata.name = 'alerter-memory'
      o.push(extra)
      deployment(o, 'featurizer').spec!.replicas = 3
      find<IHorizontalPodAutoscaler>(o, 'HorizontalPodAutoscaler', 'featurizer').spec!.minReplicas = 1
    })
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/HorizontalPodAutoscaler\/scorer: targets Deployment\/scorer-v2, which is not a Deployment/),
      expect.stringMatching(/Deployment\/alerter has 2 autoscalers/),
      expect.stringMatching(/HorizontalPodAutoscaler\/featurizer: its Deployment sets spec.replicas \(3\)/),
      expect.stringMatching(/HorizontalPodAutoscaler\/featurizer: min replicas 1: a node drain stops the stage/),
    ]))
  })

  it('triggers out of step with TOPIC_PREFIX, KAFKA_BROKERS, SASL, or missing a group the code consumes', () => {
    const prefixed = after('prod', check('autoscalers'), (o) => {
      common(o).TOPIC_PREFIX = 'acme.'
    })
    expect(prefixed).toEqual(expect.arrayContaining([
      expect.stringMatching(/ScaledObject\/scorer: no kafka trigger for group acme.scorer on acme.features/),
      expect.stringMatching(/ScaledObject\/scorer: trigger scorer on features: scorer consumes no such group/),
    ]))
    const drifted = after('prod', check('autoscalers'), (o) => {
      common(o).KAFKA_BROKERS = 'kafka-0.new:9093'
      common(o).KAFKA_SASL_MECHANISM = 'scram-sha-256'
      const alerter = find<IScaledObject>(o, 'ScaledObject', 'alerter')
      alerter.spec.triggers = alerter.spec.triggers.filter((t) => t.metadata.consumerGroup !== 'alerter-sigma')
    })
    expect(drifted).toEqual(expect.arrayContaining([
      expect.stringMatching(/trigger featurizer on raw-logs: bootstrapServers kafka-bootstrap.kafka.svc:9093 is not KAFKA_BROKERS kafka-0.new:9093/),
      expect.stringMatching(/trigger featurizer on raw-logs: sasl scram_sha512 does not match KAFKA_SASL_MECHANISM scram-sha-256/),
      expect.stringMatching(/ScaledObject\/alerter: no kafka trigger for group alerter-sigma on features/),
    ]))
  })

  it('more Postgres connections at full scale than its default max_connections', () => {
    const problems = after('prod', check('Postgres connections'), (o) => {
      find<IConfigMap>(o, 'ConfigMap', 'vigil-scorer-').data!.PG_POOL_SIZE = '5'
    })
    expect(problems).toEqual([expect.stringMatching(/up to 124 Postgres connections at full scale \(models CLI 2, alerter 13 × 4, scorer 13 × 5, trainer 1 × 5\), over the 97/)])
    // The pods a rollout adds count too: 85 at one pod of surge, 101 at five.
    expect(after('prod', check('Postgres connections'), (o) => {
      deployment(o, 'alerter').spec!.strategy!.rollingUpdate!.maxSurge = 5
    })).toEqual([expect.stringMatching(/up to 101 Postgres connections at full scale \(models CLI 2, alerter 17 × 4, scorer 13 × 2, trainer 1 × 5\)/)])
  })

  it('a second trainer, by replicas, rolling update or an autoscaler', () => {
    const problems = after('dev', check('one trainer'), (o) => {
      const trainer = deployment(o, 'trainer')
      trainer.spec!.replicas = 2
      trainer.spec!.strategy = { type: 'RollingUpdate' }
      find<IHorizontalPodAutoscaler>(o, 'HorizontalPodAutoscaler', 'scorer').spec!.scaleTargetRef.name = 'trainer'
    })
    expect(problems).toEqual([
      expect.stringMatching(/Deployment\/trainer: runs the trainer with replicas 2, not 1/),
      expect.stringMatching(/Deployment\/trainer: strategy RollingUpdate/),
      expect.stringMatching(/Deployment\/trainer: an autoscaler targets the trainer/),
    ])
  })

  it('a Secret with values, or a password in a ConfigMap', () => {
    const problems = after('prod', check('no secret values'), (o) => {
      o.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'vigil-postgres', namespace: 'vigil' }, stringData: { PG_PASSWORD: 'hunter2hunter2' } })
      common(o).PG_URL = 'postgres://vigil:s3cr3t-pw@postgres:5432/vigil'
    })
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/Secret\/vigil-postgres: carries values \(PG_PASSWORD\)/),
      expect.stringMatching(/ConfigMap\/vigil-common-\w+: .*a password in a URL/),
    ]))
  })

  it('a setting the service would refuse, a typo, a CA file outside any mount, a required one missing', () => {
    const problems = after('prod', check('settings'), (o) => {
      common(o).LOG_LEVEL = 'verbose'
      common(o).SYSLOG_TCP_PORTS = '5514'
      common(o).KAFKA_SSL_CA_FILE = '/etc/ssl/kafka.crt'
      const alerter = container(o, 'alerter')
      alerter.env = alerter.env!.filter((e) => e.name !== 'PG_PASSWORD')
      common(o).PG_URL = ''
    })
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/Deployment\/featurizer: LOG_LEVEL="verbose"/),
      expect.stringMatching(/Deployment\/ingestor: SYSLOG_TCP_PORTS is read by no service/),
      expect.stringMatching(/Deployment\/scorer: KAFKA_SSL_CA_FILE=\/etc\/ssl\/kafka.crt is not under any volume/),
      expect.stringMatching(/Deployment\/alerter: PG_URL is required/),
    ]))
  })

  it('a port that no longer matches its setting', () => {
    const problems = after('dev', check('ports'), (o) => {
      find<IConfigMap>(o, 'ConfigMap', 'vigil-alerter-').data!.API_PORT = '9000'
    })
    expect(problems).toEqual([expect.stringMatching(/Deployment\/alerter: port api is 8088\/TCP, API_PORT says 9000\/TCP/)])
  })

  it('a network policy that blocks Postgres, or misses a listener', () => {
    const problems = after('prod', check('a network policy'), (o) => {
      const policy = find<INetworkPolicy>(o, 'NetworkPolicy', 'scorer')
      policy.spec!.egress = policy.spec!.egress!.filter((r) => !r.ports?.some((p) => p.port === 5432))
      const ingestor = find<INetworkPolicy>(o, 'NetworkPolicy', 'ingestor')
      ingestor.spec!.ingress = ingestor.spec!.ingress!.slice(0, 1)
    })
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/NetworkPolicy\/scorer: egress does not allow Postgres \(5432\/TCP\)/),
      expect.stringMatching(/NetworkPolicy\/ingestor: ingress does not allow port syslog-udp \(5514\/UDP\)/),
    ]))
  })

  it('an object of an unknown kind, or one its model refuses', () => {
    expect(validateObject({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'x' } })).toEqual([expect.stringMatching(/no model for apps\/v1 DaemonSet/)])
    const broken = structuredClone(deployment(render('dev').objects, 'scorer')) as unknown as K8sObject & { spec: { replicas: unknown } }
    broken.spec.replicas = 'two'
    expect(validateObject(broken)).toEqual([expect.stringMatching(/replicas must be integer/)])
  })

  it('secret-looking text, but not placeholders', () => {
    const leaked = [
      'KAFKA_SASL_PASSWORD=Tr0ub4dor3',
      'kubectl create secret generic vigil-alerter --from-literal=API_TOKEN=9f86d081884c7d659a2feaa0c55ad015',
      'SLACK_WEBHOOK_URL: https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX',
      '-----BEGIN RSA PRIVATE KEY-----',
      'PG_URL=postgres://vigil:pa55word@db:5432/vigil',
    ]
    expect(leaked.map((line) => findSecretValues(line).length)).toEqual([1, 1, 1, 1, 1])
    const placeholders = [
      "--from-literal=KAFKA_SASL_PASSWORD='<password>'",
      'API_TOKEN="$(openssl rand -hex 32)"',
      'PG_URL=postgres://vigil@postgres:5432/vigil',
      '- { parameter: password, name: vigil-kafka, key: KAFKA_SASL_PASSWORD }',
      'PG_PASSWORD=$PG_PASSWORD',
    ]
    expect(placeholders.flatMap(findSecretValues)).toEqual([])
  })

  it('a dashboard query on a metric nobody exports', () => {
    const dashboard = { panels: [{ title: 'lag', type: 'timeseries', targets: [{ expr: 'sum(app_consumer_lag{service=~"$service"})' }] }], templating: { list: [{ type: 'datasource' }] } }
    expect(dashboardProblems(dashboard, facts.metricNames, ['app_consumer_lag_messages'])).toEqual([
      expect.stringMatching(/app_consumer_lag is not a metric the services export/),
      'no panel shows app_consumer_lag_messages',
    ])
  })

  it('every check passes the good renders: the mutations above are what fails', () => {
    for (const overlay of OVERLAYS) expect(runChecks(render(overlay), facts)).toEqual([])
  })
})
