import { createRequire } from 'node:module'
import fc from 'fast-check'
import { Partitioners, type PartitionerArgs } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { keyCachingPartitioner, murmur2 } from '../../src/kafka.ts'

const metadata = (n: number) => Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }))
const args = (topic: string, partitions: number, key: string | null): PartitionerArgs =>
  ({ topic, partitionMetadata: metadata(partitions), message: { key, value: 'v' } })

describe('keyCachingPartitioner', () => {
  it('puts every key where kafkajs\'s default partitioner (the Java client\'s murmur2) puts it, asked once or again', () => {
    const cached = keyCachingPartitioner()
    const reference = Partitioners.DefaultPartitioner()
    fc.assert(fc.property(fc.string(), fc.constantFrom(1, 3, 12, 24), fc.constantFrom('features', 'scores'), (key, partitions, topic) => {
      const expected = reference(args(topic, partitions, key))
      expect(cached(args(topic, partitions, key))).toBe(expected)
      expect(cached(args(topic, partitions, key))).toBe(expected)
    }), { numRuns: 2000 })
  })

  it('maps a key anew when its topic has more partitions', () => {
    const cached = keyCachingPartitioner()
    const reference = Partitioners.DefaultPartitioner()
    const keys = Array.from({ length: 200 }, (_, i) => `host-${i}`)
    for (const key of keys) cached(args('features', 12, key))
    const moved = keys.filter((key) => reference(args('features', 12, key)) !== reference(args('features', 24, key)))
    expect(moved.length).toBeGreaterThan(0)
    for (const key of keys) expect(cached(args('features', 24, key))).toBe(reference(args('features', 24, key)))
  })

  it('leaves messages without a key, or with a partition, to the default', () => {
    const cached = keyCachingPartitioner()
    expect(cached({ ...args('features', 12, 'k'), message: { key: 'k', value: 'v', partition: 7 } })).toBe(7)
    const spread = new Set(Array.from({ length: 50 }, () => cached(args('features', 12, null))))
    expect(spread.size).toBeGreaterThan(1) // round robin, not one cached partition
  })
})

describe('murmur2', () => {
  // kafkajs's own, which its default partitioner uses
  const reference = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number

  it('hashes any bytes as kafkajs\'s (the Java client\'s) does', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const key = Buffer.from(bytes)
      expect(murmur2(key)).toBe(reference(key))
    }), { numRuns: 2000 })
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }), (key) => {
      expect(murmur2(key)).toBe(reference(key))
    }), { numRuns: 500 })
  })

  it('partitions a 500 KB key at once (kafkajs\'s hash blocked the event loop for minutes)', () => {
    const key = 'k'.repeat(500 * 1024)
    expect(keyCachingPartitioner()(args('features', 12, key))).toBe((murmur2(key) & 0x7fffffff) % 12)
    expect(keyCachingPartitioner()({ ...args('features', 12, null), message: { key: Buffer.from(key), value: 'v' } })).toBe((murmur2(key) & 0x7fffffff) % 12)
  })
})
