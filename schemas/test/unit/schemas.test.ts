import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FEATURES_DOC, FEATURES_SCHEMA, renderFeatureDoc, renderFeatureSchema } from '../../scripts/generate-features.ts'
import { renderTypes } from '../../scripts/generate-types.ts'
import { allTopics, avroTypeOf, createCodec, CodecError, dlqOf, featureDefinitions, featureNames, topics, type FeatureRecord, type Topic } from '../../src/index.ts'

const root = join(import.meta.dirname, '..', '..')

describe('topic registry', () => {
  it('gives every topic a schema file that parses', () => {
    for (const topic of allTopics()) {
      expect(existsSync(join(root, 'avro', `${topic.schema}.avsc`)), topic.name).toBe(true)
      expect(() => avroTypeOf(topic)).not.toThrow()
    }
  })

  it('has a dead-letter topic for every consumed topic, and model-control compacted', () => {
    const names = allTopics().map((t) => t.name)
    for (const t of Object.values(topics) as Topic<unknown>[]) {
      if (t.consumers.length > 0) expect(names).toContain(`${t.name}.dlq`)
    }
    expect(topics.modelControl.compacted).toBe(true)
    expect(dlqOf(topics.rawLogs).name).toBe('raw-logs.dlq')
  })

  it('keeps src/generated.ts in step with the Avro schemas', () => {
    expect(readFileSync(join(root, 'src', 'generated.ts'), 'utf8')).toBe(renderTypes())
  })
})

describe('feature definitions', () => {
  it('generate the features schema and the feature docs, which are up to date', () => {
    expect(readFileSync(FEATURES_SCHEMA, 'utf8')).toBe(renderFeatureSchema())
    expect(readFileSync(FEATURES_DOC, 'utf8')).toBe(renderFeatureDoc())
    const schema = JSON.parse(readFileSync(FEATURES_SCHEMA, 'utf8'))
    const vector = schema.fields.find((f: { name: string }) => f.name === 'vector').type
    expect(vector.fields.map((f: { name: string }) => f.name)).toEqual(featureNames)
  })

  it('are at least 21, named once, each documented', () => {
    expect(featureNames.length).toBeGreaterThanOrEqual(21)
    expect(new Set(featureNames).size).toBe(featureNames.length)
    for (const f of featureDefinitions) expect(f.description.length).toBeGreaterThan(10)
    const groups = new Set(featureDefinitions.map((f) => f.group))
    expect([...groups].sort()).toEqual(['behaviour', 'context', 'frequency', 'geography', 'rate', 'temporal'])
  })
})

describe('JSON codec (no registry)', () => {
  const codecP = createCodec({ kafkaName: (t) => t.name, topics: allTopics() })
  const record: FeatureRecord = {
    eventId: 'raw-logs/0/1', entity: { kind: 'source.ip', id: '10.0.0.1' }, eventTime: 1, receivedAt: 2, family: 'sshd',
    event: {
      timestamp: 1, message: 'm',
      event: { kind: 'event', category: ['authentication'], type: ['info'], action: 'ssh_login_failed', outcome: 'failure', module: 'sshd', original: 'l' },
      source: { ip: '10.0.0.1', port: 22 }, user: { name: 'root' }, host: { name: 'h' }, process: { name: 'sshd', pid: 7 },
    },
    evidence: { topic: 'raw-logs', partition: 0, offset: '1' },
    vector: Object.fromEntries(featureNames.map((n) => [n, 1])) as unknown as FeatureRecord['vector'],
  }

  it('round-trips a valid record', async () => {
    const codec = await codecP
    const decoded = await codec.decode(topics.features, await codec.encode(topics.features, record))
    expect(decoded).toMatchObject(record)
    // Fields the writer left out come back as their schema defaults.
    expect(decoded.event.destination).toBeNull()
    expect(decoded.event.related).toEqual({ ip: [], user: [] })
  })

  it('fills defaults the writer left out', async () => {
    const codec = await codecP
    const raw = await codec.decode(topics.rawLogs, Buffer.from(JSON.stringify({ line: 'x', receivedAt: 1, transport: 'kafka' })))
    expect(raw).toEqual({ line: 'x', receivedAt: 1, transport: 'kafka', peer: null, syslog: null, zeek: null })
  })

  it('refuses to encode a record that does not fit its schema', async () => {
    const codec = await codecP
    expect(() => codec.encode(topics.features, { ...record, eventTime: 'yesterday' } as unknown as FeatureRecord)).toThrow(/eventTime/)
  })

  it.each([
    ['empty', Buffer.alloc(0), 'EMPTY_MESSAGE'],
    ['garbage', Buffer.from([0xff, 0xfe, 0x01]), 'UNKNOWN_WIRE_FORMAT'],
    ['broken JSON', Buffer.from('{"line": '), 'NOT_JSON'],
    ['wrong shape', Buffer.from('{"line": 5}'), 'SCHEMA_MISMATCH'],
    ['Confluent framing without a registry', Buffer.from([0, 0, 0, 0, 1, 2]), 'REGISTRY_NOT_CONFIGURED'],
  ])('names why %s does not decode', async (_label, bytes, code) => {
    const codec = await codecP
    const err = await codec.decode(topics.rawLogs, bytes).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CodecError)
    expect((err as CodecError).code).toBe(code)
  })
})
