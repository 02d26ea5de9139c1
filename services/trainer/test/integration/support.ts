import { seededRandom } from '@vigil/models'
import { baseConfig, createKafkaRuntime, createLogger, createMetrics, parseConfig, type KafkaRuntime } from '@vigil/platform'
import { featureNames, type FeatureRecord, type Score } from '@vigil/schemas'
import { createTopicReader, freshTestDatabase, uniquePrefix, type TestDatabase, type TopicReader } from '@vigil/testkit'
import { migrateTrainerDatabase, TRAINER_MIGRATIONS } from '../../src/adapters/database.ts'
import { createFeatureHistory, type FeatureHistory } from '../../src/adapters/feature-history.ts'
import type { TrainDeps } from '../../src/training/train-and-publish.ts'

export { TRAINER_MIGRATIONS }
export const silentLog = createLogger('trainer', 'silent', 'test')

export type { TestDatabase }

/** A fresh database with the trainer's migrations applied (its own from `trainerMigrations` when given). */
export function freshDatabase(pgUrl: string, options: { migrate?: boolean; trainerMigrations?: string } = {}): Promise<TestDatabase> {
  return freshTestDatabase(pgUrl, 'trainer', async (pool) => {
    if (options.migrate === false) return
    await migrateTrainerDatabase(pool, silentLog, options.trainerMigrations)
  })
}

/** The same seed gives the same numbers (mulberry32, as the models use). */
export const seeded = seededRandom

export const DAY_MS = 86_400_000
export const HOUR = 3_600_000

/** A feature record of `entity` at `eventTime` with a seeded vector; `i` makes the event id. */
export function featureRecord(i: number, eventTime: number, entity = `10.0.${i % 7}.${i % 13}`, random = seeded(i)): FeatureRecord {
  return {
    eventId: `raw-logs/${i % 12}/${i}`, entity: { kind: 'source.ip', id: entity }, eventTime, receivedAt: eventTime + 5, family: 'sshd',
    event: {
      timestamp: eventTime, message: 'm',
      event: { kind: 'event', category: ['authentication'], type: ['info'], action: 'ssh_login_failed', outcome: 'failure', module: 'sshd', original: 'line' },
    },
    evidence: { topic: 'raw-logs', partition: i % 12, offset: String(i) },
    vector: Object.fromEntries(featureNames.map((n) => [n, Math.round(random() * 1e6) / 1e3])) as unknown as FeatureRecord['vector'],
  }
}

/** The score `modelVersion` gave event `i`. */
export function scoreRecord(i: number, eventTime: number, modelVersion: string, score: number): Score {
  return {
    eventId: `raw-logs/${i % 12}/${i}`, entity: { kind: 'source.ip', id: `10.0.0.${i % 5}` }, eventTime, receivedAt: eventTime + 5, scoredAt: eventTime + 50,
    family: 'sshd', action: 'ssh_login_failed', score, rawScore: score * 0.7, modelVersion, features: {},
    evidence: { topic: 'raw-logs', partition: i % 12, offset: String(i), line: 'line' },
  }
}

/** The trainer's Kafka layer against the stack's broker, with its topics created under `prefix`. */
export async function trainerKafka(stack: { KAFKA_BROKERS: string; SCHEMA_REGISTRY_URL?: string | undefined }, prefix: string): Promise<KafkaRuntime> {
  const config = parseConfig(baseConfig, { KAFKA_BROKERS: stack.KAFKA_BROKERS, SCHEMA_REGISTRY_URL: stack.SCHEMA_REGISTRY_URL, TOPIC_PREFIX: prefix })
  const kafka = await createKafkaRuntime('trainer', config, silentLog, createMetrics('trainer'), (err) => {
    throw err
  })
  await kafka.ensureTopics()
  return kafka
}

/** What a test of trainAndPublish runs against: a fresh database, the broker under its own prefix, a reader of its topics. */
export interface TrainingRig {
  db: TestDatabase
  kafka: KafkaRuntime
  reader: TopicReader
  history: FeatureHistory
  /** model 'm' trained on the last 48 hours less a holdout hour, candidates of 100 rows or more, published live */
  deps: TrainDeps
  close(): Promise<void>
}

export async function startTrainingRig(
  stack: { PG_URL: string; KAFKA_BROKERS: string; SCHEMA_REGISTRY_URL?: string | undefined }, label: string, settings: TrainDeps['candidate']['settings'],
): Promise<TrainingRig> {
  const prefix = uniquePrefix(label)
  const db = await freshDatabase(stack.PG_URL)
  const kafka = await trainerKafka(stack, prefix)
  const reader = await createTopicReader(stack.KAFKA_BROKERS, prefix, stack.SCHEMA_REGISTRY_URL)
  const history = createFeatureHistory(db.pool)
  const deps: TrainDeps = {
    pool: db.pool, history, producer: await kafka.producer(), log: silentLog, metrics: createMetrics('trainer'), publishAs: 'live',
    candidate: { modelName: 'm', actor: 'test', settings, minRows: 100, maxRows: 20_000, trainingMs: 48 * HOUR, holdoutMs: HOUR, excludeFlagged: true },
    gate: { modelName: 'm', actor: 'test', margin: 0.02, alertRateFactor: 2, alertRateFloor: 0.01, holdoutRows: 20_000 },
  }
  return {
    db, kafka, reader, history, deps,
    async close() {
      await reader.close()
      await kafka.closeProducer()
      await db.drop()
    },
  }
}

