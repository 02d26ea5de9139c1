import { describe, expect, it, vi } from 'vitest'
import type { ModelVersionRow } from '@vigil/models'
import { dayOf, timestampOf } from '../../src/adapters/history-table.ts'
import { formatAge, formatTable, formatTime } from '../../src/cli/format-table.ts'
import { runModelsCli } from '../../src/cli/models-cli.ts'
import { modelControlRecord } from '../../src/model-control.ts'

const version: ModelVersionRow = {
  model: 'default', version: 'v7', algorithm: 'isolation-forest', createdAt: new Date(0), trainingRows: 10, windowStart: null, windowEnd: null,
  featureNames: ['a', 'b'], params: {}, metrics: {}, sha256: 'abc', status: 'trained', trainingDataHash: null, rejectionReason: null, promotedAt: null,
}

describe('model-control records from the CLI', () => {
  it('keys a live record by the model, as scorers and compaction expect', () => {
    const record = modelControlRecord(version, 'live', 'promoted', 1234)
    expect(record.key).toBe('default')
    expect(record.value).toMatchObject({ model: 'default', version: 'v7', algorithm: 'isolation-forest', sha256: 'abc', featureNames: ['a', 'b'], publishedAt: 1234, reason: 'promoted' })
  })

  it('gives a shadow record a key of its own, so compaction keeps the live one', () => {
    expect(modelControlRecord(version, 'shadow', 'shadow')).toMatchObject({ key: 'default/shadow', value: { role: 'shadow' } })
    expect(modelControlRecord(version, 'live', 'promoted').value).toMatchObject({ role: 'live' })
  })
})

describe('the CLI\'s usage', () => {
  it('is printed without any connection setting, for --help and for no command', async () => {
    const printed: string[] = []
    expect(await runModelsCli(['--help'], {}, (line) => printed.push(line))).toBe(0)
    expect(printed.join('\n')).toMatch(/^usage: npm run models/)
    expect(await runModelsCli([], {}, () => {})).toBe(2)
  })

  it('refuses an unknown command, a missing version or a bad timeout before reading a setting or connecting', async () => {
    const stderr: string[] = []
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => stderr.push(String(chunk)) > 0)
    try {
      // PG_URL points nowhere: a command that connected would fail with exit 1, not 2
      const env = { PG_URL: 'postgres://vigil@127.0.0.1:1/none' }
      expect(await runModelsCli(['frobnicate'], env, () => {})).toBe(2)
      expect(await runModelsCli(['show'], env, () => {})).toBe(2)
      expect(await runModelsCli(['retrain', '--timeout', 'soon'], env, () => {})).toBe(2)
    } finally {
      spy.mockRestore()
    }
    expect(stderr.map((line) => line.split('\n')[0])).toEqual([
      'models: unknown command frobnicate', 'models: show needs a version', 'models: --timeout must be a number of seconds, got soon',
    ])
  })
})

describe('CLI tables', () => {
  it('pads columns to their widest cell', () => {
    expect(formatTable(['A', 'LONG'], [['xyz', '1'], ['q', '22']])).toEqual(['A    LONG', 'xyz  1', 'q    22'])
  })

  it('prints times in UTC to the second, and ages roughly', () => {
    expect(formatTime(new Date(Date.UTC(2026, 10, 22, 3, 4, 5, 678)))).toBe('2026-11-22 03:04:05Z')
    expect(formatTime(null)).toBe('-')
    const now = Date.UTC(2026, 0, 10)
    expect([5_000, 600_000, 3 * 3_600_000, 5 * 86_400_000].map((ago) => formatAge(new Date(now - ago), now))).toEqual(['5s', '10m', '3h', '5d'])
  })
})

describe('history times', () => {
  it('names the UTC day of a time, and refuses times that are not times', () => {
    expect(dayOf(Date.UTC(2026, 0, 1, 23, 59, 59, 999))).toBe('2026-01-01')
    expect(dayOf(Date.UTC(2026, 0, 2))).toBe('2026-01-02')
    expect(timestampOf(0, 'eventTime')).toEqual(new Date(0))
    expect(() => timestampOf(Number.NaN, 'eventTime')).toThrow(/eventTime NaN/)
    expect(() => timestampOf(8.64e15, 'eventTime')).toThrow(/years 1 and 9999/)
    expect(() => timestampOf(Date.UTC(-1, 0, 1), 'receivedAt')).toThrow(/receivedAt/)
  })
})
