import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { dlqOf, topics } from '@vigil/schemas'
import { freePort, REPO_ROOT, sendTcpBytes, startPipeline, uniquePrefix, waitFor, type Pipeline } from '@vigil/testkit'

const fixture = (file: string) => join(REPO_ROOT, 'test', 'fixtures', file)
const dataLines = (path: string) => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'))

// Real Zeek samples into the real ingestor and featurizer: TSV and JSON over TCP, TSV from a tailed directory.
const OVER_TCP = [
  fixture('stratosphere-zeek/001-zeek-scenario-malicious/conn.log'),
  fixture('zeek-wrccdc2018/zeek-default/ssh.log'),
  fixture('zeek-wrccdc2018/zeek-json/notice.json'),
]
const IN_DIR = fixture('stratosphere-zeek/005-zeek-scenario-malicious/dns.log')

describe('Zeek input, end to end through the ingestor and featurizer', () => {
  let pipeline: Pipeline
  let zeekPort: number
  let logDir: string
  beforeAll(async () => {
    zeekPort = await freePort()
    logDir = mkdtempSync(join(tmpdir(), 'zeek-input-'))
    mkdirSync(join(logDir, 'logs'))
    pipeline = await startPipeline({
      stack: inject('stack'), prefix: uniquePrefix('zeek'), logDir: join(REPO_ROOT, '.cache', 'test-logs', 'zeek-input'),
      instances: { trainer: 0, scorer: 0, alerter: 0 },
      env: { ZEEK_TCP_PORT: String(zeekPort), ZEEK_TCP_BIND: '127.0.0.1', ZEEK_LOG_DIR: join(logDir, 'logs'), ZEEK_STATE_FILE: join(logDir, 'state.json'), ZEEK_POLL_MS: '200' },
    })
  })
  afterAll(async () => {
    const stopped = await pipeline?.stop()
    for (const s of stopped ?? []) expect(s.code, `${s.name} exit code`).toBe(0)
    rmSync(logDir, { recursive: true, force: true })
  })

  it('turns every line of a Zeek sample sent over TCP or written to the log directory into a zeek feature record', async () => {
    const { reader } = pipeline
    await Promise.all(OVER_TCP.map((path) => sendTcpBytes('127.0.0.1', zeekPort, readFileSync(path))))
    copyFileSync(IN_DIR, join(logDir, 'logs', 'dns.log'))

    const expected = [...OVER_TCP, IN_DIR].flatMap(dataLines)
    const raw = await reader.readAll(topics.rawLogs, expected.length, 60_000)
    expect(await reader.count(dlqOf(topics.rawLogs))).toBe(0)
    expect(raw.map((r) => r.value.line).sort()).toEqual([...expected].sort())
    for (const { value } of raw) {
      expect(value.syslog ?? null).toBeNull()
      expect(value.transport).toBe(value.zeek?.log === 'dns' ? 'file' : 'zeek-tcp')
    }

    const features = await reader.readAll(topics.features, raw.length, 90_000)
    expect(features).toHaveLength(raw.length)
    const byLog = new Map<string, number>()
    for (const { value } of features) {
      expect(value.family).toBe('zeek')
      expect(value.event.event.action).toMatch(/^zeek_(conn|ssh|notice|dns)$/)
      byLog.set(value.event.event.action, (byLog.get(value.event.event.action) ?? 0) + 1)
    }
    expect(Object.fromEntries(byLog)).toEqual({
      zeek_conn: dataLines(OVER_TCP[0]!).length, zeek_ssh: dataLines(OVER_TCP[1]!).length,
      zeek_notice: dataLines(OVER_TCP[2]!).length, zeek_dns: dataLines(IN_DIR).length,
    })
    // The tailer saved its position once the lines were in Kafka.
    await waitFor('the tailer state to cover dns.log', async () => {
      const state = JSON.parse(readFileSync(join(logDir, 'state.json'), 'utf8')) as { files: Array<{ path: string; offset: number }> }
      return state.files.some((f) => f.path.endsWith('dns.log') && f.offset === readFileSync(IN_DIR).length)
    }, 10_000)
  })
})
