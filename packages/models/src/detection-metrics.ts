/**
 * Detection metrics over anomaly scores (higher = more anomalous) and binary labels (1 = attack),
 * defined as scikit-learn defines them, so the TypeScript rows and the Python peers' rows of the
 * benchmark's tables mean the same thing.
 */

export interface DetectionMetrics {
  /** area under the ROC curve; tied scores count one half (sklearn.metrics.roc_auc_score) */
  rocAuc: number
  /** average precision, the step-wise area under the precision-recall curve (sklearn.metrics.average_precision_score) */
  prAuc: number
  /** the largest share of attacks found at a threshold that flags at most 1% of the benign rows */
  recallAt1PctFpr: number
}

export function detectionMetrics(labels: ArrayLike<number>, scores: ArrayLike<number>): DetectionMetrics {
  return { rocAuc: rocAuc(labels, scores), prAuc: averagePrecision(labels, scores), recallAt1PctFpr: recallAtFpr(labels, scores, 0.01) }
}

/** Mann–Whitney U over average ranks: P(score of a random attack > score of a random benign row) + ½ P(tie). */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const { positives, negatives } = countClasses(labels, scores)
  const order = ascendingOrder(scores)
  let positiveRankSum = 0
  for (let start = 0; start < order.length;) {
    let end = start
    while (end < order.length && scores[order[end]!] === scores[order[start]!]) end++
    const averageRank = (start + 1 + end) / 2 // ranks start at 1; a tie group shares its mean rank
    for (let k = start; k < end; k++) if (labels[order[k]!] === 1) positiveRankSum += averageRank
    start = end
  }
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives)
}

/** Σ (Rₙ − Rₙ₋₁) · Pₙ over the distinct score thresholds, highest first (no interpolation). */
export function averagePrecision(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const { positives } = countClasses(labels, scores)
  let ap = 0
  let truePositives = 0
  let flagged = 0
  for (const group of thresholdGroups(labels, scores)) {
    const recallBefore = truePositives / positives
    truePositives += group.positives
    flagged += group.size
    ap += (truePositives / positives - recallBefore) * (truePositives / flagged)
  }
  return ap
}

/** The highest recall over thresholds whose false-positive rate is at most `maxFpr` (0 when even the top group exceeds it). */
export function recallAtFpr(labels: ArrayLike<number>, scores: ArrayLike<number>, maxFpr: number): number {
  const { positives, negatives } = countClasses(labels, scores)
  let truePositives = 0
  let falsePositives = 0
  let best = 0
  for (const group of thresholdGroups(labels, scores)) {
    truePositives += group.positives
    falsePositives += group.size - group.positives
    if (falsePositives / negatives > maxFpr) break
    best = truePositives / positives
  }
  return best
}

/** Rows grouped by equal score, highest score first: a threshold flags whole groups. */
function* thresholdGroups(labels: ArrayLike<number>, scores: ArrayLike<number>): Generator<{ size: number; positives: number }> {
  const order = ascendingOrder(scores).reverse()
  for (let start = 0; start < order.length;) {
    let end = start
    let positives = 0
    while (end < order.length && scores[order[end]!] === scores[order[start]!]) positives += labels[order[end++]!] === 1 ? 1 : 0
    yield { size: end - start, positives }
    start = end
  }
}

function ascendingOrder(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!)
}

function countClasses(labels: ArrayLike<number>, scores: ArrayLike<number>): { positives: number; negatives: number } {
  if (labels.length !== scores.length) throw new Error(`${labels.length} labels but ${scores.length} scores`)
  let positives = 0
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]
    if (label !== 0 && label !== 1) throw new Error(`label ${label} at row ${i}: labels are 0 or 1`)
    if (!Number.isFinite(scores[i]!)) throw new Error(`score ${scores[i]} at row ${i} is not a finite number`)
    positives += label
  }
  const negatives = labels.length - positives
  if (positives === 0 || negatives === 0) throw new Error(`need both classes, got ${positives} attacks and ${negatives} benign rows`)
  return { positives, negatives }
}
