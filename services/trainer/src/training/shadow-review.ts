import { auditTrail, decodeEnsembleArtifact, liveVersion, loadModelArtifact, shadowVersion, setStatus, writeAudit } from '@vigil/models'
import type { Logger, PgPool, TypedProducer } from '@vigil/platform'
import { topics } from '@vigil/schemas'
import { endShadowRecord } from '../model-control.ts'
import type { ScoreHistory } from '../adapters/score-history.ts'
import { populationStability } from './feature-drift.ts'
import { publishVersion } from './publish-version.ts'

export interface ShadowReviewOptions {
  modelName: string
  actor: string
  reviewAfterMs: number
  minEvents: number
  alertRateFactor: number
  alertRateFloor: number
  /** the PSI between the two versions' scores of the same events above which the shadow version is rejected */
  maxScorePsi: number
}

/**
 * Reviews a version running in shadow once it has run long enough: over the events both versions
 * scored, it compares alert volume (each at its own threshold) and the score distributions (PSI),
 * then promotes the shadow version, or rejects it when it alerts far more than the live version or
 * scores the same events very differently. Returns what it did, or null when there was nothing to
 * review yet.
 */
/** What a review did: promoted or rejected the shadow version, or left it running until `reviewDueAt` or later (too few events yet); null without a shadow run. */
export type ShadowReviewOutcome = 'promoted' | 'rejected' | { reviewDueAt: Date } | null

export async function reviewShadow(pool: PgPool, scores: ScoreHistory, producer: TypedProducer, options: ShadowReviewOptions, log: Logger): Promise<ShadowReviewOutcome> {
  const { modelName: model, actor } = options
  const [shadow, live] = [await shadowVersion(pool, model), await liveVersion(pool, model)]
  if (!shadow || !live) return null
  const since = (await auditTrail(pool, model, shadow.version)).filter((a) => a.phase === 'shadow').at(-1)?.at
  if (!since) return null
  const waiting = { reviewDueAt: new Date(since.getTime() + options.reviewAfterMs) }
  if (Date.now() < waiting.reviewDueAt.getTime()) return waiting
  const pairs = await scores.pairedScores(live.version, shadow.version, { from: new Date(0), to: new Date(8.64e15) }, 200_000)
  if (pairs.length < options.minEvents) return waiting

  const threshold = async (version: string) => decodeEnsembleArtifact((await loadModelArtifact(pool, model, version))!.artifact).threshold
  const [liveThreshold, shadowThreshold] = [await threshold(live.version), await threshold(shadow.version)]
  const liveRate = pairs.filter((p) => p.a >= liveThreshold).length / pairs.length
  const shadowRate = pairs.filter((p) => p.b >= shadowThreshold).length / pairs.length
  const scorePsi = populationStability(pairs.map((p) => p.a), pairs.map((p) => p.b))
  const allowed = Math.max(options.alertRateFloor, liveRate * options.alertRateFactor)
  const details = {
    live: live.version, events: pairs.length, liveAlertRate: liveRate, shadowAlertRate: shadowRate, allowedAlertRate: allowed, scorePsi, maxScorePsi: options.maxScorePsi,
  }
  await writeAudit(pool, { model, version: shadow.version, phase: 'evaluate', actor, details: { ...details, stage: 'shadow review' } })
  const faults: string[] = []
  if (shadowRate > allowed) {
    faults.push(`in shadow it alerted on ${(shadowRate * 100).toFixed(2)}% of ${pairs.length} events, live ${live.version} on ${(liveRate * 100).toFixed(2)}% (allowed ${(allowed * 100).toFixed(2)}%)`)
  }
  if (scorePsi > options.maxScorePsi) {
    faults.push(`its scores of the ${pairs.length} events both versions scored are distributed unlike live ${live.version}'s: PSI ${scorePsi.toFixed(2)} (allowed ${options.maxScorePsi})`)
  }
  if (faults.length > 0) {
    const reason = faults.join('; ')
    // The shadow run ends in the rejection's transaction: were the record lost, the registry would say
    // rejected, no later review would find a shadow to end, and scorers would run it on.
    await setStatus(pool, model, shadow.version, 'rejected', {
      actor, reason, details, announce: () => producer.send(topics.modelControl, [endShadowRecord(model, reason)]),
    })
    log.warn({ model, version: shadow.version, ...details }, 'shadow version rejected')
    return 'rejected'
  }
  // publishVersion ends the shadow run with the live record (controlRecordsFor)
  await publishVersion(pool, producer, model, shadow.version, 'live', { actor, reason: 'promoted after shadow review', phase: 'promote', details })
  log.info({ model, version: shadow.version, ...details }, 'shadow version promoted')
  return 'promoted'
}
