import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { waitUntilReachable } from '../../src/index.ts'

const unreachable = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
const refused = Object.assign(new Error('password authentication failed'), { code: '28P01' })
const isUnreachable = (err: unknown) => (err as { code?: string }).code === 'ECONNREFUSED'

function recordingLog() {
  const lines: Array<{ level: number; msg: string; attempt?: number }> = []
  return { lines, log: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }) }
}

describe('waitUntilReachable', () => {
  it('tries again while the dependency is not there, logging each wait, and returns what the probe gave', async () => {
    const { lines, log } = recordingLog()
    let tries = 0
    const result = await waitUntilReachable('the thing', async () => {
      if (++tries < 3) throw unreachable
      return 'answer'
    }, isUnreachable, log, { timeoutMs: 5_000, retryMs: 10 })
    expect(result).toBe('answer')
    expect(tries).toBe(3)
    expect(lines.map((l) => [l.level, l.msg, l.attempt])).toEqual([[40, 'waiting for the thing', 1], [40, 'waiting for the thing', 2], [30, 'the thing is reachable', undefined]])
  })

  it('throws a refusal at once, and the last failure when the time is up', async () => {
    const { lines, log } = recordingLog()
    let tries = 0
    await expect(waitUntilReachable('the thing', async () => {
      tries++
      throw refused
    }, isUnreachable, log, { timeoutMs: 5_000, retryMs: 10 })).rejects.toBe(refused)
    expect(tries).toBe(1)
    expect(lines).toEqual([])

    const started = Date.now()
    await expect(waitUntilReachable('the thing', async () => {
      throw unreachable
    }, isUnreachable, log, { timeoutMs: 2_500, retryMs: 50 })).rejects.toMatchObject({
      name: 'UnreachableError', message: 'the thing is not reachable after 3 s: connect ECONNREFUSED 127.0.0.1:1', cause: unreachable,
    })
    expect(Date.now() - started).toBeLessThan(4_500)
    expect(lines.length).toBeGreaterThanOrEqual(2)

    // A wrapped failure is told once, with the causes that add to it; with no time to wait, no time is named.
    const wrapped = new Error('', { cause: new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1', { cause: unreachable }) })
    await expect(waitUntilReachable('the broker', async () => {
      throw wrapped
    }, () => true, log, { timeoutMs: 0 })).rejects.toThrow(/^the broker is not reachable: Connection error: connect ECONNREFUSED 127\.0\.0\.1:1$/)
  })
})
