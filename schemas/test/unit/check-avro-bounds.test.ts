import avro from 'avsc'
import { describe, expect, it } from 'vitest'
import { checkAvroBounds, MAX_EMPTY_ITEMS } from '../../src/check-avro-bounds.ts'
import { allTopics, avroTypeOf } from '../../src/index.ts'

const longType = avro.Type.forSchema('long')
/** Avro binary by hand: a number is a zigzag varint (a count, a length, an index), a string its length and UTF-8. */
const avroBytes = (...parts: Array<number | string | Buffer>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'number' ? longType.toBuffer(p) : typeof p === 'string' ? Buffer.concat([longType.toBuffer(Buffer.byteLength(p)), Buffer.from(p)]) : p)))

const typeOf = (schema: unknown) => avro.Type.forSchema(schema as avro.Schema)
const HUGE = 2 ** 31 - 1

describe('checkAvroBounds', () => {
  it('passes every valid encoding of every topic schema and of the other kinds of type', () => {
    const others = [
      typeOf({ type: 'array', items: 'null' }),
      typeOf({ type: 'map', values: { type: 'fixed', name: 'F', size: 3 } }),
      typeOf({ type: 'record', name: 'Node', fields: [{ name: 'v', type: 'float' }, { name: 'next', type: ['null', 'Node'] }] }),
      typeOf({ type: 'record', name: 'R', fields: [{ name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } }, { name: 'b', type: 'bytes' }, { name: 'ok', type: 'boolean' }, { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } }] }),
      typeOf({ type: 'array', items: { type: 'record', name: 'Empty', fields: [] } }),
    ]
    for (const type of [...allTopics().map(avroTypeOf), ...others]) {
      for (let i = 0; i < 200; i++) {
        const bytes = type.toBuffer(type.random())
        expect(() => checkAvroBounds(type, bytes)).not.toThrow()
      }
    }
  })

  it('passes arrays and maps written in blocks with byte sizes (negative counts)', () => {
    const type = typeOf({ type: 'record', name: 'R', fields: [{ name: 'a', type: { type: 'array', items: 'string' } }, { name: 'm', type: { type: 'map', values: 'int' } }] })
    const bytes = avroBytes(-2, 4, 'ab', 'c', 1, 'd', 0, -1, 3, 'k', 7, 0)
    expect(type.fromBuffer(bytes)).toEqual({ a: ['ab', 'c', 'd'], m: { k: 7 } })
    expect(() => checkAvroBounds(type, bytes)).not.toThrow()
  })

  it.each([
    ['an array count', { type: 'array', items: 'string' }, avroBytes(HUGE, 'x'), /array block at byte 0 claims 2147483647 items \(at least 2147483647 bytes\), and 2 bytes follow/],
    ['an array count in a later block', { type: 'array', items: 'long' }, avroBytes(1, 5, HUGE, 1), /array block at byte 2 claims 2147483647 items/],
    ['an array count in a block with a byte size', { type: 'array', items: 'double' }, avroBytes(-HUGE, 8, 1), /array block at byte 0 claims 2147483647 items \(at least 17179869176 bytes\)/],
    ['items that are too large for what follows', { type: 'array', items: 'double' }, avroBytes(2, Buffer.alloc(15)), /claims 2 items \(at least 16 bytes\), and 15 bytes follow/],
    ['a map count', { type: 'map', values: 'string' }, avroBytes(HUGE), /map block at byte 0 claims 2147483647 items \(at least 4294967294 bytes\)/],
    ['a string length', 'string', avroBytes(HUGE), /string at byte 0 claims 2147483647 bytes, and 0 follow/],
    ['a bytes length', 'bytes', avroBytes(2 ** 40, 'abc'), /bytes at byte 0 claims 1099511627776 bytes/],
    ['a negative length', 'string', avroBytes(-1), /string at byte 0 claims -1 bytes/],
    ['a map key length', { type: 'map', values: 'null' }, avroBytes(1, HUGE), /map key at byte 1 claims 2147483647 bytes/],
    ['a count nested in arrays and maps', { type: 'array', items: { type: 'map', values: { type: 'array', items: 'int' } } }, avroBytes(1, 1, 'k', HUGE, 0, 0), /array block at byte 4 claims 2147483647 items/],
    ['a union branch', ['null', 'string'], avroBytes(2), /union at byte 0 names branch 2 of 2/],
    ['a varint of more than 10 bytes', 'long', Buffer.alloc(11, 0xff), /varint at byte 0 longer than 10 bytes/],
    ['items of zero bytes past the limit', { type: 'array', items: 'null' }, avroBytes(HUGE, 0), new RegExp(`claims 2147483647 items of zero bytes, past the ${MAX_EMPTY_ITEMS}`)],
    ['items of zero bytes past the limit over several arrays', { type: 'array', items: { type: 'array', items: { type: 'record', name: 'Empty', fields: [] } } }, avroBytes(2, MAX_EMPTY_ITEMS, 0, 1, 0, 0), /claims 1 items of zero bytes/],
  ])('refuses %s that the bytes cannot hold', (_label, schema, bytes, reason) => {
    expect(() => checkAvroBounds(typeOf(schema), bytes)).toThrow(reason)
  })

  it('lets zero-byte items up to the limit through, as avsc reads them', () => {
    const type = typeOf({ type: 'array', items: 'null' })
    const bytes = avroBytes(MAX_EMPTY_ITEMS, 0)
    expect(() => checkAvroBounds(type, bytes)).not.toThrow()
    expect((type.fromBuffer(bytes) as unknown[]).length).toBe(MAX_EMPTY_ITEMS)
  })
})
