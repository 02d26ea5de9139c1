import { inTransaction, type PgPool } from '@vigil/platform'
import { alertUsersSql } from '../adapters/alert-users.ts'
import { withdrawNotifications } from '../sinks/outbox.ts'
import type { NewSuppression } from './requests.ts'
import { candidateCondition, compileMatch, type AlertSubject, type SuppressionMatch, type SuppressionScope } from './suppression-match.ts'

export type SuppressionStatus = 'active' | 'expired' | 'revoked'

/** A suppression as stored. Times are ISO 8601. */
export interface Suppression {
  suppressionId: number
  scope: SuppressionScope
  value: string
  entityKind: string | null
  reason: string
  alertId: string | null
  createdBy: string | null
  createdAt: string
  expiresAt: string
  revokedAt: string | null
  status: SuppressionStatus
}

/** What a suppression would have covered in the recent history. */
export interface SuppressionPreview {
  days: number
  since: string
  /** alerts raised since then that it covers */
  matched: number
  /** of those, the ones still open: saving resolves them */
  open: number
  byDetector: Record<string, number>
  /** the most recent of them */
  sample: Array<{ alertId: string; detector: string; entity: { kind: string; id: string }; title: string; status: string; createdAt: string }>
}

interface SuppressionRow {
  suppression_id: string
  scope: SuppressionScope
  value: string
  entity_kind: string | null
  reason: string
  alert_id: string | null
  created_by: string | null
  created_at: Date
  expires_at: Date
  revoked_at: Date | null
  status: SuppressionStatus
}

interface CandidateRow {
  alert_id: string
  detector: string
  entity_kind: string
  entity_id: string
  /** every user the alert's events named */
  users: string[]
}

/** The columns of an alert its suppressions are matched against (AlertSubject). */
const CANDIDATE_COLUMNS = `alert_id, detector, entity_kind, entity_id, ${alertUsersSql('alerts')} AS users`

const COLUMNS = `suppression_id, scope, value, entity_kind, reason, alert_id, created_by, created_at, expires_at, revoked_at,
  CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at <= now() THEN 'expired' ELSE 'active' END AS status`

const SAMPLE_SIZE = 10

const subjectOf = (r: CandidateRow): AlertSubject => ({ detector: r.detector, entity: { kind: r.entity_kind, id: r.entity_id }, users: r.users })

/** Suppressions in Postgres, and the alerts they cover (matched by suppression-match.ts, the one definition). */
export function createSuppressionStore(pool: PgPool) {
  async function list(status: SuppressionStatus | 'all'): Promise<Suppression[]> {
    const { rows } = await pool.query<SuppressionRow>(
      `SELECT * FROM (SELECT ${COLUMNS} FROM suppressions) s WHERE $1 = 'all' OR status = $1 ORDER BY created_at DESC, suppression_id DESC`, [status],
    )
    return rows.map(toSuppression)
  }

  return {
    list,

    /**
     * Saves a suppression and resolves the open alerts it covers, in one transaction. Null (and
     * nothing saved) when the alert it links to does not exist.
     */
    async create(s: NewSuppression): Promise<{ suppression: Suppression; resolvedAlertIds: string[] } | null> {
      return inTransaction(pool, async (client) => {
        if (s.alertId !== undefined) {
          // Locked until commit, so retention cannot delete it under the suppression's foreign key;
          // one being deleted is waited for and then not found.
          const linked = await client.query('SELECT 1 FROM alerts WHERE alert_id = $1 FOR KEY SHARE', [s.alertId])
          if (linked.rowCount === 0) return null
        }
        const { rows } = await client.query<SuppressionRow>(
          `INSERT INTO suppressions (scope, value, entity_kind, reason, alert_id, created_by, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
          [s.scope, s.value, s.entityKind ?? null, s.reason, s.alertId ?? null, s.createdBy ?? null, s.expiresAt],
        )
        const suppression = toSuppression(rows[0]!)
        const where = candidateCondition(s, 1)
        const open = await client.query<CandidateRow>(
          `SELECT ${CANDIDATE_COLUMNS} FROM alerts WHERE status = 'open' AND ${where.sql}`, where.params,
        )
        const covers = compileMatch(s)
        const covered = open.rows.filter((r) => covers(subjectOf(r))).map((r) => r.alert_id)
        // status = 'open' again: an alert given a verdict since the read keeps that resolution
        const resolved = covered.length === 0 ? { rows: [] } : await client.query<{ alert_id: string }>(
          `UPDATE alerts SET status = 'resolved', resolved_at = now(), resolution = 'suppressed', suppression_id = $2
           WHERE alert_id = ANY($1::text[]) AND status = 'open' RETURNING alert_id`,
          [covered, suppression.suppressionId],
        )
        const resolvedAlertIds = resolved.rows.map((r) => r.alert_id).sort()
        await withdrawNotifications(client, resolvedAlertIds, 'suppressed')
        return { suppression, resolvedAlertIds }
      })
    },

    /** How many alerts raised in the last `days` days `match` covers, and how many of them are open. */
    async preview(match: SuppressionMatch, days: number): Promise<SuppressionPreview> {
      const since = (await pool.query<{ since: Date }>('SELECT now() - make_interval(days => $1) AS since', [days])).rows[0]!.since
      const where = candidateCondition(match, 2)
      const { rows } = await pool.query<CandidateRow & { title: string; status: string; created_at: Date }>(
        `SELECT ${CANDIDATE_COLUMNS}, title, status, created_at
         FROM alerts WHERE created_at >= $1 AND ${where.sql}
         ORDER BY created_at DESC, alert_id`,
        [since, ...where.params],
      )
      const covers = compileMatch(match)
      const matched = rows.filter((r) => covers(subjectOf(r)))
      const byDetector: Record<string, number> = {}
      for (const r of matched) byDetector[r.detector] = (byDetector[r.detector] ?? 0) + 1
      return {
        days,
        since: since.toISOString(),
        matched: matched.length,
        open: matched.filter((r) => r.status === 'open').length,
        byDetector,
        sample: matched.slice(0, SAMPLE_SIZE).map((r) => ({
          alertId: r.alert_id, detector: r.detector, entity: { kind: r.entity_kind, id: r.entity_id }, title: r.title, status: r.status, createdAt: r.created_at.toISOString(),
        })),
      }
    },

    /** Suppressions neither revoked nor expired: what the alerter applies. */
    active: () => list('active'),

    /** Revokes a suppression (alerts it resolved stay resolved). Null when there is no such suppression; a revoked one is returned as it is. */
    async revoke(suppressionId: number): Promise<Suppression | null> {
      const { rows } = await pool.query<SuppressionRow>(
        `UPDATE suppressions SET revoked_at = coalesce(revoked_at, now()) WHERE suppression_id = $1 RETURNING ${COLUMNS}`,
        [suppressionId],
      )
      return rows[0] ? toSuppression(rows[0]) : null
    },
  }
}

export type SuppressionStore = ReturnType<typeof createSuppressionStore>

function toSuppression(r: SuppressionRow): Suppression {
  return {
    suppressionId: Number(r.suppression_id),
    scope: r.scope,
    value: r.value,
    entityKind: r.entity_kind,
    reason: r.reason,
    alertId: r.alert_id,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    expiresAt: r.expires_at.toISOString(),
    revokedAt: r.revoked_at ? r.revoked_at.toISOString() : null,
    status: r.status,
  }
}
