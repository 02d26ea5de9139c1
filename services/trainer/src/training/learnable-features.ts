import { CLOCK_CYCLE_MS, featureDefinitions } from '@vigil/schemas'

const cycleMsOf = new Map<string, number>(featureDefinitions.flatMap((f) => ('cycle' in f ? [[f.name, CLOCK_CYCLE_MS[f.cycle]] as const] : [])))

/**
 * The features a model can learn from training rows that span `spanMs` of event time: all of them
 * but the clock's whose cycle the span does not cover. A first model trained on one morning's three
 * hours took every later hour for an anomaly: on the OpenSSH replay 45% of the next hour's ordinary
 * events scored over the threshold, with "hour_of_day 11, training p99 9" as their top reason. Once
 * the training rows span a day (the hour) or a week (the weekday, weekend and business hours), a
 * retrain takes them in. The rows are drawn from the whole training window (spreadRows),
 * so they span what the history spans, however busy the stream. Features in `kept` stay whatever the span (those a user's ONNX member
 * reads by name: it was built on them).
 */
export function learnableFeatures(names: readonly string[], spanMs: number, kept: ReadonlySet<string> = new Set()): string[] {
  return names.filter((name) => kept.has(name) || spanMs >= (cycleMsOf.get(name) ?? 0))
}

/** Rows whose columns are named `from`, cut down to the columns named `to`, in that order. */
export function selectColumns(rows: readonly number[][], from: readonly string[], to: readonly string[]): number[][] {
  const at = to.map((name) => {
    const i = from.indexOf(name)
    if (i < 0) throw new Error(`no column ${name} among ${from.join(', ')}`)
    return i
  })
  if (at.length === from.length && at.every((i, j) => i === j)) return rows as number[][]
  return rows.map((row) => at.map((i) => row[i]!))
}
