import type { PgPool } from '@vigil/platform'
import type { TrainingOutcome, TrainingResult } from '../training/train-and-publish.ts'

export interface TrainingRequest {
  id: number
  model: string
  reason: string
  requestedBy: string
  requestedAt: Date
  claimedBy: string | null
  claimedAt: Date | null
  finishedAt: Date | null
  version: string | null
  /** what the training came to; null when it failed or finished before outcomes were kept */
  outcome: TrainingOutcome | null
  error: string | null
}

/**
 * Retraining asked for by an operator: a row in training_requests that the trainer claims on its
 * schedule. A table rather than a model-control record: model-control is compacted by model name
 * and every scorer reads each record as the version to run, while a request must outlive a trainer
 * restart, be taken by exactly one instance, and report what came of it.
 */
export function createTrainingRequests(pool: PgPool) {
  return {
    /** Files a request; returns its id. */
    async request(model: string, reason: string, requestedBy: string): Promise<number> {
      const { rows } = await pool.query<{ id: string }>(
        'INSERT INTO training_requests (model, reason, requested_by) VALUES ($1, $2, $3) RETURNING id', [model, reason, requestedBy])
      return Number(rows[0]!.id)
    },

    /**
     * Claims the oldest open request for `model`, or null when there is none. A claim older than
     * `staleMs` that never finished (its trainer died) is claimed again.
     */
    async claimNext(model: string, instanceId: string, staleMs: number): Promise<TrainingRequest | null> {
      const { rows } = await pool.query(
        `UPDATE training_requests SET claimed_by = $2, claimed_at = now()
         WHERE id = (
           SELECT id FROM training_requests
           WHERE model = $1 AND finished_at IS NULL AND (claimed_at IS NULL OR claimed_at < now() - make_interval(secs => $3 / 1000.0))
           ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING *`, [model, instanceId, staleMs])
      return rows[0] ? toRequest(rows[0]) : null
    },

    /** Records what came of a claimed request: the version and what became of it, or why none was trained. */
    async finish(id: number, result: TrainingResult | { error: string }): Promise<void> {
      const trained = 'version' in result ? result : null
      await pool.query('UPDATE training_requests SET finished_at = now(), version = $2, outcome = $3, error = $4 WHERE id = $1',
        [id, trained?.version ?? null, trained?.outcome ?? null, 'error' in result ? result.error : null])
    },

    async get(id: number): Promise<TrainingRequest | null> {
      const { rows } = await pool.query('SELECT * FROM training_requests WHERE id = $1', [id])
      return rows[0] ? toRequest(rows[0]) : null
    },

    /** Requests not finished yet, oldest first. */
    async open(model: string): Promise<TrainingRequest[]> {
      const { rows } = await pool.query('SELECT * FROM training_requests WHERE model = $1 AND finished_at IS NULL ORDER BY id', [model])
      return rows.map(toRequest)
    },
  }
}

export type TrainingRequests = ReturnType<typeof createTrainingRequests>

function toRequest(r: Record<string, unknown>): TrainingRequest {
  return {
    id: Number(r.id), model: r.model as string, reason: r.reason as string, requestedBy: r.requested_by as string,
    requestedAt: r.requested_at as Date, claimedBy: r.claimed_by as string | null, claimedAt: r.claimed_at as Date | null,
    finishedAt: r.finished_at as Date | null, version: r.version as string | null, outcome: r.outcome as TrainingOutcome | null, error: r.error as string | null,
  }
}

/**
 * Serves the oldest open request for `model`, if any: claims it, trains, and records the version
 * or the error (which is rethrown). Returns whether there was one. The trainer calls it on each look
 * of its schedule, while it holds the training lock, before deciding on a scheduled retrain.
 */
export async function serveTrainingRequest(
  requests: TrainingRequests, options: { model: string; instanceId: string; staleMs: number }, train: (reason: string) => Promise<TrainingResult>,
): Promise<boolean> {
  const request = await requests.claimNext(options.model, options.instanceId, options.staleMs)
  if (!request) return false
  let result: TrainingResult
  try {
    result = await train(`requested by ${request.requestedBy}: ${request.reason}`)
  } catch (err) {
    await requests.finish(request.id, { error: (err as Error).message ?? String(err) })
    throw err
  }
  await requests.finish(request.id, result)
  return true
}
