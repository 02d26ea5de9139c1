import { BlockList } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cidrContains, formatIp, parseCidr, parseIp } from '../../src/api/cidr.ts'

const ip = (text: string) => {
  const bytes = parseIp(text)
  if (!bytes) throw new Error(`test address ${text} did not parse`)
  return bytes
}
const contains = (cidr: string, address: string) => cidrContains(parseCidr(cidr), ip(address))

/** IPv6 written out in full (eight groups, no ::), which every parser reads alike. */
const fullIpv6 = (b: Uint8Array) => Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16)).join(':')
const written = (b: Uint8Array) => (b.length === 4 ? b.join('.') : fullIpv6(b))

describe('parseIp', () => {
  it('reads IPv4 and the IPv6 spellings', () => {
    expect([...ip('192.168.0.1')]).toEqual([192, 168, 0, 1])
    expect([...ip('::1')]).toEqual([...new Array(15).fill(0), 1])
    expect([...ip('2001:db8::ff00:42:8329')]).toEqual([...ip('2001:0db8:0000:0000:0000:ff00:0042:8329')])
    expect([...ip('::')]).toEqual(new Array(16).fill(0))
    expect([...ip('64:ff9b::192.0.2.33')].slice(12)).toEqual([192, 0, 2, 33])
    expect([...ip('::ffff:10.1.2.3')]).toEqual([10, 1, 2, 3]) // IPv4-mapped is the IPv4 address
  })

  it('refuses what is not an address', () => {
    for (const bad of ['', 'host.example', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', '1:2:3:4:5:6:7:8:9', '1::2::3',
      '12345::', 'fe80::1%eth0', ':1:2', '1:2:3:4:5:6:7:8::', '::1.2.3', 'g::1', ' 1.2.3.4']) {
      expect(parseIp(bad), bad).toBeNull()
    }
  })
})

describe('parseCidr', () => {
  it('canonicalizes, and a bare address is one host', () => {
    expect(parseCidr('10.0.0.0/8').text).toBe('10.0.0.0/8')
    expect(parseCidr('192.0.2.7').text).toBe('192.0.2.7/32')
    expect(parseCidr('2001:DB8:0:0::/32').text).toBe('2001:db8::/32')
    expect(parseCidr('::1').text).toBe('::1/128')
    expect(parseCidr('0.0.0.0/0').text).toBe('0.0.0.0/0')
    expect(parseCidr('::ffff:10.0.0.0/104').text).toBe('10.0.0.0/8')
  })

  it('says what is wrong', () => {
    expect(() => parseCidr('10.0.0.1/8')).toThrow('10.0.0.1/8 has host bits set: did you mean 10.0.0.0/8?')
    expect(() => parseCidr('10.0.0.0/33')).toThrow('prefix length must be 0 to 32, got "33"')
    expect(() => parseCidr('2001:db8::/129')).toThrow('prefix length must be 0 to 128')
    expect(() => parseCidr('10.0.0.0/')).toThrow('prefix length')
    expect(() => parseCidr('10.0.0.0/+8')).toThrow('prefix length')
    expect(() => parseCidr('example.org/24')).toThrow('"example.org" is not an IPv4 or IPv6 address')
  })
})

describe('cidrContains', () => {
  it('matches by prefix, within one family', () => {
    expect(contains('10.0.0.0/8', '10.255.1.2')).toBe(true)
    expect(contains('10.0.0.0/8', '11.0.0.0')).toBe(false)
    expect(contains('192.168.1.0/25', '192.168.1.127')).toBe(true)
    expect(contains('192.168.1.0/25', '192.168.1.128')).toBe(false)
    expect(contains('0.0.0.0/0', '8.8.8.8')).toBe(true)
    expect(contains('0.0.0.0/0', '::1')).toBe(false)
    expect(contains('10.0.0.0/8', '::ffff:10.9.9.9')).toBe(true)
    expect(contains('2001:db8::/32', '2001:db8:ffff::1')).toBe(true)
    expect(contains('2001:db8::/33', '2001:db8:8000::1')).toBe(false)
  })

  it('agrees with node\'s BlockList on random networks and addresses (property test, seeded)', () => {
    const family = fc.constantFrom(4, 16)
    const sample = family.chain((n) => fc.record({
      network: fc.uint8Array({ minLength: n, maxLength: n }),
      address: fc.uint8Array({ minLength: n, maxLength: n }),
      prefix: fc.integer({ min: 0, max: n * 8 }),
      shared: fc.integer({ min: 0, max: n * 8 }), // leading bits the address copies from the network, so hits are common
    }))
    fc.assert(fc.property(sample, ({ network, address, prefix, shared }) => {
      const bits = (b: Uint8Array, i: number) => (b[i >> 3]! >> (7 - (i & 7))) & 1
      const net = network.map((_, byte) => network[byte]! & (0xff << (8 - Math.max(0, Math.min(8, prefix - 8 * byte)))))
      const addr = address.map((_, byte) => {
        let out = 0
        for (let k = 0; k < 8; k++) out = (out << 1) | (byte * 8 + k < shared ? bits(net, byte * 8 + k) : bits(address, byte * 8 + k))
        return out
      })
      const isMapped = (b: Uint8Array) => b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff
      fc.pre(!isMapped(net) && !isMapped(addr))
      const type = net.length === 4 ? 'ipv4' : 'ipv6'
      const oracle = new BlockList()
      oracle.addSubnet(written(net), prefix, type)
      expect(cidrContains(parseCidr(`${written(net)}/${prefix}`), ip(written(addr)))).toBe(oracle.check(written(addr), type))
    }), { seed: 20260601, numRuns: 2000 })
  })

  it('formats IPv6 as RFC 5952 (as the WHATWG URL parser does)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 8 }), (bytes, start, zeros) => {
      const b = Uint8Array.from(bytes)
      b.fill(0, 2 * start, Math.min(16, 2 * (start + zeros))) // runs of zero groups, where :: goes
      const formatted = formatIp(b)
      expect(formatted).toBe(new URL(`http://[${fullIpv6(b)}]/`).hostname.slice(1, -1))
      expect([...parseIp(formatted)!]).toEqual(isMapped(b) ? [...b.slice(12)] : [...b])
    }), { seed: 7, numRuns: 1000 })
  })
})

function isMapped(b: Uint8Array) {
  return b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff
}
