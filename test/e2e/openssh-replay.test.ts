import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { dlqOf, topics } from '@vigil/schemas'
import { OPENSSH_SAMPLE, type Pipeline, readLinesAsRecent, replayOverTcp, REPO_ROOT, startPipeline, toSyslog, uniquePrefix, waitFor } from '@vigil/testkit'

// The whole real OpenSSH sample (loghub, 2,000 lines) through syslog TCP and all five services.
const lines = readLinesAsRecent(OPENSSH_SAMPLE)

/** Source IPs by failed password attempts in the sample, most first: the ground truth, read from the file itself. */
function failedLoginsBySource(): Array<[string, number]> {
  const counts = new Map<string, number>()
  for (const line of lines) {
    const m = /Failed password for (?:invalid user )?\S+ from (\d+\.\d+\.\d+\.\d+)/.exec(line)
    if (m) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1)
  }
  return [...counts].sort((a, b) => b[1] - a[1])
}

describe('the OpenSSH sample, end to end', () => {
  let pipeline: Pipeline
  beforeAll(async () => {
    pipeline = await startPipeline({
      stack: inject('stack'), prefix: uniquePrefix('e2e'), logDir: join(REPO_ROOT, '.cache', 'test-logs', 'e2e'),
      env: { MODEL_TARGET_ALERT_RATE: '0.01' }, // as the main job runs it: a short history alerts on its top 1%
    })
    await replayOverTcp('127.0.0.1', pipeline.syslogTcpPort, lines)
  })
  afterAll(async () => {
    const stopped = await pipeline?.stop()
    // Every service shuts down cleanly on SIGTERM, within the 10 s budget.
    for (const s of stopped ?? []) {
      expect(s.code, `${s.name} exit code`).toBe(0)
      expect(s.ms, `${s.name} shutdown time`).toBeLessThan(10_000)
    }
  })

  it('accounts for every line at every topic: lines in = events out + dead-lettered', async () => {
    const { reader } = pipeline
    const rawDlq = dlqOf(topics.rawLogs)
    await waitFor('every line to reach raw-logs or its dead-letter topic', async () =>
      (await reader.count(topics.rawLogs)) + (await reader.count(rawDlq)) >= lines.length, 60_000)
    const raw = await reader.readAll(topics.rawLogs)
    const deadLettered = await reader.readAll(rawDlq)
    const atEdge = deadLettered.filter((d) => d.value.service === 'ingestor').length
    expect(raw.length + atEdge).toBe(lines.length)
    // The real sample is well-formed syslog: nothing should be rejected at the edge.
    expect(atEdge).toBe(0)
    expect(raw.map((r) => r.value.line).sort()).toEqual(lines.map((l) => toSyslog(l)).sort())

    const inFeaturizer = deadLettered.filter((d) => d.value.service === 'featurizer').length
    const features = await reader.readAll(topics.features, raw.length - inFeaturizer, 90_000)
    expect(new Set(features.map((f) => f.value.eventId)).size).toBe(raw.length - inFeaturizer)
    expect(features.length).toBe(raw.length - inFeaturizer)

    const scoreDlq = await reader.readAll(dlqOf(topics.features))
    const scores = await reader.readAll(topics.scores, features.length - scoreDlq.length, 120_000)
    expect(new Set(scores.map((s) => s.value.eventId)).size).toBe(features.length - scoreDlq.length)
    expect(scores.length).toBe(features.length - scoreDlq.length)
    // Every event traces back to its raw line.
    const rawByOffset = new Map(raw.map((r) => [`${r.partition}/${r.offset}`, r.value.line]))
    for (const s of scores) expect(rawByOffset.get(`${s.value.evidence.partition}/${s.value.evidence.offset}`)).toBe(s.value.evidence.line)
    // ...and names the users its event names, which user suppressions match.
    const usersOf = new Map(features.map((f) => [f.value.eventId, f.value.event.related?.user ?? []]))
    for (const s of scores) expect(s.value.evidence.users).toEqual(usersOf.get(s.value.eventId))
    expect(scores.filter((s) => s.value.evidence.users?.length).length).toBeGreaterThan(scores.length / 2)
  })

  it('places each connection\'s lines that name no client at its client\'s address, and counts the first attempt once', async () => {
    const features = (await pipeline.reader.readAll(topics.features, lines.length, 90_000)).map((f) => f.value) // the sample has no line to dead-letter
      .filter((f) => f.family === 'sshd').sort((a, b) => Number(a.evidence.offset) - Number(b.evidence.offset))
    // The sample's first connection, sshd[24200]: "Invalid user webmaster from 173.234.31.186", then
    // its preauth and pam_unix lines, which name no address, then the failed password.
    const first = features.filter((f) => f.event.process?.pid === 24200)
    expect(first.length).toBeGreaterThanOrEqual(6)
    expect(new Set(first.map((f) => f.entity.id))).toEqual(new Set(['173.234.31.186']))
    // One failed password, one attempt: its Invalid user line counted it; neither its pam_unix line,
    // which stood alone (the host's first), nor its verdict counts again.
    expect(Math.max(...first.map((f) => f.vector.auth_attempts))).toBe(1)
    // Every line of a connection after one that named its client, the client's.
    const clientOf = new Map<number, string>()
    let placed = 0
    for (const f of features) {
      const pid = f.event.process?.pid
      if (pid === undefined || pid === null) continue
      const named = /(?:from|rhost=|\[)(\d+\.\d+\.\d+\.\d+)/.exec(f.event.event.original)?.[1]
      if (named) clientOf.set(pid, named)
      else if (clientOf.has(pid)) {
        expect(f.entity, f.event.event.original).toEqual({ kind: 'source.ip', id: clientOf.get(pid) })
        placed++
      }
    }
    expect(placed).toBeGreaterThan(100)
  })

  it('raises alerts for the sources with the most failed logins', async () => {
    // The model trains on this sample, brute force included (nothing flagged it): it still singles
    // out the heaviest sources, though not necessarily each of them.
    const top = failedLoginsBySource().slice(0, 3)
    const { reader } = pipeline
    const alerted = await waitFor('alerts for the heaviest brute-force source and most of the top three', async () => {
      const alerts = await reader.readAll(topics.alerts)
      const entities = new Set(alerts.map((a) => a.value.entity.id))
      return entities.has(top[0]![0]) && top.filter(([ip]) => entities.has(ip)).length >= 2 ? alerts : undefined
    }, 60_000, 1_000)
    for (const [ip] of top.filter(([source]) => alerted.some((a) => a.value.entity.id === source))) {
      const alert = alerted.find((a) => a.value.entity.id === ip)!.value
      expect(alert.score).toBeGreaterThanOrEqual(alert.threshold)
      expect(alert.evidence[0]!.line).toContain(ip)
      expect(alert.features.auth_failures).toBeGreaterThan(0)
      expect(alert.reasons ?? []).not.toHaveLength(0) // every alert says why, e.g. "auth_failures 41, training p99 12"
    }
    // Alerts are deduplicated per entity and window: far fewer than the events over the threshold.
    expect(alerted.length).toBeLessThan(50)
  })

  it('fires the SSH brute-force correlation on the heaviest source, joins it with the model\'s alert, and every alert traces to its raw lines', async () => {
    const { reader } = pipeline
    const [heaviest] = failedLoginsBySource()[0]!
    const bruteForce = `sigma:${BRUTE_FORCE_RULE}`
    const alerts = await waitFor('a brute-force correlation alert and a correlated alert for the heaviest source', async () => {
      const all = (await reader.readAll(topics.alerts)).map((a) => a.value)
      const of = (detector: string) => all.find((a) => a.detector === detector && a.entity.id === heaviest)
      return of(bruteForce) && of('correlated') ? all : undefined
    }, 60_000, 1_000)
    const rule = alerts.find((a) => a.detector === bruteForce && a.entity.id === heaviest)!
    expect(rule.severity).toBe('high') // the rule's level
    expect((rule.rules ?? []).map((r) => [r.kind, r.id, r.author])).toEqual([['correlation', BRUTE_FORCE_RULE, 'Vigil'], ['detection', FAILED_LOGIN_RULE, 'Vigil']])
    expect(rule.evidence.length).toBeGreaterThanOrEqual(2)
    const correlated = alerts.find((a) => a.detector === 'correlated' && a.entity.id === heaviest)!
    expect(correlated.severity).toBe('critical') // a step above the rule's high
    expect((correlated.rules ?? []).map((r) => r.id)).toContain(BRUTE_FORCE_RULE)
    expect((correlated.explanations ?? []).length).toBeGreaterThan(0) // and the model's reasons, with values and baselines
    // Every alert's evidence is a raw-logs record, found at the partition and offset it names.
    const raw = new Map((await reader.readAll(topics.rawLogs)).map((r) => [`${r.partition}/${r.offset}`, r.value.line]))
    for (const a of alerts) for (const e of a.evidence) expect(raw.get(`${e.partition}/${e.offset}`), `${a.detector} evidence`).toBe(e.line)
    // ...and names the users its event names, whichever detector cites it.
    const usersOf = new Map((await reader.readAll(topics.features)).map((f) => [f.value.eventId, f.value.event.related?.user ?? []]))
    for (const a of alerts) for (const e of a.evidence) expect(e.users, `${a.detector} evidence users`).toEqual(usersOf.get(e.eventId))
  })
})

// services/alerter/rules/vigil/ssh-brute-force.yml
const FAILED_LOGIN_RULE = '5b0d6c1e-7a43-4f2e-9c8b-1e6f3a2d4c01'
const BRUTE_FORCE_RULE = '5b0d6c1e-7a43-4f2e-9c8b-1e6f3a2d4c02'
