import { seededRandom } from '../../../packages/models/src/detector.ts'

/** Feature rows and their labels (1 = attack, 0 = benign), row for row. */
export interface LabeledRows {
  rows: number[][]
  labels: number[]
}

/** One labeled set as every candidate sees it: the same matrices for the TypeScript members and the Python peers. */
export interface PreparedDataset {
  name: string
  /** how the matrix was made: source, features, label, split; printed in the report */
  description: string
  featureNames: string[]
  train: LabeledRows
  test: LabeledRows
  /** featurized sets: events per log family the featurizer gave them (plus lines it dead-lettered) */
  families?: Record<string, number>
}

/** A seeded shuffle cut in two: for sets whose rows carry no time. */
export function seededSplit(data: LabeledRows, seed: number, trainShare = 0.5): { train: LabeledRows; test: LabeledRows } {
  const random = seededRandom(seed)
  const order = data.rows.map((_, i) => i)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  const cut = Math.round(order.length * trainShare)
  return { train: pick(data, order.slice(0, cut)), test: pick(data, order.slice(cut)) }
}

/** The first `trainShare` of the rows (in the order given: time, or file position) trains, the rest tests. */
export function orderedSplit(data: LabeledRows, trainShare = 0.5): { train: LabeledRows; test: LabeledRows } {
  const cut = Math.round(data.rows.length * trainShare)
  return {
    train: { rows: data.rows.slice(0, cut), labels: data.labels.slice(0, cut) },
    test: { rows: data.rows.slice(cut), labels: data.labels.slice(cut) },
  }
}

/** Concatenates splits made part by part (one per capture or file), keeping each part's train and test apart. */
export function concatSplits(parts: Array<{ train: LabeledRows; test: LabeledRows }>): { train: LabeledRows; test: LabeledRows } {
  const join = (which: 'train' | 'test'): LabeledRows => ({
    rows: parts.flatMap((p) => p[which].rows),
    labels: parts.flatMap((p) => p[which].labels),
  })
  return { train: join('train'), test: join('test') }
}

function pick(data: LabeledRows, indices: number[]): LabeledRows {
  return { rows: indices.map((i) => data.rows[i]!), labels: indices.map((i) => data.labels[i]!) }
}

/**
 * One-hot columns for a categorical column: one per value held by at least `minShare` of the rows,
 * plus `<name>=(other)`. Decided from the values alone, never the labels.
 */
export function oneHotEncoder(name: string, values: readonly string[], minShare = 0.01): { names: string[]; encode(value: string): number[] } {
  const counts = new Map<string, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  const kept = [...counts].filter(([, n]) => n >= minShare * values.length).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([v]) => v)
  const index = new Map(kept.map((v, i) => [v, i]))
  return {
    names: [...kept.map((v) => `${name}=${v}`), `${name}=(other)`],
    encode(value) {
      const out = new Array<number>(kept.length + 1).fill(0)
      out[index.get(value) ?? kept.length] = 1
      return out
    },
  }
}

/**
 * log1p of every column among `columns` (all when omitted) that is never negative: byte and packet
 * counts span orders of magnitude; rates in [0,1] barely change.
 */
export function log1pNonNegativeColumns(rows: number[][], columns?: readonly boolean[]): number[][] {
  const width = rows[0]?.length ?? 0
  const apply = Array.from({ length: width }, (_, c) => (columns?.[c] ?? true) && rows.every((r) => r[c]! >= 0))
  return rows.map((r) => r.map((x, c) => (apply[c] ? Math.log1p(x) : x)))
}

/** Drops columns that hold one value in every row: they carry nothing and some models divide by their spread. */
export function dropConstantColumns(featureNames: string[], rows: number[][]): { featureNames: string[]; rows: number[][] } {
  const keep = featureNames.map((_, c) => rows.some((r) => r[c] !== rows[0]![c]))
  return { featureNames: featureNames.filter((_, c) => keep[c]), rows: rows.map((r) => r.filter((_, c) => keep[c])) }
}
