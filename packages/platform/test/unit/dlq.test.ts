import { describe, expect, it } from 'vitest'
import { allTopics, createCodec, dlqOf, topics } from '@vigil/schemas'
import { runDeadLettersCli } from '../../src/cli/dead-letters-cli.ts'
import { buildDeadLetter, DEAD_LETTER_MAX_KEY_BYTES, DEAD_LETTER_MAX_VALUE_BYTES, deadLetterRecordKey, originalHeadersOf, originalKeyOf } from '../../src/index.ts'

describe('dead-letter envelope', () => {
  it('keeps the original bytes exactly, with coordinates and reason', () => {
    const bytes = Buffer.from([0xc3, 0x28, 0x41])
    const dl = buildDeadLetter('featurizer', { sourceTopic: 'raw-logs', partition: 3, offset: '42', key: 'h' }, bytes, { code: 'X', message: 'why' }, 5)
    expect(Buffer.from(dl.valueBase64, 'base64')).toEqual(bytes)
    expect(dl).toMatchObject({ sourceTopic: 'raw-logs', partition: 3, offset: '42', key: 'h', errorCode: 'X', errorMessage: 'why', service: 'featurizer', failedAt: 5, valueLength: 3 })
  })

  it('keeps only the head of a huge input but records its full length', () => {
    const big = Buffer.alloc(1024 * 1024, 0x61)
    const dl = buildDeadLetter('ingestor', { sourceTopic: 'raw-logs', peer: '127.0.0.1:5', length: big.length }, big, { code: 'FRAME_TOO_LONG', message: 'long' })
    expect(Buffer.from(dl.valueBase64, 'base64').length).toBe(DEAD_LETTER_MAX_VALUE_BYTES)
    expect(dl.valueLength).toBe(1024 * 1024)
    expect(dl.valuePreview.length).toBeLessThanOrEqual(200)
  })
})

describe('dead-letter key and headers', () => {
  const error = { code: 'X', message: 'why' }

  it('keeps a binary key, binary headers and a repeated header as bytes, for a redrive to send back as they came', () => {
    const key = Buffer.from([0x01, 0xff, 0xfe, 0x41])
    const headers = { trace: Buffer.from([0x00, 0xc3, 0x28, 0x9f]), multi: [Buffer.from('a'), Buffer.from('b')], shipper: Buffer.from('rsyslog'), none: null }
    const dl = buildDeadLetter('scorer', { sourceTopic: 'scores', key, headers }, Buffer.from('v'), error)
    expect(originalKeyOf(dl)).toEqual({ key, whole: true })
    expect(originalHeadersOf(dl)).toEqual({
      headers: { trace: headers.trace, multi: [Buffer.from('a'), Buffer.from('b')], shipper: Buffer.from('rsyslog'), none: Buffer.alloc(0) }, whole: true,
    })
    // The text fields hold only what text can hold exactly: for people, and for readers older than the byte fields.
    expect(dl.key).toBeNull()
    expect(dl.headers).toEqual({ shipper: 'rsyslog' })
  })

  it('keeps a text key as text too', () => {
    const dl = buildDeadLetter('scorer', { sourceTopic: 'scores', key: 'web1', headers: { a: 'b' } }, Buffer.from('v'), error)
    expect(dl).toMatchObject({ key: 'web1', keyLength: 4, headers: { a: 'b' }, headerCount: 1 })
    expect(originalKeyOf(dl).key).toEqual(Buffer.from('web1'))
  })

  it('keeps a huge key and huge headers in part, says so, and keys the dead letter by a short hash', () => {
    const key = Buffer.alloc(500 * 1024, 0x6b)
    const headers = { first: Buffer.alloc(10 * 1024, 1), second: Buffer.alloc(10 * 1024, 2), third: Buffer.from('x') }
    const dl = buildDeadLetter('scorer', { sourceTopic: 'scores', key, headers }, Buffer.from('v'), error)
    expect(Buffer.from(dl.keyBase64!, 'base64')).toEqual(key.subarray(0, DEAD_LETTER_MAX_KEY_BYTES))
    expect(dl.keyLength).toBe(key.length)
    expect(originalKeyOf(dl).whole).toBe(false)
    // the first headers that fit, in order; once one is left out, the rest are too
    expect(dl.headerList!.map((h) => h.name)).toEqual(['first'])
    expect(dl.headerCount).toBe(3)
    expect(originalHeadersOf(dl).whole).toBe(false)
    expect(JSON.stringify(dl).length).toBeLessThan(DEAD_LETTER_MAX_VALUE_BYTES)
    const recordKey = deadLetterRecordKey(key)!
    expect(recordKey).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(deadLetterRecordKey(Buffer.alloc(500 * 1024, 0x6b))).toBe(recordKey) // same key, same partition
    expect(deadLetterRecordKey('web1')).toBe('web1')
    expect(deadLetterRecordKey(Buffer.from([0xff]))).toMatch(/^sha256:/)
    expect(deadLetterRecordKey(null)).toBeNull()
  })

  it('reads a dead letter written before the byte fields: its key and headers as the text they were', async () => {
    const codec = await createCodec({ kafkaName: (t) => t.name, topics: allTopics() })
    const old = {
      sourceTopic: 'raw-logs', partition: 1, offset: '5', key: 'LabSZ', headers: { shipper: 'test' }, valueBase64: 'eA==', valueLength: 1,
      valuePreview: 'x', errorCode: 'FRAME_TOO_LONG', errorMessage: 'long', service: 'ingestor', peer: null, failedAt: 5,
    }
    const letter = await codec.decode(dlqOf(topics.rawLogs), Buffer.from(JSON.stringify(old)))
    expect(originalKeyOf(letter)).toEqual({ key: Buffer.from('LabSZ'), whole: true })
    expect(originalHeadersOf(letter)).toEqual({ headers: { shipper: Buffer.from('test') }, whole: true })
    const keyless = await codec.decode(dlqOf(topics.rawLogs), Buffer.from(JSON.stringify({ ...old, key: null, headers: {} })))
    expect(originalKeyOf(keyless)).toEqual({ key: null, whole: true })
    expect(originalHeadersOf(keyless)).toEqual({ headers: {}, whole: true })
  })
})

describe('the dlq command\'s usage', () => {
  it('is printed without any connection setting, for --help and for no command', async () => {
    const printed: string[] = []
    expect(await runDeadLettersCli(['--help'], {}, (line) => printed.push(line))).toBe(0)
    expect(printed.join('\n')).toMatch(/^usage: npm run dlq/)
    expect(await runDeadLettersCli([], {}, () => {})).toBe(2)
  })
})
