import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { REPO_ROOT, type StackEnv } from './stack.ts'

/** Image tags come from docker-compose.yml, their one home. */
function composeImage(service: string): string {
  const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { image: string }> }
  const image = compose.services[service]?.image
  if (!image) throw new Error(`docker-compose.yml has no image for ${service}`)
  return image
}

/**
 * Starts Kafka (KRaft), Postgres and Redis with testcontainers. Only called when a Docker engine
 * answers; testcontainers is imported here and nowhere else, so machines without Docker never load it.
 */
export async function startContainerStack(): Promise<{ env: StackEnv; stop(): Promise<void> }> {
  const { GenericContainer, Wait } = await import('testcontainers')
  const kafka = await new GenericContainer(composeImage('kafka'))
    .withExposedPorts({ container: 19092, host: 19092 })
    .withEnvironment({
      KAFKA_NODE_ID: '1', KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:19092,CONTROLLER://:19093', KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://127.0.0.1:19092',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER', KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:19093',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1', KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1', KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0', KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .start()
  const postgres = await new GenericContainer(composeImage('postgres'))
    .withExposedPorts(5432)
    .withEnvironment({ POSTGRES_USER: 'vigil', POSTGRES_PASSWORD: 'vigil', POSTGRES_DB: 'vigil' })
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start()
  const redis = await new GenericContainer(composeImage('redis')).withExposedPorts(6379).start()
  return {
    env: {
      KAFKA_BROKERS: '127.0.0.1:19092',
      PG_URL: `postgres://vigil:vigil@${postgres.getHost()}:${postgres.getMappedPort(5432)}/vigil`,
      REDIS_URL: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
    },
    async stop() {
      await Promise.all([kafka.stop(), postgres.stop(), redis.stop()])
    },
  }
}
