import { describe, expect, it } from 'vitest'
import { buildDeadLetter, DEAD_LETTER_MAX_VALUE_BYTES } from '../../src/index.ts'

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
