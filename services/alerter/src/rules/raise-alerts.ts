import type { TypedProducer } from '@vigil/platform'
import { topics, type Alert } from '@vigil/schemas'
import type { AlertStore } from '../adapters/alert-store.ts'
import type { Notifier } from '../sinks/create-sinks.ts'
import type { SuppressionCache } from '../api/suppression-cache.ts'
import type { AlertJoin, AlertMaybeWithUsers } from './alert-join.ts'
import type { RaisedAlert } from './sigma-alerts.ts'

export interface RaiseDeps {
  store: Pick<AlertStore, 'record' | 'publishOnce' | 'markSuppressed' | 'routeRises'>
  producer: Pick<TypedProducer, 'send'>
  sinks: Pick<Notifier, 'enqueue'>
  /** adds the alerts where rules and the model agree (alert-join.ts); left out, none are */
  join?: AlertJoin | null
  /** what analysts suppressed (api/suppression-cache.ts); left out, nothing is */
  suppressions?: Pick<SuppressionCache, 'isSuppressed'> | null
  /** app_alerts_suppressed_total{detector} */
  suppressed?: { inc(labels: { detector: string }): void } | null
  /** app_alerts_published_total{kind}: new alerts, and severity rises */
  published?: { inc(labels: { kind: 'new' | 'severity_rise' }, value: number): void } | null
}

/**
 * Raised alerts → stored, notified and published, the path handle-scores.ts takes: each is folded
 * into its alert in Postgres first (a redelivered event counts once); the alerts where a Sigma
 * rule and the model now agree are added and stored the same way, never on the strength of a
 * suppressed alert (alert-join.ts); new alerts (or ones stored but never published, after a crash)
 * are queued for the sinks, then written to `alerts` once, and marked published only after the
 * broker acknowledged them (once across instances: alert-store's publishOnce); those an analyst's
 * suppression covers are resolved instead. A published alert whose severity an event raised is
 * queued again, so the sinks whose minimum it now reaches get it (the outbox keeps one row per
 * alert and sink: none gets it twice), and written to `alerts` again with its new severity: a
 * subscriber keeps the latest of an alertId, and its severityId never falls. Returns the alerts
 * written to `alerts`.
 */
export async function raiseAlerts(raised: readonly RaisedAlert[], deps: RaiseDeps): Promise<Alert[]> {
  const toPublish = new Map<string, Alert>()
  const toRoute = new Map<string, Alert>()
  const counted = new Map<string, Alert>()
  // The event time of each alert's latest event recorded here: the join looks that far (alert-join.ts).
  const seenUntil = new Map<string, number>()
  // Every user each alert's events named, its evidence's and those beyond the evidence it cites.
  const usersOf = new Map<string, string[]>()
  const record = async ({ alert, eventId, eventTime, users }: RaisedAlert) => {
    const recorded = await deps.store.record(alert, eventId, eventTime, users)
    if (recorded === null) return
    counted.set(recorded.alert.alertId, recorded.alert)
    seenUntil.set(recorded.alert.alertId, Math.max(eventTime, seenUntil.get(recorded.alert.alertId) ?? eventTime))
    usersOf.set(recorded.alert.alertId, recorded.users)
    if (recorded.needsPublishing) toPublish.set(recorded.alert.alertId, recorded.alert)
    else if (recorded.needsRouting) toRoute.set(recorded.alert.alertId, recorded.alert)
  }
  // An alert of this batch is matched with the users recorded for it; one the join read, with its own.
  const suppressionOf = (alert: AlertMaybeWithUsers) => deps.suppressions?.isSuppressed({ ...alert, users: alert.users ?? usersOf.get(alert.alertId) })
  for (const r of raised) await record(r)
  // After the alerts above are committed: see alert-join.ts for why that order matters.
  if (deps.join && counted.size > 0) {
    const recorded = [...counted.values()].map((a) => ({ ...a, users: usersOf.get(a.alertId) ?? [], seenUntil: seenUntil.get(a.alertId) }))
    for (const r of await deps.join.correlatedWith(recorded, (a) => suppressionOf(a) !== undefined)) await record(r)
  }
  // A suppressed alert is stored and resolved, and counted, but goes to no sink and not to `alerts`.
  const suppressed: Array<{ alertId: string; suppressionId: number }> = []
  for (const alert of toPublish.values()) {
    const by = suppressionOf(alert)
    if (!by) continue
    suppressed.push({ alertId: alert.alertId, suppressionId: by.suppressionId })
    toPublish.delete(alert.alertId)
    deps.suppressed?.inc({ detector: alert.detector })
  }
  await deps.store.markSuppressed(suppressed)
  // Sinks first, then `alerts`, each alert as stored and under its row's lock (alert-store's
  // routeRises and publishOnce): a crash in between re-enqueues on redelivery, the outbox keeps one row
  // per alert and sink, and concurrent rises of one alert reach `alerts` in rising order.
  const send = async (alerts: Alert[]) => {
    await deps.sinks.enqueue(alerts)
    await deps.producer.send(topics.alerts, alerts.map((a) => ({ key: a.entity.id, value: a })))
  }
  // A suppression covering an alert that rose keeps its rise from the sinks and `alerts` too.
  const risen = await deps.store.routeRises([...toRoute.values()].filter((a) => suppressionOf(a) === undefined).map((a) => a.alertId), send)
  const published = await deps.store.publishOnce([...toPublish.keys()], send)
  if (risen.length > 0) deps.published?.inc({ kind: 'severity_rise' }, risen.length)
  if (published.length > 0) deps.published?.inc({ kind: 'new' }, published.length)
  return [...risen, ...published]
}
