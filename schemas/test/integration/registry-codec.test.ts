import { SchemaRegistry } from '@kafkajs/confluent-schema-registry'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { endpointOf, freePort, newerRawLogWriter, tcpProxy, throughProxy, type TcpProxy } from '@vigil/testkit'
import { allTopics, createCodec, RegistryUnavailableError, topics, uniqueTestPrefix, type RawLog, type Score } from './support.ts'

// Runs whenever the stack has a schema registry (the native stack's Apicurio, or SCHEMA_REGISTRY_URL).
const registryUrl = inject('stack').SCHEMA_REGISTRY_URL

describe.skipIf(!registryUrl)('codec through a Confluent-compatible schema registry', () => {
  const record: RawLog = {
    line: '<38>Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186', receivedAt: 1, transport: 'syslog-tcp', peer: '127.0.0.1:9',
    syslog: { format: 'RFC3164', facility: 4, severity: 6, timestamp: 'Dec 10 06:55:46', hostname: 'LabSZ', appName: 'sshd', procId: '24200', msgId: null, structuredData: [], message: 'Invalid user webmaster from 173.234.31.186' },
    zeek: null,
  }

  it('registers every topic schema under <topic>-value and writes the Confluent wire format', async () => {
    const prefix = uniqueTestPrefix()
    const codec = await createCodec({ registryUrl, kafkaName: (t) => `${prefix}${t.name}`, topics: allTopics() })
    expect(codec.usesRegistry).toBe(true)
    const bytes = await codec.encode(topics.rawLogs, record)
    expect(bytes[0]).toBe(0) // magic byte, then a 4-byte schema id
    // Each subject looked up by name: a registry lists only its first subjects (Apicurio: 1000).
    for (const t of allTopics()) expect((await fetch(`${registryUrl}/subjects/${prefix}${t.name}-value/versions/latest`)).status, t.name).toBe(200)
    expect(await codec.decode(topics.rawLogs, bytes)).toEqual(record)
    // The id in the header is the one the registry gave the subject, and the registry's own client reads the message.
    const { id } = (await (await fetch(`${registryUrl}/subjects/${prefix}${topics.rawLogs.name}-value/versions/latest`)).json()) as { id: number }
    expect(bytes.readInt32BE(1)).toBe(id)
    expect(await new SchemaRegistry({ host: registryUrl! }).decode(bytes)).toEqual(record)
    // A message that does not fit is refused before it is written, naming the field.
    expect(() => codec.encode(topics.rawLogs, { ...record, receivedAt: 'now' } as never)).toThrow(expect.objectContaining({ code: 'SCHEMA_MISMATCH', message: expect.stringContaining('receivedAt') }))
  })

  it('lets the instances of a new deployment register its subjects at the same moment', async () => {
    const prefix = uniqueTestPrefix()
    const started = await Promise.allSettled(Array.from({ length: 6 }, () => createCodec({ registryUrl, kafkaName: (t) => `${prefix}${t.name}`, topics: allTopics() })))
    expect(started.map((s) => (s.status === 'rejected' ? String(s.reason) : 'started'))).toEqual(Array(6).fill('started'))
  })

  it('still reads schema-validated JSON on the same topic, and says why other bytes fail', async () => {
    const prefix = uniqueTestPrefix()
    const codec = await createCodec({ registryUrl, kafkaName: (t) => `${prefix}${t.name}`, topics: allTopics() })
    expect(await codec.decode(topics.rawLogs, Buffer.from(JSON.stringify(record)))).toEqual(record)
    await expect(codec.decode(topics.rawLogs, Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 1]))).rejects.toMatchObject({ code: 'REGISTRY_DECODE_FAILED' })
    // With the topic's own schema id, read without the registry: a truncated body is still refused with its reason.
    const own = codec.encode(topics.rawLogs, record)
    await expect(codec.decode(topics.rawLogs, own.subarray(0, own.length - 10))).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH', message: expect.stringContaining('raw-logs') })
  })

  it('refuses, at once, a message that claims more items than it holds, whoever its writer', async () => {
    const prefix = uniqueTestPrefix()
    const codec = await createCodec({ registryUrl, kafkaName: (t) => `${prefix}${t.name}`, topics: allTopics() })
    const newerWriter = await newerRawLogWriter(registryUrl!, `${prefix}raw-logs-value`)
    // Both writers end zeek with fields (an empty array: count 0) and types (null: branch 0), the newer
    // one then its tenant ('blue': 5 bytes). The count becomes 2^31 - 1 with nothing after it, as in
    // the review's 27-byte message.
    const claimingItems = (bytes: Buffer, trailing: number) => Buffer.concat([bytes.subarray(0, bytes.length - 2 - trailing), Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f])])
    const withZeek: RawLog = { ...record, syslog: null, zeek: { log: 'conn', fields: [], types: null } }
    await expect(codec.decode(topics.rawLogs, claimingItems(codec.encode(topics.rawLogs, withZeek), 0)))
      .rejects.toMatchObject({ code: 'SCHEMA_MISMATCH', message: expect.stringContaining('claims 2147483647 items') })
    await expect(codec.decode(topics.rawLogs, claimingItems(newerWriter.encode(withZeek), 5)))
      .rejects.toMatchObject({ code: 'REGISTRY_DECODE_FAILED', message: expect.stringContaining('claims 2147483647 items') })
  })

  it('gives back NaN and Infinity as the JSON codec does', async () => {
    const prefix = uniqueTestPrefix()
    const codec = await createCodec({ registryUrl, kafkaName: (t) => `${prefix}${t.name}`, topics: allTopics() })
    const json = await createCodec({ kafkaName: (t) => `${prefix}${t.name}`, topics: allTopics() })
    const score: Score = {
      eventId: 'e', entity: { kind: 'host', id: 'h' }, eventTime: 1, receivedAt: 2, scoredAt: 3, family: 'sshd', action: 'a', score: 0.5, rawScore: Number.NaN,
      modelVersion: 'v', features: { bytes: Number.POSITIVE_INFINITY, duration_seconds: Number.NEGATIVE_INFINITY }, evidence: { topic: 'raw-logs', partition: 0, offset: '1', line: 'l' },
    }
    const fromAvro = await codec.decode(topics.scores, codec.encode(topics.scores, score))
    expect(fromAvro).toMatchObject({ rawScore: Number.NaN, features: score.features })
    expect(await json.decode(topics.scores, json.encode(topics.scores, score))).toEqual(fromAvro)
  })

  describe('when the registry is away', () => {
    let proxy: TcpProxy | undefined
    afterEach(async () => proxy?.close())
    const proxied = async () => {
      proxy = tcpProxy(await freePort(), endpointOf(registryUrl!))
      return throughProxy(registryUrl!, proxy)
    }

    it('tells a registry that is not there, which is worth waiting for, from one that refuses', async () => {
      const url = await proxied()
      const prefix = uniqueTestPrefix()
      const kafkaName = (t: { name: string }) => `${prefix}${t.name}`
      // Nothing listens: RegistryUnavailableError, on which a service waits (platform's waitUntilReachable).
      await expect(createCodec({ registryUrl: url, kafkaName, topics: allTopics() })).rejects.toBeInstanceOf(RegistryUnavailableError)
      // A wrong path is an answer (404), not an absence: another error, on which a service fails at once.
      const refused = await createCodec({ registryUrl: `${registryUrl}/no-such-api`, kafkaName, topics: allTopics() }).catch((err: unknown) => err)
      expect(refused).toBeInstanceOf(Error)
      expect(refused).not.toBeInstanceOf(RegistryUnavailableError)
      // Once it listens, the same codec starts.
      await proxy!.open()
      expect((await createCodec({ registryUrl: url, kafkaName, topics: allTopics() })).usesRegistry).toBe(true)
    })

    it('holds, rather than rejects, a message whose writer schema it cannot fetch while the registry is down', async () => {
      const url = await proxied()
      await proxy!.open()
      const prefix = uniqueTestPrefix()
      const codec = await createCodec({ registryUrl: url, kafkaName: (t) => `${prefix}${t.name}`, topics: allTopics() })
      // A newer writer (a rolling upgrade) added a field: its schema has an id this codec has not seen.
      const newerWriter = await newerRawLogWriter(registryUrl!, `${prefix}raw-logs-value`)
      const bytes = newerWriter.encode(record)

      await proxy!.close()
      const held = await codec.decode(topics.rawLogs, bytes).catch((err: unknown) => err)
      expect(held).toBeInstanceOf(RegistryUnavailableError)
      expect(held).toMatchObject({ code: 'SCHEMA_REGISTRY_UNAVAILABLE', message: expect.stringContaining(`id ${newerWriter.schemaId}`) })

      await proxy!.open()
      expect(await codec.decode(topics.rawLogs, bytes)).toMatchObject(record)
    })
  })
})
