import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { createLogger, createMetrics, type PgPool } from '@vigil/platform'
import type { Alert, Score } from '@vigil/schemas'
import { freshTestDatabase, waitFor, type TestDatabase } from '@vigil/testkit'
import { deleteExpiredAlerts, startAlertRetention, type AlertRetentionMetrics } from '../../src/adapters/alert-retention.ts'
import { createAlertStore } from '../../src/adapters/alert-store.ts'
import { migrateAlerterDatabase } from '../../src/adapters/database.ts'
import { newSuppressionBody } from '../../src/api/requests.ts'
import { createSuppressionStore } from '../../src/api/suppression-store.ts'
import { createVerdictStore } from '../../src/api/verdict-store.ts'
import { buildAlert } from '../../src/build-alert.ts'

// Alert retention against the real Postgres: which alerts go (with their events, outbox rows and
// verdicts), which stay however old, and the batches. Alerts are written with the times they would
// have after that many days, as a migrated database holds them.
const DAY_MS = 86_400_000
const RETENTION_DAYS = 90
const log = createLogger('test', 'silent', 'test')
let db: TestDatabase
let pool: PgPool

beforeAll(async () => {
  db = await freshTestDatabase(inject('stack').PG_URL, 'alertretention', (p) => migrateAlerterDatabase(p, log))
  pool = db.pool
})
afterAll(async () => db?.drop())
beforeEach(async () => {
  await pool.query('TRUNCATE alerts, alert_windows, alert_events, sink_outbox, alert_verdicts, suppressions')
})

const daysAgo = (days: number) => new Date(Date.now() - days * DAY_MS)

/** Records of `app_alerts_deleted_total` increments, one per batch that deleted any. */
function recordedMetrics() {
  const incs: Array<{ status: string; n: number }> = []
  const metrics: AlertRetentionMetrics = { alertsDeleted: { inc: (labels, n) => void incs.push({ status: labels.status, n }) } }
  return { metrics, incs }
}

interface Stored {
  /** days since its newest event (event time) */
  lastSeen: number
  /** days since the row was written (created_at); updated_at too, unless `updated` is given */
  written?: number
  /** days since the row last changed; null: a row from before migration 012 */
  updated?: number | null
  /** days since an analyst resolved it; left out, it is open */
  resolved?: number
  published?: boolean
  /** alert_events rows */
  events?: number
  /** sink_outbox rows: sink → status */
  outbox?: Record<string, 'pending' | 'delivered' | 'failed'>
  verdict?: { published: boolean }
}

let seq = 0
const scoreAt = (entityId: string, eventTime: number, n = 0) => ({
  entity: { kind: 'source.ip', id: entityId }, eventTime, score: 0.995, threshold: 0.99, eventId: `raw-logs/0/${entityId}-${n}`, family: 'sshd',
  modelVersion: 'v1', features: {}, evidence: { topic: 'raw-logs', partition: 0, offset: String(n), line: 'l' },
}) as unknown as Score

/** Stores an alert as it would be after the given days, with its dependent rows; returns it. */
async function store(s: Stored): Promise<Alert> {
  const entityId = `10.8.${Math.floor(++seq / 250)}.${seq % 250}`
  const eventTime = daysAgo(s.lastSeen).getTime()
  const alert = buildAlert(scoreAt(entityId, eventTime), { windowMs: 600_000 }, eventTime)
  const written = daysAgo(s.written ?? s.lastSeen)
  const updated = s.updated === null ? null : s.updated !== undefined ? daysAgo(s.updated) : s.resolved !== undefined ? daysAgo(s.resolved) : written
  const resolved = s.resolved !== undefined ? daysAgo(s.resolved) : null
  await pool.query(
    `INSERT INTO alerts (alert_id, detector, entity_kind, entity_id, title, severity, first_seen, last_seen, event_count, max_score, model_version, body,
       published, created_at, updated_at, status, resolved_at, resolution)
     VALUES ($1, $2, 'source.ip', $3, $4, $5, $6, $6, $7, 0.995, 'v1', $8, $9, $10, $11, $12, $13, $14)`,
    [alert.alertId, alert.detector, entityId, alert.title, alert.severity, new Date(eventTime), Math.max(1, s.events ?? 1), alert,
      s.published ?? true, written, updated, resolved ? 'resolved' : 'open', resolved, resolved ? 'false_positive' : null],
  )
  for (let n = 0; n < (s.events ?? 1); n++) await pool.query('INSERT INTO alert_events (alert_id, event_id) VALUES ($1, $2)', [alert.alertId, `raw-logs/0/${entityId}-${n}`])
  for (const [sink, status] of Object.entries(s.outbox ?? {})) {
    await pool.query('INSERT INTO sink_outbox (alert_id, sink, status, enqueued_at) VALUES ($1, $2, $3, $4)', [alert.alertId, sink, status, written])
  }
  if (s.verdict) {
    await pool.query(
      `INSERT INTO alert_verdicts (alert_id, verdict, detector, model_version, entity_kind, entity_id, first_seen, last_seen, decided_at, published)
       VALUES ($1, 'false_positive', $2, 'v1', 'source.ip', $3, $4, $4, $5, $6)`,
      [alert.alertId, alert.detector, entityId, new Date(eventTime), resolved ?? written, s.verdict.published],
    )
  }
  return alert
}

const ids = async (table: string) =>
  (await pool.query<{ alert_id: string }>(`SELECT DISTINCT alert_id FROM ${table} WHERE alert_id IS NOT NULL ORDER BY alert_id`)).rows.map((r) => r.alert_id)
const sorted = (alerts: Alert[]) => alerts.map((a) => a.alertId).sort()
const expire = (metrics: AlertRetentionMetrics, batchSize?: number) => deleteExpiredAlerts(pool, { retentionDays: RETENTION_DAYS, batchSize, metrics })

describe('alert retention', () => {
  it('deletes the alerts quiet for longer than the retention with their events, notifications and verdicts, and keeps the rest', async () => {
    const expired = [
      // resolved as a false positive 95 days ago, notified, and the reason for a suppression
      await store({ lastSeen: 100, resolved: 95, events: 3, outbox: { webhook: 'delivered', email: 'failed' }, verdict: { published: true } }),
      await store({ lastSeen: 120, events: 2, outbox: { webhook: 'delivered' } }), // open, and nothing has happened to it for 120 days
      await store({ lastSeen: 200, resolved: 150, updated: null }), // from before migration 012
    ]
    const kept = [
      await store({ lastSeen: 89 }),
      await store({ lastSeen: 10, resolved: 5, verdict: { published: true } }),
      await store({ lastSeen: 1, events: 4, outbox: { webhook: 'delivered' } }),
      await store({ lastSeen: 100, resolved: 2, verdict: { published: true } }), // an analyst closed it two days ago
      await store({ lastSeen: 100, written: 100, updated: 3 }), // written to three days ago (routing, a redelivery)
      await store({ lastSeen: 400, written: 3, updated: null }), // raised from a replay of old logs, before migration 012
    ]
    await pool.query("INSERT INTO suppressions (scope, value, reason, alert_id, expires_at) VALUES ('entity', $1, 'scanner', $2, now() + interval '30 days')",
      [expired[0]!.entity.id, expired[0]!.alertId])

    const { metrics, incs } = recordedMetrics()
    expect(await expire(metrics)).toEqual({ open: 1, resolved: 2 })
    expect(incs).toEqual([{ status: 'open', n: 1 }, { status: 'resolved', n: 2 }])

    expect(await ids('alerts')).toEqual(sorted(kept))
    expect(await ids('alert_events')).toEqual(sorted(kept))
    expect(await ids('sink_outbox')).toEqual(sorted([kept[2]!]))
    expect(await ids('alert_verdicts')).toEqual(sorted([kept[1]!, kept[3]!]))
    expect((await pool.query('SELECT count(*)::int AS n FROM alert_events')).rows[0].n).toBe(1 + 1 + 4 + 1 + 1 + 1)
    // The suppression stays: it outlives the alert that prompted it.
    expect((await pool.query('SELECT value, alert_id FROM suppressions')).rows).toEqual([{ value: expired[0]!.entity.id, alert_id: null }])

    expect(await expire(metrics)).toEqual({ open: 0, resolved: 0 }) // nothing left to do
    expect(incs).toHaveLength(2)
  })

  it('keeps an old alert that is still open and being updated: an event folded in today counts, whatever its event time', async () => {
    const alertStore = createAlertStore(pool, 10)
    const live = await store({ lastSeen: 100, events: 1 })
    const quiet = await store({ lastSeen: 100, events: 1 })
    // A late (or replayed) event of live's window: last_seen and created_at stay 100 days old.
    const late = scoreAt(live.entity.id, live.firstSeen, 1)
    expect(await alertStore.record(buildAlert(late, { windowMs: 600_000 }), late.eventId, late.eventTime)).toMatchObject({ needsPublishing: false })
    // An analyst changing an old verdict today is activity too (the verdict is published, so only the change keeps it).
    const reviewed = await store({ lastSeen: 100, resolved: 95, verdict: { published: true } })
    await createVerdictStore(pool).record(reviewed.alertId, { verdict: 'true_positive' })
    await pool.query('UPDATE alert_verdicts SET published = true')

    expect(await expire(recordedMetrics().metrics)).toEqual({ open: 1, resolved: 0 })
    expect(await ids('alerts')).toEqual(sorted([live, reviewed]))
    const { rows } = await pool.query('SELECT event_count, last_seen < now() - interval \'99 days\' AS event_time_old FROM alerts WHERE alert_id = $1', [live.alertId])
    expect(rows).toEqual([{ event_count: 2, event_time_old: true }])
    expect((await pool.query('SELECT count(*)::int AS n FROM alert_events WHERE alert_id = $1', [live.alertId])).rows[0].n).toBe(2)
    expect(await ids('alert_events')).not.toContain(quiet.alertId)
  })

  it('never deletes an alert whose notification is pending, whose verdict is unpublished, or that was never published', async () => {
    const pending = await store({ lastSeen: 200, resolved: 150, outbox: { webhook: 'pending', email: 'delivered' } })
    const claimed = await store({ lastSeen: 200, events: 2, outbox: { slack: 'pending' } })
    await pool.query("UPDATE sink_outbox SET attempts = 1, locked_until = now() + interval '1 minute' WHERE alert_id = $1", [claimed.alertId]) // a dispatcher delivers it now
    const unpublishedVerdict = await store({ lastSeen: 200, resolved: 150, verdict: { published: false } })
    const unpublished = await store({ lastSeen: 200, published: false })

    const { metrics } = recordedMetrics()
    expect(await expire(metrics)).toEqual({ open: 0, resolved: 0 })
    expect(await ids('alerts')).toEqual(sorted([pending, claimed, unpublishedVerdict, unpublished]))
    expect(await ids('sink_outbox')).toEqual(sorted([pending, claimed]))
    expect(await ids('alert_verdicts')).toEqual(sorted([unpublishedVerdict]))

    // Delivered, and acknowledged by the feedback topic: their alerts go at the next pass.
    await pool.query("UPDATE sink_outbox SET status = 'delivered', delivered_at = now(), locked_until = NULL")
    await pool.query('UPDATE alert_verdicts SET published = true')
    expect(await expire(metrics)).toEqual({ open: 1, resolved: 2 })
    expect(await ids('alerts')).toEqual([unpublished.alertId])
    expect(await ids('sink_outbox')).toEqual([])
    expect(await ids('alert_verdicts')).toEqual([])
  })

  it('deletes in batches until none is left when more alerts expired than one batch holds', async () => {
    const expired: Alert[] = []
    for (let i = 0; i < 25; i++) expired.push(await store({ lastSeen: 100 + i, resolved: 95, events: 2, outbox: { webhook: 'delivered' } }))
    const kept = [await store({ lastSeen: 5 }), await store({ lastSeen: 80, resolved: 70 })]

    const { metrics, incs } = recordedMetrics()
    expect(await expire(metrics, 10)).toEqual({ open: 0, resolved: 25 })
    expect(incs).toEqual([{ status: 'resolved', n: 10 }, { status: 'resolved', n: 10 }, { status: 'resolved', n: 5 }])
    expect(await ids('alerts')).toEqual(sorted(kept))
    expect(await ids('alert_events')).toEqual(sorted(kept))
    expect(await ids('sink_outbox')).toEqual([])
  })

  it('keeps every alert when the retention is 0', async () => {
    const old = [await store({ lastSeen: 3000, resolved: 2900 }), await store({ lastSeen: 1000 })]
    expect(await deleteExpiredAlerts(pool, { retentionDays: 0, metrics: recordedMetrics().metrics })).toEqual({ open: 0, resolved: 0 })
    expect(await ids('alerts')).toEqual(sorted(old))
  })

  it('runs on one instance at a time: while another holds the retention lock, a pass deletes nothing', async () => {
    const old = await store({ lastSeen: 100 })
    const other = db.newPool()
    const client = await other.connect()
    try {
      await client.query("SELECT pg_advisory_lock(hashtext('alerter:alert-retention'))")
      expect(await expire(recordedMetrics().metrics)).toBeNull()
      expect(await ids('alerts')).toEqual([old.alertId])
      await client.query("SELECT pg_advisory_unlock(hashtext('alerter:alert-retention'))")
    } finally {
      client.release()
    }
    expect(await expire(recordedMetrics().metrics)).toEqual({ open: 1, resolved: 0 })
  })

  it('deletes at start and every interval, counted in app_alerts_deleted_total, until closed', async () => {
    const metrics = createMetrics('alerter')
    await store({ lastSeen: 100, resolved: 95 })
    await store({ lastSeen: 100 })
    const kept = await store({ lastSeen: 1 })
    const retention = startAlertRetention(pool, { retentionDays: RETENTION_DAYS, intervalMs: 1000 }, { log, metrics })
    try {
      await waitFor('the expired alerts deleted at start', async () => (await ids('alerts')).length === 1)
      await store({ lastSeen: 100, resolved: 95 })
      await waitFor('an alert expired since deleted at the next interval', async () => (await ids('alerts')).length === 1)
    } finally {
      await retention.close()
    }
    expect(await ids('alerts')).toEqual([kept.alertId])
    const counted = Object.fromEntries((await metrics.alertsDeleted.get()).values.map((v) => [v.labels.status, v.value]))
    expect(counted).toEqual({ open: 1, resolved: 2 })
    expect(await metrics.registry.metrics()).toMatch(/^app_alerts_deleted_total\{[^}]*status="resolved"[^}]*\} 2$/m)
  })

  it('answers a verdict or a suppression on an alert it is deleting with "no such alert", never an error', async () => {
    const answers = {
      verdict: (alertId: string) => createVerdictStore(pool).record(alertId, { verdict: 'true_positive' }),
      suppression: (alertId: string) => createSuppressionStore(pool).create(newSuppressionBody.parse({
        scope: 'entity', value: '10.9.9.9', reason: 'scanner', alertId, expiresAt: new Date(Date.now() + DAY_MS).toISOString(),
      })),
    }
    const other = db.newPool()
    const lockWaits = async () => (await other.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rows[0]!.n
    for (const [what, answer] of Object.entries(answers)) {
      const alert = await store({ lastSeen: 120, events: 2 })
      // Retention is held mid-statement, the alert's row locked for its delete: another transaction
      // holds one of the alert's events, which the same statement deletes.
      const holder = await other.connect()
      try {
        await holder.query('BEGIN')
        await holder.query('SELECT 1 FROM alert_events WHERE alert_id = $1 LIMIT 1 FOR UPDATE', [alert.alertId])
        const expiring = expire(recordedMetrics().metrics)
        await waitFor('retention waiting, the alert locked', async () => (await lockWaits()) === 1)
        const answered = answer(alert.alertId).then((value) => ({ value }), (err: unknown) => ({ err }))
        await waitFor(`the ${what} waiting for the alert`, async () => (await lockWaits()) === 2)
        await holder.query('COMMIT')
        expect(await expiring).toEqual({ open: 1, resolved: 0 })
        expect(await answered, what).toEqual({ value: null })
      } finally {
        holder.release()
      }
      expect(await ids('alerts')).toEqual([])
      expect(await ids('alert_verdicts')).toEqual([])
      expect(await ids('suppressions')).toEqual([])
    }
  })
})
