import { describe, expect, it } from 'vitest'
import { averagePrecision, detectionMetrics, recallAtFpr, rocAuc } from '../../src/detection-metrics.ts'

// Expected values from scikit-learn (1.7.2 and 1.9.1 agree): roc_auc_score, average_precision_score, and
// roc_curve(y, s, drop_intermediate=False) → max(tpr[fpr <= 0.01]).
describe('detection metrics agree with scikit-learn', () => {
  it('on the example of the roc_auc_score documentation', () => {
    const m = detectionMetrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    expect(m.rocAuc).toBeCloseTo(0.75, 12)
    expect(m.prAuc).toBeCloseTo(0.8333333333333333, 12)
    expect(m.recallAt1PctFpr).toBe(0.5)
  })

  it('with tied scores across the classes', () => {
    const m = detectionMetrics([0, 1, 0, 1, 1, 0, 0, 1], [0.5, 0.5, 0.2, 0.9, 0.2, 0.1, 0.5, 0.7])
    expect(m.rocAuc).toBeCloseTo(0.78125, 12)
    expect(m.prAuc).toBeCloseTo(0.7928571428571428, 12)
    expect(m.recallAt1PctFpr).toBe(0.5)
  })

  it('at the 1% false-positive boundary (2 of 200 benign rows may be flagged, a third may not)', () => {
    const benign = Array.from({ length: 200 }, (_, i) => ((i * 37) % 200) / 200)
    const attacks = [0.999, 0.998, 0.997, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.995, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9, 0.991, 0.992, 0.0, 0.25]
    const labels = [...benign.map(() => 0), ...attacks.map(() => 1)]
    const m = detectionMetrics(labels, [...benign, ...attacks])
    expect(m.rocAuc).toBeCloseTo(0.566125, 12)
    expect(m.prAuc).toBeCloseTo(0.35427505705324425, 12)
    expect(m.recallAt1PctFpr).toBeCloseTo(0.3, 12)
  })
})

describe('detection metrics', () => {
  const labels = [1, 0, 1, 1, 0, 0, 1, 0, 0, 0]
  const scores = [0.9, 0.1, 0.8, 0.3, 0.35, 0.2, 0.7, 0.6, 0.05, 0.4]

  it('depend only on the order of the scores', () => {
    const squashed = scores.map((s) => Math.exp(10 * s) - 3)
    expect(detectionMetrics(labels, squashed)).toEqual(detectionMetrics(labels, scores))
  })

  it('give 1 for a perfect ranking and ROC-AUC 0 for the reversed one', () => {
    const perfect = labels.map((l, i) => l + i / 100)
    expect(detectionMetrics(labels, perfect)).toEqual({ rocAuc: 1, prAuc: 1, recallAt1PctFpr: 1 })
    expect(rocAuc(labels, perfect.map((s) => -s))).toBe(0)
  })

  it('count a constant score as chance: ROC-AUC ½, precision the attack share, nothing found at 1% FPR', () => {
    const constant = labels.map(() => 1)
    expect(rocAuc(labels, constant)).toBe(0.5)
    expect(averagePrecision(labels, constant)).toBeCloseTo(0.4, 12)
    expect(recallAtFpr(labels, constant, 0.01)).toBe(0)
  })

  it('reject one-class labels, labels other than 0/1 and scores that are not finite', () => {
    expect(() => rocAuc([1, 1], [0.1, 0.2])).toThrow(/both classes/)
    expect(() => rocAuc([0, 2], [0.1, 0.2])).toThrow(/labels are 0 or 1/)
    expect(() => averagePrecision([0, 1], [0.1, NaN])).toThrow(/not a finite number/)
    expect(() => recallAtFpr([0, 1], [0.1], 0.01)).toThrow(/2 labels but 1 scores/)
  })
})
