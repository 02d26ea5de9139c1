import { beforeAll, describe, expect, it } from 'vitest'
import { createGeoLookup, ipv6Value, type GeoLookup } from '../../../src/adapters/geo.ts'

describe('ipv6Value', () => {
  it('reads every way of writing an IPv6 address, and nothing else', () => {
    expect(ipv6Value('::')).toBe(0n)
    expect(ipv6Value('::1')).toBe(1n)
    expect(ipv6Value('2001:db8::1')).toBe((0x20010db8n << 96n) | 1n)
    expect(ipv6Value('2001:0db8:0000:0000:0000:0000:0000:0001')).toBe(ipv6Value('2001:db8::1'))
    expect(ipv6Value('fe80::1%eth0')).toBe((0xfe80n << 112n) | 1n)
    expect(ipv6Value('::ffff:192.0.2.1')).toBe((0xffffn << 32n) | 0xc0000201n)
    expect(ipv6Value('2001:db8::')).toBe(0x20010db8n << 96n)
    expect(ipv6Value('192.0.2.1')).toBeNull()
    expect(ipv6Value('not:an:address')).toBeNull()
  })
})

// The databases shipped in the npm packages; addresses whose owners do not change.
describe('createGeoLookup', () => {
  let geo: GeoLookup
  beforeAll(async () => {
    geo = await createGeoLookup()
  }, 60_000)

  it('gives country and autonomous system of IPv4 and IPv6 addresses, and nothing for private ones', () => {
    expect(geo.lookup('8.8.8.8')).toMatchObject({ countryIsoCode: 'US', asNumber: 15169 })
    expect(geo.lookup('2001:4860:4860::8888')).toMatchObject({ asNumber: 15169 })
    expect(geo.lookup('2a00:1450:4001:80b::200e')).toMatchObject({ asNumber: 15169 })
    expect(geo.lookup('10.1.2.3')).toBeNull()
    expect(geo.lookup('fd00::1')).toBeNull()
    expect(geo.lookup('not an address')).toBeNull()
  })
})
