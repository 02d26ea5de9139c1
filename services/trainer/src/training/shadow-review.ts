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
}

/**
 * Reviews a version running in shadow once it has run long enough: over the events both versions
 * scored, it compares alert volume (each at its own threshold) and the score distributions (PSI),
 * then promotes the shadow version or rejects it. Returns what it did, or null when there was
 * nothing to review yet.
 */
export async function reviewShadow(pool: PgPool, scores: ScoreHistory, producer: TypedProducer, options: ShadowReviewOptions, log: Logger): Promise<'promoted' | 'rejected' | null> {
  const { modelName: model, actor } = options
  const [shadow, live] = [await shadowVersion(pool, model), await liveVersion(pool, model)]
  if (!shadow || !live) return null
  const since = (await auditTrail(pool, model, shadow.version)).filter((a) => a.phase === 'shadow').at(-1)?.at
  if (!since || Date.now() - since.getTime() < options.reviewAfterMs) return null
  const pairs = await scores.pairedScores(live.version, shadow.version, { from: new Date(0), to: new Date(8.64e15) }, 200_000)
  if (pairs.length < options.minEvents) return null

  const threshold = async (version: string) => decodeEnsembleArtifact((await loadModelArtifact(pool, model, version))!.artifact).threshold
  const [liveThreshold, shadowThreshold] = [await threshold(live.version), await threshold(shadow.version)]
  const liveRate = pairs.filter((p) => p.a >= liveThreshold).length / pairs.length
  const shadowRate = pairs.filter((p) => p.b >= shadowThreshold).length / pairs.length
  const scorePsi = populationStability(pairs.map((p) => p.a), pairs.map((p) => p.b))
  const allowed = Math.max(options.alertRateFloor, liveRate * options.alertRateFactor)
  const details = { live: live.version, events: pairs.length, liveAlertRate: liveRate, shadowAlertRate: shadowRate, allowedAlertRate: allowed, scorePsi }
  await writeAudit(pool, { model, version: shadow.version, phase: 'evaluate', actor, details: { ...details, stage: 'shadow review' } })
  if (shadowRate > allowed) {
    const reason = `in shadow it alerted on ${(shadowRate * 100).toFixed(2)}% of ${pairs.length} events, live ${live.version} on ${(liveRate * 100).toFixed(2)}% (allowed ${(allowed * 100).toFixed(2)}%)`
    await setStatus(pool, model, shadow.version, 'rejected', { actor, reason, details })
    await producer.send(topics.modelControl, [endShadowRecord(model, reason)])
    log.warn({ model, version: shadow.version, ...details }, 'shadow version rejected')
    return 'rejected'
  }
  await publishVersion(pool, producer, model, shadow.version, 'live', { actor, reason: 'promoted after shadow review', phase: 'promote', details })
  await producer.send(topics.modelControl, [endShadowRecord(model, 'promoted to live')])
  log.info({ model, version: shadow.version, ...details }, 'shadow version promoted')
  return 'promoted'
}
