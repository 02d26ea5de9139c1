// How long the trainer takes to read its training set out of a busy history: TRAIN_MAX_ROWS rows
// drawn from a 7-day window (feature-history.ts, spreadRows), against the read it replaced, in the
// same run: the window's newest TRAIN_MAX_ROWS rows and a count of its flagged rows over all of it.
// Run: npx tsx bench/trainer/history-read.ts  (with the stack's env: set -a; . .cache/stack/stack.env)
// BENCH_ROWS_PER_DAY (default 50,000) sets how busy the history is.
import { featureNames, type FeatureRecord } from '@vigil/schemas'
import { seededRandom } from '@vigil/models'
import { createLogger } from '@vigil/platform'
import { freshTestDatabase, stackFromEnv, startNativeStack } from '@vigil/testkit'
import { migrateTrainerDatabase } from '../../services/trainer/src/adapters/database.ts'
import { createFeatureHistory } from '../../services/trainer/src/adapters/feature-history.ts'
import { printTable } from '../lib/stats.ts'

const DAY_MS = 86_400_000
const DAYS = 7
const PER_DAY = Number(process.env.BENCH_ROWS_PER_DAY ?? 50_000)
const TRAIN_MAX_ROWS = 20_000
const DAY0 = Date.UTC(2026, 0, 5)
const stack = stackFromEnv() ?? startNativeStack()
const db = await freshTestDatabase(stack.PG_URL, 'bench_history', (pool) => migrateTrainerDatabase(pool, createLogger('trainer', 'silent', 'bench')))
const random = seededRandom(1)
const record = (i: number): FeatureRecord => {
  const eventTime = DAY0 + Math.floor(i * (DAY_MS / PER_DAY))
  return {
    eventId: `raw-logs/${i % 12}/${i}`, entity: { kind: 'source.ip', id: `10.9.${(i >> 8) % 256}.${i % 256}` }, eventTime, receivedAt: eventTime + 5, family: 'sshd',
    event: { timestamp: eventTime, message: 'm', event: { kind: 'event', category: ['authentication'], type: ['info'], action: 'ssh_login_failed', outcome: 'failure', module: 'sshd', original: 'line' } },
    evidence: { topic: 'raw-logs', partition: i % 12, offset: String(i) },
    vector: Object.fromEntries(featureNames.map((n) => [n, Math.round(random() * 1e6) / 1e3])) as unknown as FeatureRecord['vector'],
  }
}
try {
  const history = createFeatureHistory(db.pool)
  let t = performance.now()
  for (let i = 0; i < DAYS * PER_DAY; i += 5000) await history.write(Array.from({ length: Math.min(5000, DAYS * PER_DAY - i) }, (_, k) => record(i + k)))
  await db.pool.query('VACUUM ANALYZE feature_history')
  const writeS = (performance.now() - t) / 1000
  // A tenth of the sources flagged for the whole window, as after a Sigma rule's hits.
  await db.pool.query(`INSERT INTO flagged_entities (entity_kind, entity_id, flagged_from, reason, source)
    SELECT 'source.ip', '10.9.' || a || '.' || b, $1, 'sigma hit', 'sigma:bench' FROM generate_series(0, 255) a, generate_series(0, 255, 10) b`, [new Date(DAY0)])
  const window = { from: new Date(DAY0), to: new Date(DAY0 + DAYS * DAY_MS) }
  const rows: string[][] = []
  for (let round = 1; round <= 3; round++) {
    t = performance.now()
    // As the trainer read it before (git show 8266dd0:services/trainer/src/adapters/feature-history.ts), flagged check simplified to the flag alone.
    const flagged = `EXISTS (SELECT 1 FROM flagged_entities f WHERE f.entity_kind = h.entity_kind AND f.entity_id = h.entity_id AND f.flagged_from < $2 AND coalesce(f.flagged_to, 'infinity') >= $1)`
    const newest = await db.pool.query(`SELECT h.event_id, h.event_time, h.vector FROM feature_history h WHERE h.event_time >= $1 AND h.event_time < $2 AND NOT ${flagged}
      ORDER BY h.event_time DESC, h.event_id DESC LIMIT $3`, [window.from, window.to, TRAIN_MAX_ROWS])
    const { rows: n } = await db.pool.query<{ n: string; flagged: string }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE ${flagged}) AS flagged FROM feature_history h WHERE h.event_time >= $1 AND h.event_time < $2`, [window.from, window.to])
    const beforeS = (performance.now() - t) / 1000
    const newestDays = new Set(newest.rows.map((r: { event_id: string }) => Math.floor(Number(r.event_id.split('/')[2]) / PER_DAY))).size
    t = performance.now()
    const set = await history.trainingSet(TRAIN_MAX_ROWS, window)
    const readS = (performance.now() - t) / 1000
    const days = new Set(set.eventIds.map((id) => Math.floor(Number(id.split('/')[2]) / PER_DAY))).size
    rows.push([String(round), n[0]!.n, 'newest rows (before)', String(newest.rows.length), String(newestDays), n[0]!.flagged, beforeS.toFixed(2)])
    rows.push([String(round), n[0]!.n, 'spread over the window', String(set.rows.length), String(days), `${set.excluded} (counted on ${(100 * set.flaggedCountShare).toFixed(1)}%)`, readS.toFixed(2)])
  }
  console.log(`history: ${DAYS} days × ${PER_DAY} rows written in ${writeS.toFixed(1)} s; a tenth of the sources flagged`)
  printTable(['round', 'rows in window', 'read', 'training rows', 'days they span', 'flagged rows left out', 'seconds'], rows)
} finally {
  await db.drop()
}
process.exit(0)
