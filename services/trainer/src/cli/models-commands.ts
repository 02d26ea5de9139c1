import {
  auditTrail, deployments, getVersion, listVersions, liveVersion, ModelRegistryError, previousLiveVersion, setStatus,
  type AuditPhase, type DeploymentRole, type ModelStatus, type ModelVersionRow,
} from '@vigil/models'
import type { OutgoingRecord, PgPool } from '@vigil/platform'
import type { ModelControl } from '@vigil/schemas'
import type { TrainingRequests } from '../adapters/training-requests.ts'
import type { TrainingOutcome } from '../training/train-and-publish.ts'
import { CliError } from './cli-error.ts'
import { formatAge, formatTable, formatTime } from './format-table.ts'
import { controlRecordsFor } from '../model-control.ts'

export interface CommandDeps {
  pool: PgPool
  requests: TrainingRequests
  /** the model the commands act on */
  model: string
  /** who runs the command, for the audit trail */
  actor: string
  /** connects to Kafka (once) and returns a function that sends model-control records (in one request) */
  modelControl(): Promise<(records: Array<OutgoingRecord<ModelControl>>) => Promise<void>>
  print(line: string): void
  /** pause between looks while waiting for a retrain, ms */
  pollMs?: number
}

/** `list`: every version, newest first, with where it runs. */
export async function listCommand(deps: CommandDeps): Promise<void> {
  const versions = await listVersions(deps.pool, deps.model)
  if (versions.length === 0) {
    deps.print(`model ${deps.model} has no versions yet`)
  } else {
    // Stale acknowledgements (an instance killed without withdrawing them) are not where a version runs.
    const running = (await deployments(deps.pool, deps.model)).filter((d) => !d.stale)
    const on = (v: string, role: DeploymentRole) => String(running.filter((d) => d.version === v && d.role === role).length)
    deps.print(formatTable(
      ['VERSION', 'STATUS', 'CREATED', 'ROWS', 'DATA', 'LIVE ON', 'SHADOW ON', 'PROMOTED'],
      versions.map((v) => [
        v.version, v.status, formatTime(v.createdAt), String(v.trainingRows), v.trainingDataHash?.slice(0, 12) ?? '-',
        on(v.version, 'live'), on(v.version, 'shadow'), formatTime(v.promotedAt),
      ]),
    ).join('\n'))
  }
  const open = await deps.requests.open(deps.model)
  if (open.length > 0) deps.print(`\n${open.length} retraining request(s) open, oldest #${open[0]!.id} from ${formatTime(open[0]!.requestedAt)}`)
}

/** `show <version>`: what it was trained on, with which parameters, how it measured, its audit trail and where it runs. */
export async function showCommand(deps: CommandDeps, version: string): Promise<void> {
  const v = await requireVersion(deps, version)
  const fields: Array<[string, string]> = [
    ['model', v.model],
    ['version', v.version],
    ['status', v.status + (v.status === 'live' ? ` since ${formatTime(v.promotedAt)}` : '')],
    ...(v.rejectionReason ? [['rejected', v.rejectionReason] as [string, string]] : []),
    ['algorithm', v.algorithm],
    ['created', formatTime(v.createdAt)],
    ['training rows', `${v.trainingRows} (event time ${formatTime(v.windowStart)} to ${formatTime(v.windowEnd)})`],
    ['training data', v.trainingDataHash ? `sha256 ${v.trainingDataHash}` : 'not recorded'],
    ['artifact', `sha256 ${v.sha256}`],
    ['features', `${v.featureNames.length}: ${v.featureNames.join(', ')}`],
    ['params', JSON.stringify(v.params)],
    ['metrics', JSON.stringify(v.metrics)],
  ]
  const width = Math.max(...fields.map(([k]) => k.length))
  for (const [k, value] of fields) deps.print(`${k.padEnd(width)}  ${value}`)

  const trail = await auditTrail(deps.pool, v.model, v.version)
  deps.print('\naudit')
  deps.print(formatTable(['AT', 'PHASE', 'ACTOR', 'DETAILS'], trail.map((a) => [formatTime(a.at), a.phase, a.actor, JSON.stringify(a.details)])).join('\n'))

  const running = await deployments(deps.pool, v.model, v.version)
  deps.print('\ndeployed')
  if (running.length === 0) deps.print('on no scorer instance')
  else {
    deps.print(formatTable(['INSTANCE', 'ROLE', 'ACKNOWLEDGED', 'LAST SEEN'], running.map((d) => [
      d.instanceId, d.role, `${formatTime(d.acknowledgedAt)} (${formatAge(d.acknowledgedAt)} ago)`,
      `${formatAge(d.seenAt)} ago${d.stale ? ' (stale: the instance stopped renewing; it may be gone)' : ''}`,
    ])).join('\n'))
  }
}

/** `promote <version>`: makes it live; the live version before it is retired. */
export async function promoteCommand(deps: CommandDeps, version: string): Promise<void> {
  await requireVersion(deps, version)
  await announce(deps, version, 'live', 'promote', 'promoted')
}

/**
 * `rollback [<version>]`: makes the given version, or the one live before the current (passing over
 * versions rolled back from, so a second rollback goes further back), live again. Only a version
 * that was live before can be rolled back to; `promote` makes a new one live.
 */
export async function rollbackCommand(deps: CommandDeps, version?: string): Promise<void> {
  const current = await liveVersion(deps.pool, deps.model)
  let target: ModelVersionRow
  if (version) {
    target = await requireVersion(deps, version)
    if (target.status === 'live') throw new CliError(`${deps.model}@${version} is already live`)
    if (!target.promotedAt) {
      const promote = target.status === 'rejected' ? '' : `; promote ${version} makes it live`
      throw new CliError(`${deps.model}@${version} was never live (it is ${target.status}): rollback returns only to a version that was${promote}`)
    }
  } else {
    const previous = await previousLiveVersion(deps.pool, deps.model)
    if (!previous) throw new CliError(`model ${deps.model} has no earlier live version to roll back to`)
    target = previous
  }
  await announce(deps, target.version, 'live', 'rollback', 'rolled back', current ? { from: current.version } : {})
}

/** `shadow <version>`: scorers run it beside the live version, without alerting. */
export async function shadowCommand(deps: CommandDeps, version: string): Promise<void> {
  await requireVersion(deps, version)
  await announce(deps, version, 'shadow', 'shadow', 'shadow')
}

/** `retrain`: files a request the trainer claims on its next look; with `wait`, follows it to the end. */
export async function retrainCommand(deps: CommandDeps, options: { reason?: string; waitMs?: number }): Promise<void> {
  const reason = options.reason ?? 'requested'
  const id = await deps.requests.request(deps.model, reason, deps.actor)
  deps.print(`retraining request #${id} filed for ${deps.model} (${reason})`)
  if (options.waitMs === undefined) return
  const deadline = Date.now() + options.waitMs
  for (;;) {
    const r = await deps.requests.get(id)
    if (r?.finishedAt) {
      if (r.error) throw new CliError(`request #${id} failed: ${r.error}`)
      deps.print(`request #${id} ${requestOutcome(r.version!, r.outcome)} (claimed by ${r.claimedBy})`)
      return
    }
    if (Date.now() >= deadline) throw new CliError(`request #${id} not finished after ${Math.round(options.waitMs / 1000)} s${r?.claimedBy ? ` (claimed by ${r.claimedBy})` : ' (no trainer claimed it)'}`)
    await new Promise((resolve) => setTimeout(resolve, deps.pollMs ?? 1000))
  }
}

/** What a finished request came to, in words; requests finished before outcomes were kept only name the version. */
function requestOutcome(version: string, outcome: TrainingOutcome | null): string {
  switch (outcome) {
    case 'live': return `trained ${version}, now live`
    case 'shadow': return `trained ${version}, now in shadow`
    case 'rejected': return `trained ${version}, rejected by the gate (models show ${version} says why)`
    case 'unchanged': return `trained the same model as ${version} (nothing changed since); nothing new registered`
    case 'skipped': return `trained nothing: the training window is too short to judge a candidate against live ${version} (models show ${version} says why)`
    default: return `trained ${version}`
  }
}

/** Moves a version to `status` and publishes it on model-control in the same transaction: the registry changes only if the record was sent. */
async function announce(deps: CommandDeps, version: string, role: DeploymentRole, phase: AuditPhase, reason: string, details: Record<string, unknown> = {}) {
  const status: ModelStatus = role
  const send = await deps.modelControl()
  try {
    const t = await setStatus(deps.pool, deps.model, version, status, {
      actor: deps.actor, phase, details: { ...details, reason },
      announce: (v, _replaced, from) => send(controlRecordsFor(v, role, reason, from)),
    })
    deps.print(`${deps.model}@${version} is ${role}${t.replaced ? `; ${t.replaced} retired` : ''} (model-control: ${reason})`)
  } catch (err) {
    if (err instanceof ModelRegistryError) throw new CliError(err.message)
    throw err
  }
}

async function requireVersion(deps: CommandDeps, version: string): Promise<ModelVersionRow> {
  const v = await getVersion(deps.pool, deps.model, version)
  if (!v) {
    const known = (await listVersions(deps.pool, deps.model)).slice(0, 5).map((k) => k.version)
    throw new CliError(`model ${deps.model} has no version ${version}${known.length ? `; newest: ${known.join(', ')}` : ''}`)
  }
  return v
}
