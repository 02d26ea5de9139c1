import { startPeriodic, type Logger, type PeriodicJob } from '@vigil/platform'
import type { HistoryTable } from './history-table.ts'

export interface RetentionOptions {
  /** days of history kept behind the newest event (never later than now); 0 keeps everything */
  retentionDays: number
  /** how often to look, ms */
  intervalMs: number
}

const DAY_MS = 86_400_000

/** Drops the day partitions older than the retention of each table once; returns the partitions dropped. */
export async function applyRetention(tables: readonly Pick<HistoryTable, 'table' | 'newestEventTime' | 'dropDaysBefore'>[], retentionDays: number): Promise<string[]> {
  if (retentionDays <= 0) return []
  const dropped: string[] = []
  for (const t of tables) {
    const newest = await t.newestEventTime()
    if (newest) dropped.push(...await t.dropDaysBefore(new Date(newest.getTime() - retentionDays * DAY_MS)))
  }
  return dropped
}

/**
 * Applies retention at start and then every interval. The reference is the newest event stored
 * (capped at now), not the clock alone: a replay of old logs keeps its days.
 */
export function startHistoryRetention(tables: readonly HistoryTable[], options: RetentionOptions, log: Logger): PeriodicJob {
  return startPeriodic('history retention', options.intervalMs, async () => {
    const dropped = await applyRetention(tables, options.retentionDays)
    if (dropped.length > 0) log.info({ dropped, retentionDays: options.retentionDays }, 'dropped history partitions past retention')
  }, log)
}
