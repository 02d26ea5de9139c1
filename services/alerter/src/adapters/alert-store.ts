import { inTransaction, pgFailure, type PgClient, type PgPool } from '@vigil/platform'
import { usersNamedIn, type Alert } from '@vigil/schemas'
import { foldedEvidence } from '../alert-evidence.ts'
import { MODEL_DETECTOR_PREFIX, SIGMA_DETECTOR_PREFIX } from '../rules/sigma-alerts.ts'
import { alertUsersSql, evidenceUsersSql, firstNamedSql, MAX_ALERT_USERS } from './alert-users.ts'
import { storableText } from './storable-text.ts'

/** How the alerts table's failures are coded (platform's pgFailure): held and retried, or the input dead-lettered. */
export const ALERT_STORE_ERRORS = { unavailable: 'ALERT_STORE_UNAVAILABLE', rejected: 'ALERT_REJECTED_BY_STORE' } as const

export interface RecordedAlert {
  /** as stored, this event folded in */
  alert: Alert
  /** every user the alert's events named, beyond the evidence the body cites too (at most MAX_ALERT_USERS) */
  users: string[]
  /** true when this event opened the alert, or the alert was stored but never published (a crash in between) */
  needsPublishing: boolean
  /**
   * true when the alert was published, is open, and its severity is now above the one it was last
   * routed at (routeRises): the sinks whose minimum it now reaches have not had it yet, nor `alerts` its rise
   */
  needsRouting: boolean
}

/**
 * The users column ($8 the event's users, $9 MAX_ALERT_USERS) with the event's users added: each
 * once, in the order first named, at most $9. A row written before the column existed (users null)
 * starts from the users its evidence names.
 */
const MERGED_USERS = firstNamedSql(`CASE WHEN cardinality(users) > 0 THEN users ELSE ${evidenceUsersSql('alerts')} END || $8::text[]`, '$9')

/** What an alert says of the event that scored highest: a later event scoring higher replaces it in the stored body. */
const strongestEventOf = (alert: Alert): Partial<Alert> => ({
  score: alert.score, threshold: alert.threshold, modelVersion: alert.modelVersion, model: alert.model,
  features: alert.features, reasons: alert.reasons, explanations: alert.explanations,
})

/**
 * What another raising of a stored alert changes in its body: its evidence (alert-evidence.ts), and,
 * when it scored higher, its score and why.
 */
export function foldedInto(body: Alert, raised: Alert, maxEvidence: number): Pick<Alert, 'evidence'> & Partial<Alert> {
  const describesBody = raised.score > body.score
  return { ...(describesBody ? strongestEventOf(raised) : {}), evidence: foldedEvidence(body.evidence, raised.evidence, describesBody, maxEvidence) }
}

interface AlertRow {
  body: Alert
  users: string[]
  published: boolean
  status: string
  routed_severity_id: number | null
  inserted: boolean
}

const needsRouting = (row: AlertRow, severityId: number) => row.published && row.status === 'open' && severityId > (row.routed_severity_id ?? 0)

/**
 * How an attack that crosses alert windows stays one alert. The first event of a window that has
 * no alert yet joins its entity's open alert of the same detector when that alert began at or
 * before it, less than `maxSpanMs` before, and its events came within `gapMs` of it; the window's
 * later events and redeliveries follow it there (alert_windows, migration 015). One brute force
 * from 10:54 to 11:04 was two alerts of the model, two of the rule and two correlated ones, split at
 * 11:00; it is one of each. A correlated alert is its Sigma alert's (alert-join.ts) and follows it.
 * Only forward: an event before an alert began opens its own window's, so an alert's first seen
 * stays in its first window, where its correlated alert's id comes from.
 */
export interface AlertContinuation {
  /** ALERT_WINDOW_MS: the longest quiet between an alert's events */
  gapMs: number
  /** ALERT_MAX_SPAN_MS: a window that begins later opens a new alert, so that a longer attack is announced again (an alert runs at most this and a window) */
  maxSpanMs: number
}

/** Detectors whose alerts continue: the model's and the rules' (a correlated alert follows its rule's). */
const continues = (detector: string) => detector.startsWith(MODEL_DETECTOR_PREFIX) || detector.startsWith(SIGMA_DETECTOR_PREFIX)

/**
 * The alert window alert $1's events went into, locked against retention's delete (which skips
 * locked rows) until this transaction commits: otherwise the upsert after it would bring a deleted
 * alert back, unpublished, under its old id.
 */
const MAPPED_ALERT_SQL = `
  SELECT w.alert_id FROM alert_windows w JOIN alerts a ON a.alert_id = w.alert_id
  WHERE w.window_alert_id = $1 FOR KEY SHARE OF a`

/**
 * The alert the first event of window alert $1 (entity $2/$3, detector $4, event time $5 ms) opens
 * or joins, recorded for the window and locked as above: its own when it has one (written before
 * the window's row was kept), else the open alert it continues, else its own. Nothing when another
 * event of the window recorded one first (the conflict waits for it to commit): then that one is read.
 */
const WINDOW_ALERT_SQL = `
  INSERT INTO alert_windows (window_alert_id, alert_id)
  SELECT $1, coalesce(
    (SELECT alert_id FROM alerts WHERE alert_id = $1 FOR KEY SHARE),
    (SELECT alert_id FROM alerts
     WHERE entity_kind = $2 AND entity_id = $3 AND detector = $4 AND status = 'open'
       AND first_seen <= to_timestamp($5::float8 / 1000.0) AND first_seen > to_timestamp(($5::float8 - $7::float8) / 1000.0)
       AND last_seen >= to_timestamp(($5::float8 - $6::float8) / 1000.0)
     ORDER BY first_seen DESC, alert_id LIMIT 1 FOR KEY SHARE),
    $1)
  ON CONFLICT (window_alert_id) DO NOTHING
  RETURNING alert_id`

/**
 * The alert an event of window alert `own` goes into (AlertContinuation): the one its window went
 * into, read first (most events are not their window's first); else decided now, when continuation
 * is on; else its own. A window's row read while continuation is off still counts: a redelivery
 * after turning it off lands where its event went.
 */
async function windowAlertOf(client: PgClient, own: Alert, eventTime: number, continuation: AlertContinuation | null): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const mapped = await client.query<{ alert_id: string }>(MAPPED_ALERT_SQL, [own.alertId])
    if (mapped.rows[0]) return mapped.rows[0].alert_id
    if (!continuation) return own.alertId
    const decided = await client.query<{ alert_id: string }>(WINDOW_ALERT_SQL,
      [own.alertId, own.entity.kind, own.entity.id, own.detector, eventTime, continuation.gapMs, continuation.maxSpanMs])
    if (decided.rows[0]) return decided.rows[0].alert_id
    // Another event of the window decided first; read its answer (a new statement sees its commit),
    // unless retention deleted that alert, and the window's row with it, in between: then decide again.
    if (attempt === 3) throw new Error(`alert window ${own.alertId}: its alert changed under three attempts to read it`)
  }
}
/**
 * Alerts in Postgres: the unique alert id and (alert, event) pairs make every write idempotent.
 * Text is stored with U+0000 replaced (storable-text.ts); a value Postgres still refuses (an event
 * time out of its range) dead-letters the input, while Postgres being away holds it (pgFailure).
 */
export function createAlertStore(pool: PgPool, maxEvidence: number, continuation: AlertContinuation | null = null) {
  return {
    /**
     * Folds one event into its alert, or opens the alert: its own window's, or the one it continues
     * (AlertContinuation, when given); the alert as stored says which. The alert's severity rises to the
     * event's when that is higher, and never falls. `named`: the users the event names, where that
     * is more than its evidence cites (RaisedAlert.users). Null when this event was already counted
     * (a redelivery) and nothing is left to do for it.
     */
    async record(raised: Alert, rawEventId: string, eventTime: number, named?: readonly string[]): Promise<RecordedAlert | null> {
      const own = storableText(raised)
      const eventId = storableText(rawEventId)
      const eventUsers = storableText([...new Set(named ?? usersNamedIn(own))])
      return storeFailure(() => inTransaction(pool, async (client) => {
        const alert = continues(own.detector) ? { ...own, alertId: await windowAlertOf(client, own, eventTime, continuation) } : own
        // The upsert locks the row until commit, so the severity read here is the one the update below raises.
        const upsert = await client.query<AlertRow>(
          `INSERT INTO alerts (alert_id, detector, entity_kind, entity_id, title, severity, first_seen, last_seen, max_score, model_version, body, users)
           VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7 / 1000.0), to_timestamp($7 / 1000.0), $8, $9, $10, $11)
           ON CONFLICT (alert_id) DO UPDATE SET alert_id = alerts.alert_id
           RETURNING body, ${alertUsersSql('alerts')} AS users, published, status, routed_severity_id, (xmax = 0) AS inserted`,
          [alert.alertId, alert.detector, alert.entity.kind, alert.entity.id, alert.title, alert.severity, eventTime, alert.score, alert.modelVersion, alert,
            eventUsers.slice(0, MAX_ALERT_USERS)],
        )
        const counted = await client.query('INSERT INTO alert_events (alert_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [alert.alertId, eventId])
        const row = upsert.rows[0]!
        if (counted.rowCount === 0) {
          if (!row.published) return { alert: row.body, users: row.users, needsPublishing: true, needsRouting: false }
          // A redelivery after a crash between raising the severity and routing it routes it now.
          return needsRouting(row, row.body.severityId) ? { alert: row.body, users: row.users, needsPublishing: false, needsRouting: true } : null
        }
        if (row.inserted) return { alert: row.body, users: row.users, needsPublishing: true, needsRouting: false }
        // The alert as this event leaves it, which is what is matched against suppressions and sent:
        // its score and why (reasons, features, the model version that scored it) are its
        // highest-scoring event's, so a notification sent after a rise shows the score that raised
        // it, and that event is its first evidence line, cited whatever the cap (alert-evidence.ts);
        // its users (beyond the evidence) include this event's; its first seen is its earliest
        // event's, in whatever order they came. The row is locked since the upsert: the body read
        // there is the one this rewrites.
        const { evidence, ...strongest } = foldedInto(row.body, alert, maxEvidence)
        const updated = await client.query<Pick<AlertRow, 'body' | 'users'>>(
          `UPDATE alerts SET event_count = event_count + 1,
             first_seen = least(first_seen, to_timestamp($2 / 1000.0)), last_seen = greatest(last_seen, to_timestamp($2 / 1000.0)),
             max_score = greatest(max_score, $3),
             severity = CASE WHEN $6 > (body->>'severityId')::int THEN $7 ELSE severity END,
             body = jsonb_set(body, '{evidence}', $4::jsonb)
               || CASE WHEN $6 > (body->>'severityId')::int THEN jsonb_build_object('severity', $7::text, 'severityId', $6::int) ELSE '{}'::jsonb END
               || $5::jsonb
               || CASE WHEN $2 < (body->>'firstSeen')::bigint THEN jsonb_build_object('firstSeen', $2::bigint) ELSE '{}'::jsonb END,
             users = CASE WHEN cardinality(users) >= $9 OR (cardinality(users) > 0 AND users @> $8::text[]) THEN users ELSE ${MERGED_USERS} END
           WHERE alert_id = $1
           RETURNING body, users`,
          [alert.alertId, eventTime, alert.score, JSON.stringify(evidence), JSON.stringify(strongest), alert.severityId, alert.severity,
            eventUsers, MAX_ALERT_USERS],
        )
        const { body, users } = updated.rows[0]!
        return { alert: body, users, needsPublishing: !row.published, needsRouting: needsRouting(row, body.severityId) }
      }))
    },

    /**
     * Resolves alerts an active suppression covers as they open: kept (the history and the preview
     * count them), never notified nor published. Only open, unpublished ones: a published alert stays as it is.
     */
    async markSuppressed(alerts: Array<{ alertId: string; suppressionId: number }>): Promise<void> {
      if (alerts.length === 0) return
      await storeFailure(() => pool.query(
        `UPDATE alerts SET status = 'resolved', resolution = 'suppressed', resolved_at = now(), suppression_id = s.suppression_id, published = true
         FROM unnest($1::text[], $2::bigint[]) AS s(alert_id, suppression_id)
         WHERE alerts.alert_id = s.alert_id AND NOT alerts.published AND alerts.status = 'open'`,
        [alerts.map((a) => a.alertId), alerts.map((a) => a.suppressionId)],
      ))
    },
    /**
     * Publishes each of `alertIds` not yet published, once across instances: their rows stay locked
     * while `publish` runs with them as stored (the features and the scores consumers may both reach a
     * correlated alert at once), and are marked published, and routed at the severity published, when
     * it returns. Returns the alerts it published. A crash in between releases the locks unpublished,
     * so a redelivery publishes them (at least once).
     */
    async publishOnce(alertIds: string[], publish: (alerts: Alert[]) => Promise<void>): Promise<Alert[]> {
      return underLock(alertIds, 'NOT published', publish)
    },

    /**
     * Routes the rise of each of `alertIds` that is published, open and above the severity it was
     * last routed at, once across instances: its row stays locked while `route` runs with it as
     * stored (the highest severity it has reached), and is marked routed at that severity when it
     * returns. Two consumers raising one alert at once take turns, and the second finds it routed or
     * routes a higher severity: `alerts` sees an alert's severities in rising order. Returns the alerts routed.
     */
    async routeRises(alertIds: string[], route: (alerts: Alert[]) => Promise<void>): Promise<Alert[]> {
      return underLock(alertIds, `published AND status = 'open' AND ${STORED_SEVERITY} > coalesce(routed_severity_id, 0)`, route)
    },
  }

  /**
   * Locks the rows of `alertIds` that meet `condition` (rechecked once a concurrent holder lets go),
   * runs `send` with their stored bodies, then records them published and routed at the severity sent.
   */
  function underLock(alertIds: string[], condition: string, send: (alerts: Alert[]) => Promise<void>): Promise<Alert[]> {
    if (alertIds.length === 0) return Promise.resolve([])
    return storeFailure(() => inTransaction(pool, async (client) => {
      // NO KEY UPDATE, not UPDATE: `send` queues notifications on another connection, and their
      // outbox rows' foreign key takes KEY SHARE on these rows, which UPDATE would block for good.
      // Locked in id order: two senders never wait on each other crosswise.
      const { rows } = await client.query<{ body: Alert }>(
        `SELECT body FROM alerts WHERE alert_id = ANY($1::text[]) AND ${condition} ORDER BY alert_id FOR NO KEY UPDATE`, [alertIds],
      )
      const locked = new Map(rows.map((r) => [r.body.alertId, r.body]))
      // In the caller's order.
      const claimed = alertIds.flatMap((id) => locked.get(id) ?? [])
      if (claimed.length > 0) {
        await send(claimed)
        await client.query(
          `UPDATE alerts SET published = true, routed_severity_id = greatest(routed_severity_id, s.severity_id)
           FROM unnest($1::text[], $2::int[]) AS s(alert_id, severity_id) WHERE alerts.alert_id = s.alert_id`,
          [claimed.map((a) => a.alertId), claimed.map((a) => a.severityId)],
        )
      }
      return claimed
    }))
  }
}

/** The severity an alert has reached, as its stored body says (record raises it there). */
const STORED_SEVERITY = "(body->>'severityId')::int"

export type AlertStore = ReturnType<typeof createAlertStore>

/** Postgres failing holds the caller's batch; a value it refuses dead-letters the input; a failure with its own verdict (the producer's) keeps it. */
const storeFailure = <T>(work: () => Promise<T>): Promise<T> => work().catch((cause: unknown) => {
  throw pgFailure(cause, ALERT_STORE_ERRORS)
})
