import type { Endpoint } from '@vigil/schemas'
import type { GeoLookup } from './adapters/geo.ts'
import { entityOf, type NormalizedEvent } from './normalize-event.ts'

/** Adds what the IP databases know of the source and destination addresses, and ECS `related`. */
export function enrichEvent(event: NormalizedEvent, geo: GeoLookup | null): NormalizedEvent {
  const ecs = event.ecs
  if (geo) {
    if (ecs.source?.ip) ecs.source = withGeo(ecs.source, geo)
    if (ecs.destination?.ip) ecs.destination = withGeo(ecs.destination, geo)
  }
  const ips = [ecs.source?.ip, ecs.destination?.ip].filter((x): x is string => !!x)
  const users = [ecs.user?.name, ecs.user?.target?.name].filter((x): x is string => !!x)
  ecs.related = { ip: [...new Set(ips)], user: [...new Set(users)] }
  return event
}

function withGeo(endpoint: Endpoint, geo: GeoLookup): Endpoint {
  const info = geo.lookup(endpoint.ip!)
  if (!info) return endpoint
  return {
    ...endpoint,
    geo: {
      country_iso_code: info.countryIsoCode,
      city_name: info.cityName,
      location: info.lat !== null && info.lon !== null ? { lat: info.lat, lon: info.lon } : null,
    },
    as: info.asNumber !== null ? { number: info.asNumber, organization_name: info.asOrganization } : null,
  }
}

/**
 * The event of a line that names no client address, placed at its connection's (FeatureStore.sshdSessions):
 * its source, its entity and what the IP databases know of it follow the address.
 */
export function atSessionAddress(event: NormalizedEvent, ip: string, geo: GeoLookup | null): NormalizedEvent {
  const ecs = { ...event.ecs, source: { ...event.ecs.source, ip } }
  return enrichEvent({ ...event, ecs, entity: entityOf(ecs) }, geo)
}
