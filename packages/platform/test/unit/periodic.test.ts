import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { startPeriodic } from '../../src/periodic.ts'

describe('startPeriodic', () => {
  beforeEach(() => void vi.useFakeTimers())
  afterEach(() => void vi.useRealTimers())

  it('runs at once, then an interval after each run ends, never two at once; a failed run is logged and the next comes', async () => {
    const events: string[] = []
    const errors: unknown[] = []
    let n = 0
    const job = startPeriodic('the job', 1_000, async () => {
      const run = ++n
      events.push(`start ${run}`)
      await new Promise((resolve) => setTimeout(resolve, 1_500)) // longer than the interval
      events.push(`end ${run}`)
      if (run === 2) throw new Error('boom')
    }, { error: (obj: unknown, msg?: string) => void errors.push([obj, msg]) } as never)
    expect(events).toEqual(['start 1'])
    await vi.advanceTimersByTimeAsync(1_500 + 999)
    expect(events).toEqual(['start 1', 'end 1'])
    await vi.advanceTimersByTimeAsync(1)
    expect(events).toEqual(['start 1', 'end 1', 'start 2'])
    await vi.advanceTimersByTimeAsync(1_500 + 1_000)
    expect(events).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3'])
    expect(errors).toEqual([[{ err: new Error('boom') }, 'the job failed']])

    // close waits for the run in progress, which sees it is stopping; no run comes after
    const closed = job.close()
    await vi.advanceTimersByTimeAsync(1_500)
    await closed
    await vi.advanceTimersByTimeAsync(10_000)
    expect(events).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3'])
  })

  it('tells the run in progress it is stopping', async () => {
    const seen: boolean[] = []
    const job = startPeriodic('the job', 1_000, async (isStopping) => {
      seen.push(isStopping())
      await new Promise((resolve) => setTimeout(resolve, 100))
      seen.push(isStopping())
    }, { error: () => {} } as never)
    const closed = job.close()
    await vi.advanceTimersByTimeAsync(100)
    await closed
    expect(seen).toEqual([false, true])
  })
})
