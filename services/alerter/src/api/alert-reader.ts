import type { PgPool } from '@vigil/platform'
import type { Alert } from '@vigil/schemas'
import { toDetectionFinding, type DetectionFinding } from '../ocsf/detection-finding.ts'
import { userInvolvedSql } from './suppression-match.ts'
import type { ListAlertsQuery, VerdictKind } from './requests.ts'

/** An alert as the API shows it: its row, its status and the analyst's verdict. Times are ISO 8601. */
export interface AlertView {
  alertId: string
  detector: string
  title: string
  severity: string
  entity: { kind: string; id: string }
  firstSeen: string
  lastSeen: string
  eventCount: number
  maxScore: number
  modelVersion: string
  status: 'open' | 'resolved'
  resolvedAt: string | null
  /** what resolved it: a verdict (true_positive, false_positive) or 'suppressed' */
  resolution: string | null
  suppressionId: number | null
  createdAt: string
  verdict: { verdict: VerdictKind; note: string | null; analyst: string | null; decidedAt: string } | null
}

/** One alert with what it was raised on: the model's reasons, features and the original lines. */
export interface AlertDetail extends AlertView {
  score: number
  threshold: number
  reasons: string[]
  features: Record<string, number>
  evidence: Alert['evidence']
  /** the same alert as an OCSF Detection Finding (src/ocsf/README.md) */
  finding: DetectionFinding
}

interface AlertRow {
  alert_id: string
  detector: string
  title: string
  severity: string
  entity_kind: string
  entity_id: string
  first_seen: Date
  last_seen: Date
  event_count: number
  max_score: number
  model_version: string
  status: 'open' | 'resolved'
  resolved_at: Date | null
  resolution: string | null
  suppression_id: string | null
  created_at: Date
  verdict: VerdictKind | null
  note: string | null
  analyst: string | null
  decided_at: Date | null
}

const COLUMNS = `a.alert_id, a.detector, a.title, a.severity, a.entity_kind, a.entity_id, a.first_seen, a.last_seen, a.event_count,
  a.max_score, a.model_version, a.status, a.resolved_at, a.resolution, a.suppression_id, a.created_at,
  v.verdict, v.note, v.analyst, v.decided_at`

/** The alerts table as analysts query it (the alerter's writes are in adapters/alert-store.ts). */
export function createAlertReader(pool: PgPool) {
  return {
    /** Alerts matching every given filter, most recently seen first. */
    async list(q: ListAlertsQuery): Promise<AlertView[]> {
      const { rows } = await pool.query<AlertRow>(
        `SELECT ${COLUMNS} FROM alerts a LEFT JOIN alert_verdicts v USING (alert_id)
         WHERE ($1::text IS NULL OR a.entity_id = $1)
           AND ($2::text IS NULL OR a.entity_kind = $2)
           AND ($3::text IS NULL OR a.detector = $3)
           AND ($4::text IS NULL OR a.severity = $4)
           AND ($5::text IS NULL OR a.status = $5)
           AND ($6::text IS NULL OR ($6 = 'none' AND v.verdict IS NULL) OR v.verdict = $6)
           AND ($7::timestamptz IS NULL OR a.last_seen >= $7)
           AND ($8::timestamptz IS NULL OR a.last_seen < $8)
           AND ($10::text IS NULL OR ${userInvolvedSql('$10', 'a')})
         ORDER BY a.last_seen DESC, a.alert_id
         LIMIT $9`,
        [q.entity ?? null, q.entityKind ?? null, q.detector ?? null, q.severity ?? null, q.status ?? null, q.verdict ?? null, q.since ?? null, q.until ?? null, q.limit, q.user ?? null],
      )
      return rows.map(toView)
    },

    async get(alertId: string): Promise<AlertDetail | null> {
      const { rows } = await pool.query<AlertRow & { body: Alert }>(
        `SELECT ${COLUMNS}, a.body FROM alerts a LEFT JOIN alert_verdicts v USING (alert_id) WHERE a.alert_id = $1`, [alertId],
      )
      const row = rows[0]
      if (!row) return null
      const { body } = row
      const finding = toDetectionFinding(body, { lastSeen: row.last_seen.getTime(), eventCount: row.event_count, status: row.status })
      return { ...toView(row), score: body.score, threshold: body.threshold, reasons: body.reasons ?? [], features: body.features, evidence: body.evidence, finding }
    },
  }
}

export type AlertReader = ReturnType<typeof createAlertReader>

const iso = (d: Date | null) => (d ? d.toISOString() : null)

function toView(r: AlertRow): AlertView {
  return {
    alertId: r.alert_id,
    detector: r.detector,
    title: r.title,
    severity: r.severity,
    entity: { kind: r.entity_kind, id: r.entity_id },
    firstSeen: r.first_seen.toISOString(),
    lastSeen: r.last_seen.toISOString(),
    eventCount: r.event_count,
    maxScore: r.max_score,
    modelVersion: r.model_version,
    status: r.status,
    resolvedAt: iso(r.resolved_at),
    resolution: r.resolution,
    suppressionId: r.suppression_id === null ? null : Number(r.suppression_id),
    createdAt: r.created_at.toISOString(),
    verdict: r.verdict ? { verdict: r.verdict, note: r.note, analyst: r.analyst, decidedAt: r.decided_at!.toISOString() } : null,
  }
}
