import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { Partitioners } from 'kafkajs'
import { dlqOf, topics } from '@vigil/schemas'
import { freePort, type Pipeline, readLogLines, replayOverTcp, REPO_ROOT, sendTcpBytes, startPipeline, uniquePrefix, waitFor, readZeekStream } from '@vigil/testkit'

// Every family's real samples (test/fixtures, each folder with its source and license) end to end
// through the ingestor (syslog TCP, Zeek TCP) or written to raw-logs as a shipper would (web logs as
// plain lines), and the typed share per family read from the featurizer's own metrics.
const fixtures = join(REPO_ROOT, 'test', 'fixtures')
const filesUnder = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
  const path = join(dir, name)
  if (statSync(path).isDirectory()) return filesUnder(path)
  return /README|LICENSE/.test(name) ? [] : [path]
})
const zeekFiles = [...filesUnder(join(fixtures, 'stratosphere-zeek')), ...filesUnder(join(fixtures, 'zeek-wrccdc2018'))]
const webFiles = [
  ...filesUnder(join(fixtures, 'sotm34-honeynet', 'http')),
  join(fixtures, 'loghub', 'Apache_2k.log'),
]
const syslogLines = [
  ...readLogLines(join(fixtures, 'loghub', 'Linux_2k.log')),
  ...filesUnder(join(fixtures, 'sotm34-honeynet', 'syslog')).flatMap(readLogLines),
  ...gunzipSync(readFileSync(join(fixtures, 'sotm34-honeynet', 'iptables', 'iptablesyslog-sample.gz'))).toString('utf8').split(/\r?\n/).filter(Boolean),
]

/** app_events_total{family,parsed} of every featurizer instance, summed. */
async function eventsByFamily(pipeline: Pipeline): Promise<Map<string, { parsed: number; unparsed: number }>> {
  const byFamily = new Map<string, { parsed: number; unparsed: number }>()
  for (const f of pipeline.services.featurizer) {
    for (const m of (await f.metrics()).matchAll(/^app_events_total\{([^}]*)\} (\d+)/gm)) {
      const family = /family="([^"]+)"/.exec(m[1]!)![1]!
      const entry = byFamily.get(family) ?? { parsed: 0, unparsed: 0 }
      if (m[1]!.includes('parsed="true"')) entry.parsed += Number(m[2])
      else entry.unparsed += Number(m[2])
      byFamily.set(family, entry)
    }
  }
  return byFamily
}

describe('every family, end to end', () => {
  let pipeline: Pipeline
  let sent = 0
  beforeAll(async () => {
    const zeekPort = await freePort()
    pipeline = await startPipeline({
      stack: inject('stack'), prefix: uniquePrefix('families'), logDir: join(REPO_ROOT, '.cache', 'test-logs', 'families'),
      instances: { trainer: 0, scorer: 0, alerter: 0 }, env: { ZEEK_TCP_PORT: String(zeekPort), ZEEK_TCP_BIND: '127.0.0.1' },
    })
    // Zeek: one connection per file, as a Zeek host streams a log: TSV with its headers, or JSON
    // lines, whose log type the sender announces first (Zeek's JSON lines carry no _path by default).
    for (const file of zeekFiles) {
      const stream = readZeekStream(file)
      if (!stream) throw new Error(`${file} is not read as Zeek output`)
      const { bytes, records } = stream
      await sendTcpBytes('127.0.0.1', zeekPort, bytes)
      sent += records
    }
    // Web logs: plain lines on raw-logs, as kcat or rsyslog's imfile would write them.
    const producer = pipeline.reader.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    for (const file of webFiles) {
      const lines = readLogLines(file)
      for (let i = 0; i < lines.length; i += 500) {
        await producer.send({ topic: pipeline.reader.kafkaName(topics.rawLogs), messages: lines.slice(i, i + 500).map((l) => ({ key: 'www', value: l })) })
      }
      sent += lines.length
    }
    await producer.disconnect()
    // Syslog from hosts: PAM/su, sshd, kernel firewall lines.
    await replayOverTcp('127.0.0.1', pipeline.syslogTcpPort, syslogLines, 0)
    sent += syslogLines.length
  })
  afterAll(async () => {
    await pipeline?.stop()
  })

  it('yields a feature record for every line (or a dead letter with its reason)', async () => {
    const { reader } = pipeline
    await waitFor('every line featurized or dead-lettered', async () =>
      (await reader.count(topics.features)) + (await reader.count(dlqOf(topics.rawLogs))) >= sent, 180_000, 1_000)
    const deadLettered = await reader.readAll(dlqOf(topics.rawLogs))
    for (const d of deadLettered) expect(d.value.errorMessage.length).toBeGreaterThan(5)
    expect(await reader.count(topics.features) + deadLettered.length).toBe(sent)
    // Real samples: at most a handful of lines are not text (one scanner request carries raw control bytes).
    expect(deadLettered.length).toBeLessThanOrEqual(5)
  })

  it('parses the lines of each family into typed events', async () => {
    const byFamily = await waitFor('the featurizer metrics', async () => {
      const m = await eventsByFamily(pipeline)
      const total = [...m.values()].reduce((n, e) => n + e.parsed + e.unparsed, 0)
      return total >= (await pipeline.reader.count(topics.features)) ? m : undefined
    }, 30_000)
    console.log('family     events   typed share')
    for (const [family, { parsed, unparsed }] of [...byFamily].sort()) {
      console.log(`${family.padEnd(10)} ${String(parsed + unparsed).padStart(6)}   ${((100 * parsed) / (parsed + unparsed)).toFixed(1)}%`)
    }
    const share = (family: string) => { const e = byFamily.get(family)!; return e.parsed / (e.parsed + e.unparsed) }
    expect(share('zeek')).toBe(1)
    expect(share('web')).toBe(1)
    expect(share('sshd')).toBeGreaterThanOrEqual(0.99)
    expect(share('firewall')).toBe(1)
    expect(share('privilege')).toBe(1)
  })
  it('counts sshd\'s PAM failures as the attempts of a host that writes no sshd verdicts', async () => {
    // loghub's Linux sample is a Red Hat /var/log/messages: `sshd(pam_unix)` lines only, the verdicts
    // went to /var/log/secure. 150.183.249.110 failed 80 times within two minutes.
    const features = await pipeline.reader.readAll(topics.features)
    const burst = features.filter((f) => f.value.event.source?.ip === '150.183.249.110').map((f) => f.value.vector)
    expect(burst).toHaveLength(80)
    expect(Math.max(...burst.map((v) => v.auth_failures))).toBe(80)
    expect(Math.max(...burst.map((v) => v.auth_attempts))).toBe(80)
    expect(burst.every((v) => v.auth_failure_ratio === 1)).toBe(true)
    // Marked so for the rules too, which count attempts as the windows do.
    expect(features.filter((f) => f.value.event.source?.ip === '150.183.249.110').every((f) => f.value.event.ssh?.attempt === true)).toBe(true)
  })

  it('files a client that sshd\'s PAM lines name by host name under that name, with its own windows', async () => {
    // 23 failures within two minutes from a client pam_unix wrote as rhost=n219076184117.netvigator.com:
    // until now they joined the windows of the server, combo, with every other client named so.
    const features = await pipeline.reader.readAll(topics.features)
    const named = features.filter((f) => f.value.event.event.original.includes('rhost=n219076184117.netvigator.com')).map((f) => f.value)
    expect(named).toHaveLength(23)
    expect(named.every((f) => f.entity.kind === 'source.domain' && f.entity.id === 'n219076184117.netvigator.com')).toBe(true)
    expect(Math.max(...named.map((f) => f.vector.auth_failures))).toBe(23)
  })
})
