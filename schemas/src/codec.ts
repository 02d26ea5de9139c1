import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import avro from 'avsc'
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry'
import { checkAvroBounds } from './check-avro-bounds.ts'
import { toJsonText, withNonFiniteNumbers } from './non-finite-json.ts'
import type { Topic } from './topics.ts'

const schemaDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'avro')

/** Why a message could not be encoded or decoded. Never retryable: the bytes will not change. */
export type CodecErrorCode = 'EMPTY_MESSAGE' | 'NOT_JSON' | 'SCHEMA_MISMATCH' | 'UNKNOWN_WIRE_FORMAT' | 'REGISTRY_DECODE_FAILED' | 'REGISTRY_NOT_CONFIGURED'

/** A message that does not fit its topic's schema. */
export class CodecError extends Error {
  override readonly name = 'CodecError'
  constructor(readonly code: CodecErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/**
 * The schema registry gave no answer (refused, reset, timed out) or could not answer now (5xx, 408,
 * 429). Not the message's fault: a consumer holds it and tries again, where a CodecError would
 * dead-letter a valid message only because the registry was down when it came.
 */
export class RegistryUnavailableError extends Error {
  override readonly name = 'RegistryUnavailableError'
  readonly code = 'SCHEMA_REGISTRY_UNAVAILABLE'
}

/**
 * Whether an error of the registry client means the registry was not there to answer, rather than
 * an answer (no such schema id, an incompatible schema, a refused login). The client (mappersmith)
 * reports a request that got no HTTP answer as status 400 with the socket's error as the whole
 * body, "Error, status 400: connect ECONNREFUSED …"; a registry's own 400 carries a JSON message.
 */
export function isRegistryUnavailable(err: unknown): boolean {
  const { status, message } = (err ?? {}) as { status?: unknown; message?: unknown }
  if (typeof status !== 'number') return false
  if (status >= 500 || status === 408 || status === 429) return true
  return status === 400 && typeof message === 'string' && message.includes('Error, status 400: ')
}

/** Encodes and decodes every topic's messages by the topic's Avro schema. */
export interface Codec {
  /** Whether messages go out in the Confluent wire format through a schema registry. */
  readonly usesRegistry: boolean
  /** Synchronous: the schemas were registered at start, and a producer encodes thousands per batch. */
  encode<T>(topic: Topic<T>, value: T): Buffer
  decode<T>(topic: Topic<T>, bytes: Buffer | null): Promise<T>
  /** A value already parsed from JSON elsewhere, checked and completed as `decode` does with the JSON it parses. */
  fromJson<T>(topic: Topic<T>, value: unknown): T
}

export interface CodecOptions {
  /** Confluent-compatible schema registry; without one, messages are schema-validated JSON. */
  registryUrl?: string | undefined
  /** Kafka name of a topic (the deployment may prefix names); subjects are `<kafka name>-value`. */
  kafkaName: (topic: Topic<unknown>) => string
  /** Topics whose schemas are registered at start, so a producer never races its first message. */
  topics: readonly Topic<unknown>[]
  /** How long one registry request may wait for its answer (ms, default 10 s) before the registry counts as unavailable. */
  registryTimeoutMs?: number
}

// Long enough for a registry under load (its answers take milliseconds), short enough that a
// service's start-up wait gets failed tries to log and count, not one request that never ends.
export const REGISTRY_TIMEOUT_MS = 10_000

const CONFLUENT_MAGIC_BYTE = 0
const JSON_OPEN_BRACE = 0x7b

/** Loads (once) the Avro type of a topic from schemas/avro. */
export function avroTypeOf(topic: Topic<unknown>): avro.Type {
  let type = avroTypes.get(topic.schema)
  if (!type) {
    type = avro.Type.forSchema(JSON.parse(avroSchemaText(topic)))
    avroTypes.set(topic.schema, type)
  }
  return type
}
const avroTypes = new Map<string, avro.Type>()

/** The schema file's text, as registered. */
export function avroSchemaText(topic: Topic<unknown>): string {
  return readFileSync(join(schemaDir, `${topic.schema}.avsc`), 'utf8')
}

/**
 * Creates the codec. With a registry URL every topic's schema is registered at once and messages
 * are written in the Confluent wire format; without one they are JSON, validated against the same
 * schema both ways. Decoding recognises either format by its first byte, so a topic can hold both
 * while a deployment moves to a registry.
 */
export async function createCodec(options: CodecOptions): Promise<Codec> {
  const registry = options.registryUrl
    ? new SchemaRegistry({ host: options.registryUrl, middlewares: [requestTimeout(options.registryTimeoutMs ?? REGISTRY_TIMEOUT_MS)] })
    : null
  const schemaIds = new Map<string, number>()
  if (registry) {
    for (const topic of options.topics) {
      const subject = `${options.kafkaName(topic)}-value`
      schemaIds.set(topic.name, await registerOnce(registry, subject, avroSchemaText(topic)))
    }
  }

  return {
    usesRegistry: registry !== null,

    encode<T>(topic: Topic<T>, value: T): Buffer {
      const type = avroTypeOf(topic)
      if (!registry) {
        assertValid(type, topic, value)
        return Buffer.from(toJsonText(value))
      }
      const id = schemaIds.get(topic.name)
      if (id === undefined) throw new Error(`topic ${topic.name} was not registered at start`)
      return confluentWireFormat(type, topic, id, value)
    },

    async decode<T>(topic: Topic<T>, bytes: Buffer | null): Promise<T> {
      if (!bytes || bytes.length === 0) throw new CodecError('EMPTY_MESSAGE', `empty message on ${topic.name}`)
      const type = avroTypeOf(topic)
      let value: unknown
      if (bytes[0] === JSON_OPEN_BRACE) {
        try {
          value = JSON.parse(bytes.toString('utf8'))
        } catch (cause) {
          throw new CodecError('NOT_JSON', `message on ${topic.name} starts like JSON but does not parse: ${(cause as Error).message}`, { cause })
        }
      } else if (bytes[0] === CONFLUENT_MAGIC_BYTE) {
        if (!registry) throw new CodecError('REGISTRY_NOT_CONFIGURED', `message on ${topic.name} is in the Confluent wire format but no SCHEMA_REGISTRY_URL is set`)
        // Written with this topic's own schema (as every Vigil service writes): read with avsc at
        // once, complete and valid by construction. Another writer's schema comes from the registry.
        if (bytes.length < WIRE_HEADER_BYTES) throw new CodecError('REGISTRY_DECODE_FAILED', `message on ${topic.name} is shorter than the Confluent wire format's header`)
        const schemaId = bytes.readInt32BE(1)
        const body = bytes.subarray(WIRE_HEADER_BYTES)
        if (schemaId === schemaIds.get(topic.name)) {
          try {
            return fromAvroBinary(type, body) as T
          } catch (cause) {
            throw new CodecError('SCHEMA_MISMATCH', `message on ${topic.name} does not decode with schema ${topic.schema}: ${(cause as Error).message}`, { cause })
          }
        }
        const writerType = await writerTypeOf(registry, topic, schemaId)
        try {
          value = fromAvroBinary(writerType, body)
        } catch (cause) {
          throw new CodecError('REGISTRY_DECODE_FAILED', `message on ${topic.name} does not decode with its writer's schema (id ${schemaId}): ${(cause as Error).message}`, { cause })
        }
      } else {
        throw new CodecError('UNKNOWN_WIRE_FORMAT', `message on ${topic.name} is neither JSON nor Confluent Avro (first byte 0x${bytes[0]!.toString(16).padStart(2, '0')})`)
      }
      return checked(type, topic, value)
    },

    fromJson: (topic, value) => checked(avroTypeOf(topic), topic, value),
  }
}

/**
 * Avro binary from another process, decoded: its lengths are checked against its size first, since
 * avsc believes them (see checkAvroBounds). Throws whatever avsc or the check throws.
 */
function fromAvroBinary(type: avro.Type, body: Buffer): unknown {
  checkAvroBounds(type, body)
  return type.fromBuffer(body)
}

/** The type a schema id of the registry names (its client caches it), to read a message another writer wrote. */
async function writerTypeOf(registry: SchemaRegistry, topic: Topic<unknown>, schemaId: number): Promise<avro.Type> {
  let schema: unknown
  try {
    schema = await registry.getSchema(schemaId)
  } catch (cause) {
    if (isRegistryUnavailable(cause)) {
      throw new RegistryUnavailableError(`message on ${topic.name} needs its writer's schema (id ${schemaId}) from the registry, which did not answer: ${(cause as Error).message}`, { cause })
    }
    throw new CodecError('REGISTRY_DECODE_FAILED', `message on ${topic.name} did not decode through the registry: ${(cause as Error).message}`, { cause })
  }
  if (!avro.Type.isType(schema)) throw new CodecError('REGISTRY_DECODE_FAILED', `message on ${topic.name} names schema id ${schemaId}, which is not an Avro schema`)
  return schema as avro.Type
}

/**
 * The Confluent wire format (magic byte, schema id, Avro binary) written with the topic's own
 * type, the schema registered under that id. avsc checks every value as it writes it, so a valid
 * message is traversed once; only a failed one is traversed again, to say what is wrong.
 */
function confluentWireFormat(type: avro.Type, topic: Topic<unknown>, schemaId: number, value: unknown): Buffer {
  // Written into a scratch buffer after room for the header, then copied out once: one allocation
  // per message instead of three (body, header, concatenation), which showed in the featurizer's GC.
  let end: number
  try {
    end = type.encode(value, scratch, WIRE_HEADER_BYTES)
    if (end < 0) {
      scratch = Buffer.allocUnsafe(scratch.length * 2 - end) // end is minus the bytes missing
      end = type.encode(value, scratch, WIRE_HEADER_BYTES)
    }
  } catch (cause) {
    assertValid(type, topic, value)
    throw new CodecError('SCHEMA_MISMATCH', `message does not match schema ${topic.schema}: ${(cause as Error).message}`, { cause })
  }
  const message = Buffer.allocUnsafe(end)
  scratch.copy(message, WIRE_HEADER_BYTES, WIRE_HEADER_BYTES, end)
  message[0] = CONFLUENT_MAGIC_BYTE
  message.writeInt32BE(schemaId, 1)
  return message
}
/** magic byte and 4-byte schema id */
const WIRE_HEADER_BYTES = 5
let scratch = Buffer.allocUnsafe(64 * 1024)

type RegistryMiddleware = NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']>[number]

/**
 * Gives each registry request a time limit: the client has none, so a registry that takes the
 * connection and never answers would hold a service's start, or a partition's batch, for good and
 * without a word. mappersmith ends such a request as one that got no answer ("Error, status 400:
 * Timeout (… ms)"), which isRegistryUnavailable counts as the registry being away.
 */
function requestTimeout(ms: number): RegistryMiddleware {
  return () => ({
    prepareRequest: async (next) => (await next()).enhance({ timeout: ms }),
  })
}

/**
 * Registers a subject's schema. Instances of a new deployment starting together race to create the
 * subject (a compatibility rule "already exists", or a read of the default compatibility before it
 * is set): the loser tries again and finds the subject, with the same schema and id, in place.
 * A registry that is not there is a RegistryUnavailableError at once: the caller decides how long to wait.
 */
async function registerOnce(registry: SchemaRegistry, subject: string, schema: string): Promise<number> {
  const ATTEMPTS = 5
  for (let attempt = 1; ; attempt++) {
    try {
      return (await registry.register({ type: SchemaType.AVRO, schema }, { subject })).id
    } catch (err) {
      if (isRegistryUnavailable(err)) throw new RegistryUnavailableError(`the schema registry did not answer: ${(err as Error).message}`, { cause: err })
      if (attempt >= ATTEMPTS) throw err
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt + Math.random() * 100))
    }
  }
}

function checked<T>(type: avro.Type, topic: Topic<T>, value: unknown): T {
  if (!type.isValid(value)) {
    // JSON's spelling of NaN and Infinity (a string where a number belongs) is why a value that
    // does not fit may still be valid: looked for only then, so a valid value costs nothing more.
    value = withNonFiniteNumbers(type, value)
    assertValid(type, topic, value)
  }
  // clone fills fields the writer left out with their schema defaults.
  return type.clone(value) as T
}

function assertValid(type: avro.Type, topic: Topic<unknown>, value: unknown): void {
  const problems: string[] = []
  const valid = type.isValid(value, {
    errorHook: (path: string[], got: unknown) => {
      if (problems.length < 5) problems.push(`${path.join('.') || '(root)'}=${preview(got)}`)
    },
  })
  if (!valid) throw new CodecError('SCHEMA_MISMATCH', `message does not match schema ${topic.schema}: ${problems.join(', ')}`)
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 60)}…` : text
}
