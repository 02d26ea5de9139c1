import type { Alert, DeadLetter, FeatureRecord, ModelControl, RawLog, Score, Verdict } from './generated.ts'

/** A service that produces or consumes topics; one name per service everywhere. */
export type ServiceName = 'ingestor' | 'featurizer' | 'scorer' | 'alerter' | 'trainer'

/**
 * A logical topic. The payload type `T` travels with it, so producers and consumers built from a
 * Topic are typed by its schema. The Kafka name is `name` behind an optional deployment prefix.
 */
export interface Topic<T = unknown> {
  readonly name: string
  /** file in schemas/avro without `.avsc`; the registry subject is `<kafka name>-value` */
  readonly schema: string
  /** what the message key is; partitions are keyed by entity so windows stay on one consumer */
  readonly key: string
  readonly kind: 'data' | 'control' | 'dead-letter'
  /** compacted topics keep the last record per key */
  readonly compacted: boolean
  readonly producers: readonly ServiceName[]
  readonly consumers: readonly ServiceName[]
  /** phantom: the payload type */
  readonly __payload?: T
}

function defineTopic<T>(spec: Omit<Topic<T>, 'compacted' | 'kind'> & Partial<Pick<Topic<T>, 'compacted' | 'kind'>>): Topic<T> {
  return { kind: 'data', compacted: false, ...spec }
}

/** The topic registry: every topic Vigil reads or writes, by logical name. */
export const topics = {
  rawLogs: defineTopic<RawLog>({ name: 'raw-logs', schema: 'raw-logs', key: 'sending host', producers: ['ingestor'], consumers: ['featurizer'] }),
  features: defineTopic<FeatureRecord>({ name: 'features', schema: 'features', key: 'entity id', producers: ['featurizer'], consumers: ['scorer', 'trainer', 'alerter'] }),
  scores: defineTopic<Score>({ name: 'scores', schema: 'scores', key: 'entity id', producers: ['scorer'], consumers: ['alerter', 'trainer'] }),
  /** scores of a candidate version running in shadow: compared with the live scores, never alerted on */
  scoresShadow: defineTopic<Score>({ name: 'scores-shadow', schema: 'scores', key: 'entity id', producers: ['scorer'], consumers: ['trainer'] }),
  alerts: defineTopic<Alert>({ name: 'alerts', schema: 'alerts', key: 'entity id', producers: ['alerter'], consumers: [] }),
  /** analysts' verdicts on alerts (the alerter's API), for the trainer and for anyone auditing them */
  feedback: defineTopic<Verdict>({ name: 'feedback', schema: 'feedback', key: 'alert id', producers: ['alerter'], consumers: ['trainer'] }),
  modelControl: defineTopic<ModelControl>({
    name: 'model-control', schema: 'model-control', key: 'model name, or <model>/shadow', kind: 'control', compacted: true,
    producers: ['trainer'], consumers: ['scorer'],
  }),
} as const

/** The dead-letter topic of `topic`: where messages from (or input bound for) it go when they cannot be processed. */
export function dlqOf(topic: Topic<unknown>): Topic<DeadLetter> {
  return {
    name: `${topic.name}.dlq`, schema: 'dead-letter', key: 'source key', kind: 'dead-letter', compacted: false,
    producers: [...topic.consumers, ...topic.producers], consumers: [],
  }
}

/** The topics that have a dead-letter topic: those someone consumes (and so may reject input from). */
export function topicsWithDeadLetters(): Topic<unknown>[] {
  return (Object.values(topics) as Topic<unknown>[]).filter((t) => t.consumers.length > 0)
}

/** Every topic to create: the registry plus the dead-letter topics. */
export function allTopics(): Topic<unknown>[] {
  return [...Object.values(topics), ...topicsWithDeadLetters().map(dlqOf)]
}
