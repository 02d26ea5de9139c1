import { describe, expect, it } from 'vitest'
import type { AlertEvidence } from '@vigil/schemas'
import { citedEvidence, foldedEvidence } from '../../src/alert-evidence.ts'

const line = (i: number): AlertEvidence => ({ eventId: `raw-logs/0/${i}`, topic: 'raw-logs', partition: 0, offset: String(i), line: `line ${i}` })
const offsets = (evidence: readonly AlertEvidence[]) => evidence.map((e) => Number(e.offset))

describe('an alert\'s evidence', () => {
  it('cites each event once, in order, up to the cap', () => {
    expect(offsets(citedEvidence([line(3), line(1), line(3), line(2)], 10))).toEqual([3, 1, 2])
    expect(offsets(citedEvidence([line(3), line(1), line(2)], 2))).toEqual([3, 1])
  })

  it('keeps the event its body describes first when a later one scores higher, however full it is', () => {
    // Ten failures fill the cap (the alert opened with the first), then more come, the 13th scoring highest.
    let cited = [line(0)]
    for (let i = 1; i < 12; i++) cited = foldedEvidence(cited, [line(i)], false, 10)
    expect(offsets(cited)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    cited = foldedEvidence(cited, [line(12)], true, 10)
    // the body's event, then the one it displaced (the opening event) and the earliest others
    expect(offsets(cited)).toEqual([12, 0, 1, 2, 3, 4, 5, 6, 7, 8])
    expect(offsets(foldedEvidence(cited, [line(13)], false, 10))).toEqual(offsets(cited))
  })

  it('folds a raising of several lines (a correlated alert) with its own body\'s event first, each event once', () => {
    const cited = [line(1), line(2), line(3)]
    expect(offsets(foldedEvidence(cited, [line(9), line(2), line(4)], true, 10))).toEqual([9, 1, 2, 3, 4])
    expect(offsets(foldedEvidence(cited, [line(9), line(2), line(4)], false, 10))).toEqual([1, 2, 3, 9, 4])
    expect(offsets(foldedEvidence(cited, [line(3)], true, 10))).toEqual([3, 1, 2]) // a body's event cited already moves first
  })
})
