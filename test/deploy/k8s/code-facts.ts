import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { z } from 'zod'
import { baseConfig, createMetrics, parseConfig } from '@vigil/platform'
import { topics, type ServiceName, type Topic } from '@vigil/schemas'
import { Config as alerterConfig } from '../../../services/alerter/src/config.ts'
import { Config as featurizerConfig } from '../../../services/featurizer/src/config.ts'
import { Config as ingestorConfig } from '../../../services/ingestor/src/config.ts'
import { Config as scorerConfig } from '../../../services/scorer/src/config.ts'
import { Config as trainerConfig } from '../../../services/trainer/src/config.ts'

// What the manifests must agree with, read from the code itself: each service's settings schema,
// the topics and consumer groups its main.ts consumes, the Dockerfile target that runs it, and the
// metric names platform registers.

/** A topic a service consumes with a fixed consumer group (groups with a per-instance part are left out). */
export interface Consumption {
  topic: Topic<unknown>
  /** the logical group id; Kafka's is TOPIC_PREFIX + this */
  groupId: string
}

export interface ServiceFacts {
  name: ServiceName
  /** services/<name>/src/config.ts's schema: what the service reads from its environment */
  settings: z.ZodObject
  consumes: Consumption[]
  /** the module the service starts from, relative to the repo root */
  main: string
  /** the CMD of the Dockerfile's target of the same name (what the container runs after the entrypoint) */
  imageCommand: string[] | null
}

export interface CodeFacts {
  services: Record<ServiceName, ServiceFacts>
  /** every metric name a service can export (histograms without their _bucket/_sum/_count) */
  metricNames: Set<string>
}

export const SERVICE_NAMES: readonly ServiceName[] = ['ingestor', 'featurizer', 'scorer', 'alerter', 'trainer']

const SETTINGS: Record<ServiceName, z.ZodObject> = {
  ingestor: ingestorConfig, featurizer: featurizerConfig, scorer: scorerConfig, alerter: alerterConfig, trainer: trainerConfig,
}

export function loadCodeFacts(repoRoot: string): CodeFacts {
  const commands = dockerfileCommands(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'))
  const services = Object.fromEntries(SERVICE_NAMES.map((name) => {
    const main = `services/${name}/src/main.ts`
    const facts: ServiceFacts = {
      name, settings: SETTINGS[name], main, imageCommand: commands.get(name) ?? null,
      consumes: consumedTopics(readFileSync(join(repoRoot, main), 'utf8'), main),
    }
    return [name, facts]
  })) as Record<ServiceName, ServiceFacts>
  const metricNames = new Set(createMetrics('manifest-test').registry.getMetricsAsArray().map((m) => m.name))
  return { services, metricNames }
}

/**
 * The `kafka.consume(topics.<key>, { groupId: '<id>', ... })` calls of a main.ts. A call whose
 * group id is not found is an error, so a reformatted main.ts cannot hide a consumer from the checks.
 */
export function consumedTopics(source: string, file: string): Consumption[] {
  const out: Consumption[] = []
  for (const call of source.matchAll(/kafka\.consume\(\s*topics\.(\w+)\s*,\s*\{/g)) {
    const topic = (topics as Record<string, Topic<unknown>>)[call[1]!]
    const line = source.slice(0, call.index).split('\n').length
    if (!topic) throw new Error(`${file}:${line}: topics.${call[1]} is not in the topic registry`)
    const group = /groupId:\s*(['"`])(.*?)\1/.exec(source.slice(call.index, call.index + 400))
    if (!group) throw new Error(`${file}:${line}: cannot find the groupId of this kafka.consume call`)
    if (group[2]!.includes('${')) continue // per instance (e.g. the scorer's model-control reader): never scaled on
    out.push({ topic, groupId: group[2]! })
  }
  return out
}

/** CMD of each build stage (`FROM … AS <name>`) of a Dockerfile, by stage name. */
export function dockerfileCommands(dockerfile: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  let stage: string | null = null
  for (const line of dockerfile.split('\n')) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line)
    if (from) stage = from[1] ?? null
    const cmd = /^CMD\s+(\[.*\])\s*$/i.exec(line)
    if (cmd && stage) out.set(stage, JSON.parse(cmd[1]!) as string[])
  }
  return out
}

/** The Kafka naming settings of an environment, parsed as the services parse them (defaults from platform's baseConfig). */
export function topicSettings(env: Record<string, string>): { prefix: string; partitions: number; brokers: string[]; shutdownMs: number } {
  const c = parseConfig(baseConfig.pick({ TOPIC_PREFIX: true, TOPIC_PARTITIONS: true, KAFKA_BROKERS: true, SHUTDOWN_TIMEOUT_MS: true }), env)
  return { prefix: c.TOPIC_PREFIX, partitions: c.TOPIC_PARTITIONS, brokers: c.KAFKA_BROKERS, shutdownMs: c.SHUTDOWN_TIMEOUT_MS }
}
