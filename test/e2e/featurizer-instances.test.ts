import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { topics, type FeatureRecord } from '@vigil/schemas'
import { OPENSSH_SAMPLE, type Pipeline, readLinesAsRecent, replayOverTcp, REPO_ROOT, startPipeline, uniquePrefix } from '@vigil/testkit'

/**
 * The OpenSSH sample as if three servers had logged it, so the lines spread over partitions and
 * instances: each source IP's sessions go to one server (as a load balancer with source affinity
 * would send them), and lines without an IP follow their sshd process.
 */
function asThreeHosts(lines: string[]): string[] {
  const hostOfPid = new Map<string, string>()
  return lines.map((line) => {
    const pid = /sshd\[(\d+)\]/.exec(line)?.[1] ?? ''
    const ip = /(\d+\.\d+\.\d+\.\d+)/.exec(line)?.[1]
    if (ip && !hostOfPid.has(pid)) hostOfPid.set(pid, `LabSZ${ip.split('.').reduce((n, o) => n + Number(o), 0) % 3}`)
    return line.replace(' LabSZ ', ` ${hostOfPid.get(pid) ?? 'LabSZ0'} `)
  })
}
const lines = asThreeHosts(readLinesAsRecent(OPENSSH_SAMPLE))

/** Features by line (and which occurrence of that line), so two runs with different offsets compare. */
async function featuresByLine(featurizers: number, pipelines: Pipeline[]): Promise<Map<string, FeatureRecord['vector']>> {
  const p = await startPipeline({
    stack: inject('stack'), prefix: uniquePrefix(`instances-${featurizers}`), logDir: join(REPO_ROOT, '.cache', 'test-logs', 'instances'),
    instances: { trainer: 0, scorer: 0, alerter: 0, featurizer: featurizers },
  })
  pipelines.push(p)
  await replayOverTcp('127.0.0.1', p.syslogTcpPort, lines)
  const features = await p.reader.readAll(topics.features, lines.length, 120_000)
  const byLine = new Map<string, FeatureRecord['vector']>()
  const seen = new Map<string, number>()
  for (const f of features.sort((a, b) => a.value.evidence.partition - b.value.evidence.partition || Number(a.value.evidence.offset) - Number(b.value.evidence.offset))) {
    const line = f.value.event.event.original
    const n = (seen.get(line) ?? 0) + 1
    seen.set(line, n)
    byLine.set(`${n}:${line}`, f.value.vector)
  }
  return byLine
}

describe('several featurizer instances in one consumer group', () => {
  const pipelines: Pipeline[] = []
  afterAll(async () => {
    await Promise.all(pipelines.map((p) => p.stop()))
  })

  it('give the same features as one instance for the same replay', async () => {
    const one = await featuresByLine(1, pipelines)
    const three = await featuresByLine(3, pipelines)
    expect(one.size).toBe(lines.length)
    expect(three.size).toBe(lines.length)
    const differences = [...one].flatMap(([line, vector]) => {
      const other = three.get(line) as Record<string, number> | undefined
      const fields = Object.entries(vector).filter(([name, value]) => other?.[name] !== value).map(([name, value]) => `${name} ${value} vs ${other?.[name]}`)
      return fields.length ? [`${line}: ${fields.join(', ')}`] : []
    })
    expect(differences.slice(0, 5)).toEqual([])
  })
})
