/**
 * The time zones of senders whose timestamps carry none: RFC 3164 syslog (`Dec 10 06:55:46`) and
 * Apache and nginx error logs write the sender's local time. Parsers read such a time as if it were
 * UTC; `toUtc` moves it to the instant it names in the sender's zone. A host in New York logging
 * 04:06 in February meant 09:06 UTC, the time its own access log (which has an offset) gives.
 */
export interface SourceTimeZones {
  /** whether every sender is taken to log in UTC: nothing to convert */
  readonly allUtc: boolean
  /** a zone-less time (its wall clock read as UTC) from `host`, as the instant it names */
  toUtc(wallClockAsUtc: number, host: string | null): number
}

/** Zones from the featurizer's settings: one for every sender, and zones of named hosts over it. */
export function createSourceTimeZones(defaultZone: string, zonesByHost: Readonly<Record<string, string>>): SourceTimeZones {
  const offsets = new Map<string, (t: number) => number>()
  const offsetOf = (zone: string) => {
    let offset = offsets.get(zone)
    if (!offset) offsets.set(zone, (offset = zoneOffset(zone)))
    return offset
  }
  const zoneOf = (host: string | null) => (host !== null && Object.hasOwn(zonesByHost, host) ? zonesByHost[host]! : defaultZone)
  const allUtc = isUtc(defaultZone) && Object.values(zonesByHost).every(isUtc)
  return {
    allUtc,
    toUtc(wallClock, host) {
      const zone = zoneOf(host)
      if (isUtc(zone)) return wallClock
      const offset = offsetOf(zone)
      // The offset at the instant the wall clock names; twice, for a wall clock near a change of
      // offset. A time in the hour a spring change skips (no clock showed it) is read with the offset
      // after the change; one in the hour an autumn change repeats, as its first occurrence.
      const guess = wallClock - offset(wallClock)
      return wallClock - offset(guess)
    },
  }
}

function isUtc(zone: string): boolean {
  return zone === 'UTC' || zone === 'Etc/UTC' || zone === 'GMT' || zone === 'Etc/GMT'
}

// Offsets change on quarter hours at the finest, so one look per quarter hour is exact.
const QUARTER_HOUR_MS = 15 * 60_000
const CACHED_QUARTERS = 4096

/** The zone's offset from UTC at an instant, ms (east positive). */
function zoneOffset(zone: string): (t: number) => number {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  })
  const byQuarter = new Map<number, number>()
  return (t) => {
    const quarter = Math.floor(t / QUARTER_HOUR_MS)
    let offset = byQuarter.get(quarter)
    if (offset === undefined) {
      if (byQuarter.size >= CACHED_QUARTERS) byQuarter.clear()
      const at = quarter * QUARTER_HOUR_MS
      const part: Record<string, number> = {}
      for (const p of format.formatToParts(at)) if (p.type !== 'literal') part[p.type] = Number(p.value)
      const wall = new Date(0)
      wall.setUTCFullYear(part.year!, part.month! - 1, part.day!)
      wall.setUTCHours(part.hour!, part.minute!, part.second!, 0)
      offset = wall.getTime() - at
      byQuarter.set(quarter, offset)
    }
    return offset
  }
}
