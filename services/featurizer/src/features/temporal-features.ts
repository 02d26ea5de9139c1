/** Business hours as configured: [startHour, endHour) on the listed days (0 = Sunday). */
export interface BusinessHours {
  startHour: number
  endHour: number
  days: ReadonlySet<number>
}

export interface TemporalFeatures {
  hour_of_day: number
  day_of_week: number
  is_weekend: number
  is_business_hours: number
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 }
// Every zone's UTC offset is a multiple of 15 minutes, so hour and weekday are constant within a
// quarter hour: formatting once per quarter (Intl is the slowest step of the features otherwise).
const QUARTER_HOUR_MS = 15 * 60_000
const CACHED_QUARTERS = 4096

/** Hour, weekday and their flags of an event time, in a time zone (one formatter per zone, made once). */
export function createTemporalFeatures(timeZone: string, business: BusinessHours): (eventTime: number) => TemporalFeatures {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', hourCycle: 'h23', weekday: 'short' })
  const byQuarter = new Map<number, TemporalFeatures>()
  return (eventTime) => {
    const quarter = Math.floor(eventTime / QUARTER_HOUR_MS)
    let features = byQuarter.get(quarter)
    if (!features) {
      if (byQuarter.size >= CACHED_QUARTERS) byQuarter.clear()
      features = compute(quarter * QUARTER_HOUR_MS)
      byQuarter.set(quarter, features)
    }
    return features
  }

  function compute(eventTime: number): TemporalFeatures {
    let hour = 0
    let day = 0
    for (const part of format.formatToParts(eventTime)) {
      if (part.type === 'hour') hour = Number(part.value)
      else if (part.type === 'weekday') day = WEEKDAYS[part.value] ?? 0
    }
    return {
      hour_of_day: hour,
      day_of_week: day,
      is_weekend: day === 0 || day === 6 ? 1 : 0,
      is_business_hours: business.days.has(day) && hour >= business.startHour && hour < business.endHour ? 1 : 0,
    }
  }
}
