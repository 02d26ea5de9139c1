import { inTransaction, TransientError, VigilError, type PgPool } from '@vigil/platform'
import type { Alert } from '@vigil/schemas'

export interface RecordedAlert {
  alert: Alert
  /** true when this event opened the alert, or the alert was stored but never published (a crash in between) */
  needsPublishing: boolean
}

/** Alerts in Postgres: the unique alert id and (alert, event) pairs make every write idempotent. */
export function createAlertStore(pool: PgPool, maxEvidence: number) {
  return {
    /** Folds one event into its alert, or opens the alert. Null when this event was already counted (a redelivery). */
    async record(alert: Alert, eventId: string, eventTime: number): Promise<RecordedAlert | null> {
      return storeUnavailableOnFailure(() => inTransaction(pool, async (client) => {
        const upsert = await client.query<{ body: Alert; published: boolean; inserted: boolean }>(
          `INSERT INTO alerts (alert_id, detector, entity_kind, entity_id, title, severity, first_seen, last_seen, max_score, model_version, body)
           VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7 / 1000.0), to_timestamp($7 / 1000.0), $8, $9, $10)
           ON CONFLICT (alert_id) DO UPDATE SET alert_id = alerts.alert_id
           RETURNING body, published, (xmax = 0) AS inserted`,
          [alert.alertId, alert.detector, alert.entity.kind, alert.entity.id, alert.title, alert.severity, eventTime, alert.score, alert.modelVersion, alert],
        )
        const counted = await client.query('INSERT INTO alert_events (alert_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [alert.alertId, eventId])
        const row = upsert.rows[0]!
        if (counted.rowCount === 0) return row.published ? null : { alert: row.body, needsPublishing: true }
        if (!row.inserted) {
          await client.query(
            `UPDATE alerts SET event_count = event_count + 1,
               first_seen = least(first_seen, to_timestamp($2 / 1000.0)), last_seen = greatest(last_seen, to_timestamp($2 / 1000.0)),
               max_score = greatest(max_score, $3),
               body = CASE WHEN jsonb_array_length(body->'evidence') < $4 THEN jsonb_set(body, '{evidence}', (body->'evidence') || $5::jsonb) ELSE body END
             WHERE alert_id = $1`,
            [alert.alertId, eventTime, alert.score, maxEvidence, JSON.stringify(alert.evidence)],
          )
        }
        return { alert: row.body, needsPublishing: !row.published }
      }))
    },

    /**
     * Resolves alerts an active suppression covers as they open: kept (the history and the preview
     * count them), never notified nor published. Only open, unpublished ones: a published alert stays as it is.
     */
    async markSuppressed(alerts: Array<{ alertId: string; suppressionId: number }>): Promise<void> {
      if (alerts.length === 0) return
      await pool.query(
        `UPDATE alerts SET status = 'resolved', resolution = 'suppressed', resolved_at = now(), suppression_id = s.suppression_id, published = true
         FROM unnest($1::text[], $2::bigint[]) AS s(alert_id, suppression_id)
         WHERE alerts.alert_id = s.alert_id AND NOT alerts.published AND alerts.status = 'open'`,
        [alerts.map((a) => a.alertId), alerts.map((a) => a.suppressionId)],
      )
    },
    /**
     * Publishes each of `alertIds` not yet published, once across instances: their rows stay locked
     * while `publish` runs (the features and the scores consumers may both reach a correlated alert
     * at once), and are marked published when it returns. Returns the ids it published. A crash in
     * between releases the locks unpublished, so a redelivery publishes them (at least once).
     */
    async publishOnce(alertIds: string[], publish: (alertIds: string[]) => Promise<void>): Promise<string[]> {
      if (alertIds.length === 0) return []
      return storeUnavailableOnFailure(() => inTransaction(pool, async (client) => {
        // Waits for a concurrent publisher of the same alert, then sees it published and leaves it out.
        // NO KEY UPDATE, not UPDATE: `publish` queues notifications on another connection, and their
        // outbox rows' foreign key takes KEY SHARE on these rows, which UPDATE would block for good.
        const { rows } = await client.query<{ alert_id: string }>(
          'SELECT alert_id FROM alerts WHERE alert_id = ANY($1::text[]) AND NOT published ORDER BY alert_id FOR NO KEY UPDATE', [alertIds],
        )
        // Locked in id order (two publishers never wait on each other crosswise); published in the caller's order.
        const locked = new Set(rows.map((r) => r.alert_id))
        const claimed = alertIds.filter((id) => locked.has(id))
        if (claimed.length > 0) {
          await publish(claimed)
          await client.query('UPDATE alerts SET published = true WHERE alert_id = ANY($1::text[])', [claimed])
        }
        return claimed
      }))
    },
  }
}

export type AlertStore = ReturnType<typeof createAlertStore>

/** Postgres failing is transient for the caller (its batch is held and retried); a failure with its own verdict (the producer's) keeps it. */
async function storeUnavailableOnFailure<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (cause) {
    if (cause instanceof VigilError) throw cause
    throw new TransientError('ALERT_STORE_UNAVAILABLE', `postgres: ${(cause as Error).message}`, { cause })
  }
}
