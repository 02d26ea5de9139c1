import { seededRandom } from '@vigil/models'
import { baseConfig, createKafkaRuntime, createLogger, createMetrics, parseConfig, type KafkaRuntime } from '@vigil/platform'
import { featureNames, type FeatureRecord, type Score } from '@vigil/schemas'
import { freshTestDatabase, type TestDatabase } from '@vigil/testkit'
import { migrateTrainerDatabase, TRAINER_MIGRATIONS } from '../../src/adapters/database.ts'

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
