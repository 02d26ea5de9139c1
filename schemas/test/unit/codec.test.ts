import { createServer, type AddressInfo, type Socket } from 'node:net'
import avro from 'avsc'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allTopics, avroSchemaText, avroTypeOf, CodecError, createCodec, RegistryUnavailableError, topics, type Codec, type RawLog, type Score } from '../../src/index.ts'
import { fakeSchemaRegistry, type FakeSchemaRegistry } from './fake-schema-registry.ts'

const longType = avro.Type.forSchema('long')
/** Avro binary by hand: a number is a zigzag varint (a count, a length, an index), a string its length and UTF-8. */
const avroBytes = (...parts: Array<number | string>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'number' ? longType.toBuffer(p) : Buffer.concat([longType.toBuffer(Buffer.byteLength(p)), Buffer.from(p)]))))
/** The Confluent wire format: magic byte 0, the schema id, the Avro body. */
const wire = (schemaId: number, body: Buffer): Buffer => {
  const header = Buffer.alloc(5)
  header.writeInt32BE(schemaId, 1)
  return Buffer.concat([header, body])
}

const rawLogs: RawLog[] = [
  { line: 'x', receivedAt: 1, transport: 'kafka', peer: null, syslog: null, zeek: { log: 'conn', fields: [], types: null } },
  {
    line: '<38>1 2024-01-01T00:00:00Z h sshd 42 ID47 [a@1 k="v" k2="w"][b@2] hi', receivedAt: 1_700_000_000_000, transport: 'syslog-tcp', peer: '127.0.0.1:9',
    syslog: { format: 'RFC5424', facility: 4, severity: 6, timestamp: '2024-01-01T00:00:00Z', hostname: 'h', appName: 'sshd', procId: '42', msgId: 'ID47', structuredData: [{ id: 'a@1', params: { k: 'v', k2: 'w' } }, { id: 'b@2', params: {} }], message: 'hi' },
    zeek: null,
  },
  { line: 'ts\tuid', receivedAt: 2, transport: 'zeek-tcp', peer: null, syslog: null, zeek: { log: 'conn', fields: ['ts', 'uid', 'id.orig_h'], types: ['time', 'string', 'addr'] } },
]

// The start of a raw-logs body up to `syslog`: line 'x', receivedAt 1, transport 'kafka', peer null.
const rawLogStart = ['x', 1, 'kafka', 0] as const
const HUGE = 10_000_000

describe('codec: Confluent Avro that claims more than it holds', () => {
  let registry: FakeSchemaRegistry
  let codec: Codec
  let ownId: number
  let newerWriter: { id: number; type: avro.Type }

  beforeAll(async () => {
    registry = await fakeSchemaRegistry()
    codec = await createCodec({ registryUrl: registry.url, kafkaName: (t) => t.name, topics: allTopics() })
    ownId = codec.encode(topics.rawLogs, rawLogs[0]!).readInt32BE(1)
    // A newer producer's schema (one more field): its messages are read with the writer's type from the registry.
    const schema = JSON.parse(avroSchemaText(topics.rawLogs)) as { fields: unknown[] }
    schema.fields.push({ name: 'tenant', type: 'string', default: 'default' })
    newerWriter = { id: registry.register('raw-logs-value', JSON.stringify(schema)), type: avro.Type.forSchema(schema as avro.Schema) }
  })
  afterAll(() => registry.close())

  const crafted: Array<[string, Buffer, RegExp]> = [
    ['the 27-byte message of the review (zeek.fields claims the items)', avroBytes(...rawLogStart, 0, 1, 'conn', 1, HUGE), /array block at byte \d+ claims 10000000 items/],
    ['a map count (structuredData params)', avroBytes(...rawLogStart, 1, 'RFC5424', 4, 6, 0, 0, 0, 0, 0, 1, 'a@1', HUGE), /map block at byte \d+ claims 10000000 items/],
    ['a string length (line)', avroBytes(HUGE, 'x'), /string at byte 0 claims 10000000 bytes/],
    ['a count nested in the second of two array items', avroBytes(...rawLogStart, 1, 'RFC5424', 4, 6, 0, 0, 0, 0, 0, 2, 'a@1', 1, 'k', 'v', 0, 'b@2', HUGE), /map block at byte \d+ claims 10000000 items/],
  ]

  it.each(crafted)('refuses %s at once, written with the topic\'s own schema', async (_label, body, reason) => {
    const err = await codec.decode(topics.rawLogs, wire(ownId, body)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CodecError)
    expect(err).toMatchObject({ code: 'SCHEMA_MISMATCH', message: expect.stringMatching(reason) })
  })

  it.each(crafted)('refuses %s at once, written with another writer\'s schema', async (_label, body, reason) => {
    const err = await codec.decode(topics.rawLogs, wire(newerWriter.id, body)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CodecError)
    expect(err).toMatchObject({ code: 'REGISTRY_DECODE_FAILED', message: expect.stringMatching(reason) })
  })

  it('still reads what was written, with either schema', async () => {
    for (const record of rawLogs) {
      expect(await codec.decode(topics.rawLogs, codec.encode(topics.rawLogs, record))).toEqual(record)
      expect(await codec.decode(topics.rawLogs, wire(newerWriter.id, newerWriter.type.toBuffer({ ...record, tenant: 'blue' })))).toEqual(record)
    }
  })

  it('meets any damage to a valid message with a CodecError, and nothing else', async () => {
    const zigzag = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(HUGE, 2 ** 31 - 1, 2 ** 40, -(2 ** 40), 2 ** 52))
    const damage = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('varint' as const), at: fc.nat(), value: zigzag }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
    )
    const writers = [
      { id: () => ownId, encode: (r: RawLog) => avroTypeOf(topics.rawLogs).toBuffer(r) },
      { id: () => newerWriter.id, encode: (r: RawLog) => newerWriter.type.toBuffer({ ...r, tenant: 'blue' }) },
    ]
    await fc.assert(fc.asyncProperty(fc.constantFrom(...rawLogs), fc.constantFrom(...writers), fc.array(damage, { minLength: 1, maxLength: 4 }), async (record, writer, damages) => {
      let body = writer.encode(record)
      for (const d of damages) {
        const at = d.at % (body.length + 1)
        if (d.kind === 'set') body = Buffer.concat([body.subarray(0, at), Buffer.from([d.byte]), body.subarray(at + 1)])
        else if (d.kind === 'varint') body = Buffer.concat([body.subarray(0, at), longType.toBuffer(d.value), body.subarray(at + 1)])
        else if (d.kind === 'insert') body = Buffer.concat([body.subarray(0, at), d.bytes, body.subarray(at)])
        else body = Buffer.concat([body.subarray(0, at), body.subarray(at + d.length)])
      }
      const outcome = await codec.decode(topics.rawLogs, wire(writer.id(), body)).then(() => null, (e: unknown) => e)
      if (outcome !== null) expect(outcome).toBeInstanceOf(CodecError)
    }), { numRuns: 2000 })
  })
})

describe('codec: a registry that takes the connection and never answers', () => {
  const sockets = new Set<Socket>()
  const silent = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  let url: string
  beforeAll(async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()))
    url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => silent.close(() => resolve()))
  })

  it('fails the start as unavailable, which a service waits on and says so', async () => {
    const err = await createCodec({ registryUrl: url, registryTimeoutMs: 200, kafkaName: (t) => t.name, topics: allTopics() }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryUnavailableError)
    expect(err).toMatchObject({ code: 'SCHEMA_REGISTRY_UNAVAILABLE', message: expect.stringContaining('Timeout (200ms)') })
  }, 10_000)

  it('holds a message whose writer schema it cannot fetch, as unavailable', async () => {
    // No topics to register, so the codec starts without asking the registry anything.
    const codec = await createCodec({ registryUrl: url, registryTimeoutMs: 200, kafkaName: (t) => t.name, topics: [] })
    const err = await codec.decode(topics.rawLogs, wire(42, avroBytes(...rawLogStart, 0, 0))).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryUnavailableError)
    expect(err).toMatchObject({ message: expect.stringContaining('(id 42)') })
  }, 10_000)
})

describe('codec: NaN and Infinity in float and double fields', () => {
  const score: Score = {
    eventId: 'NaN', entity: { kind: 'host', id: 'Infinity' }, eventTime: 1, receivedAt: 2, scoredAt: 3, family: 'sshd', action: 'a',
    score: 0.5, rawScore: Number.NaN, modelVersion: 'v', model: 'default', threshold: Number.POSITIVE_INFINITY,
    members: { iforest: Number.NEGATIVE_INFINITY, hbos: 0.25 },
    explanations: [{ feature: 'bytes', value: Number.POSITIVE_INFINITY, baselineP50: Number.NaN, baselineP99: 1, contribution: 1, nearestLow: Number.NEGATIVE_INFINITY, nearestHigh: Number.NaN, outerTenth: Number.POSITIVE_INFINITY, text: '-Infinity' }],
    features: { bytes: Number.POSITIVE_INFINITY, duration_seconds: Number.NaN, url_entropy: -0.5 },
    evidence: { topic: 'raw-logs', partition: 0, offset: '1', line: 'l', users: ['NaN'] },
  }
  let registry: FakeSchemaRegistry
  beforeAll(async () => {
    registry = await fakeSchemaRegistry()
  })
  afterAll(() => registry.close())

  it('round-trips them in JSON as the strings "NaN", "Infinity" and "-Infinity", as Avro\'s Java JSON encoding writes them', async () => {
    const json = await createCodec({ kafkaName: (t) => t.name, topics: allTopics() })
    const bytes = json.encode(topics.scores, score)
    expect(JSON.parse(bytes.toString('utf8'))).toMatchObject({ rawScore: 'NaN', threshold: 'Infinity', members: { iforest: '-Infinity' }, features: { bytes: 'Infinity' } })
    expect(await json.decode(topics.scores, bytes)).toEqual(score)
    // Strings in string fields stay strings, whatever they spell.
    expect(await json.decode(topics.scores, bytes)).toMatchObject({ eventId: 'NaN', entity: { id: 'Infinity' }, explanations: [{ text: '-Infinity' }] })
    expect(json.fromJson(topics.scores, JSON.parse(bytes.toString('utf8')))).toEqual(score)
  })

  it('decodes them the same in both formats', async () => {
    const json = await createCodec({ kafkaName: (t) => t.name, topics: allTopics() })
    const withRegistry = await createCodec({ registryUrl: registry.url, kafkaName: (t) => t.name, topics: allTopics() })
    const fromAvro = await withRegistry.decode(topics.scores, withRegistry.encode(topics.scores, score))
    const fromJson = await json.decode(topics.scores, json.encode(topics.scores, score))
    expect(fromJson).toEqual(fromAvro)
    expect(fromAvro).toEqual(score)
    // A consumer with a registry reads the JSON a producer without one wrote (a topic moving to a registry).
    expect(await withRegistry.decode(topics.scores, json.encode(topics.scores, score))).toEqual(score)
  })
})
