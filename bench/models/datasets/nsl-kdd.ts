import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SHARED_DATA_DIR } from './dataset-files.ts'
import { dropConstantColumns, log1pNonNegativeColumns, oneHotEncoder, seededSplit, type PreparedDataset } from './labeled-matrix.ts'

const FOLDER = join(SHARED_DATA_DIR, 'nsl-kdd')
const SPLIT_SEED = 20240501

/**
 * NSL-KDD's 20% training subset (25,192 connections; 43 columns without header: 41 features, the
 * attack name, the difficulty). Symbolic columns are one-hot encoded over values held by ≥1% of the
 * rows (+ other); continuous columns go through log1p; the label is attack name ≠ `normal`; the
 * difficulty is dropped. No time in the rows: a seeded 50/50 split.
 */
export function prepareNslKdd(): PreparedDataset {
  const fields = readFileSync(join(FOLDER, 'field_names.csv'), 'utf8').trim().split('\n').map((l) => {
    const [name, kind] = l.trim().split(',') as [string, string]
    return { name, symbolic: kind === 'symbolic' }
  })
  const records = readFileSync(join(FOLDER, 'KDDTrain+_20Percent.txt'), 'utf8').trim().split('\n').map((l) => l.trim().split(','))
  for (const [i, r] of records.entries()) if (r.length !== fields.length + 2) throw new Error(`nsl-kdd line ${i + 1}: ${r.length} columns, expected ${fields.length + 2}`)

  const encoders = fields.map((f, c) => (f.symbolic ? oneHotEncoder(f.name, records.map((r) => r[c]!)) : null))
  const featureNames = fields.flatMap((f, c) => encoders[c]?.names ?? [f.name])
  const numeric = records.map((r) => fields.flatMap((_, c) => encoders[c]?.encode(r[c]!) ?? [Number(r[c])]))
  const continuous = fields.flatMap((f, c) => encoders[c]?.names.map(() => false) ?? [true])
  const matrix = dropConstantColumns(featureNames, log1pNonNegativeColumns(numeric, continuous))
  const labels = records.map((r) => (r[fields.length] === 'normal' ? 0 : 1))
  return {
    name: 'nsl-kdd',
    description: 'NSL-KDD KDDTrain+_20Percent (25,192 connections). The continuous features (log1p) + one-hot protocol_type, service and flag '
      + '(values on ≥1% of rows, + other); constant columns dropped. Label: attack name ≠ normal. Split: seeded shuffle, 50/50.',
    featureNames: matrix.featureNames,
    ...seededSplit({ rows: matrix.rows, labels }, SPLIT_SEED),
  }
}
