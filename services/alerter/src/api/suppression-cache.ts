import type { Logger } from '@vigil/platform'
import { compileMatch, type AlertSubject } from './suppression-match.ts'
import type { Suppression, SuppressionStore } from './suppression-store.ts'

export interface SuppressionCache {
  /**
   * The active suppression that covers `alert`, if any. Synchronous: it reads the copy in memory.
   * Expiry is checked against `now`, so a suppression stops applying the moment it expires.
   */
  isSuppressed(alert: AlertSubject, now?: number): Suppression | undefined
  /** Reloads the active suppressions now (after this instance saved or revoked one). */
  refresh(): Promise<void>
  /** How many suppressions are held (active at the last refresh). */
  size(): number
  close(): Promise<void>
}

interface Compiled {
  suppression: Suppression
  expiresAt: number
  covers: (alert: AlertSubject) => boolean
}

/**
 * The active suppressions, held in memory for the alerting path and reloaded every `refreshMs`,
 * so one saved or revoked through another instance applies here within that time. The first load
 * happens before this resolves; a failed reload keeps the last copy (and logs once until one succeeds).
 */
export async function createSuppressionCache(
  store: Pick<SuppressionStore, 'active'>, options: { refreshMs: number; log: Logger },
): Promise<SuppressionCache> {
  let held: Compiled[] = []
  let failing = false
  let inFlight: Promise<void> | null = null
  let queued: Promise<void> | null = null

  const load = async () => {
    const active = await store.active()
    held = active.map((s) => ({ suppression: s, expiresAt: Date.parse(s.expiresAt), covers: compileMatch(s) }))
  }
  const refresh = (): Promise<void> => {
    if (!inFlight) {
      inFlight = load().finally(() => {
        inFlight = null
      })
      return inFlight
    }
    // The load under way may have read before what the caller just saved (a periodic reload when
    // the API saves a suppression): one more load follows it, shared by every caller meanwhile.
    queued ??= inFlight.catch(() => {}).then(() => {
      queued = null
      return refresh()
    })
    return queued
  }

  await refresh()
  const timer = setInterval(() => {
    refresh().then(() => {
      if (failing) options.log.info({ suppressions: held.length }, 'suppressions reloaded')
      failing = false
    }, (err: unknown) => {
      if (!failing) options.log.warn({ err }, 'could not reload suppressions: applying the last ones loaded')
      failing = true
    })
  }, options.refreshMs)
  timer.unref()

  return {
    isSuppressed(alert, now = Date.now()) {
      return held.find((c) => c.expiresAt > now && c.covers(alert))?.suppression
    },
    refresh,
    size: () => held.length,
    async close() {
      clearInterval(timer)
      await (queued ?? inFlight)?.catch(() => {})
    },
  }
}
