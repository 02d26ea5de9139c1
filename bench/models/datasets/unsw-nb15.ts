import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SHARED_DATA_DIR } from './dataset-files.ts'
import { dropConstantColumns, log1pNonNegativeColumns, oneHotEncoder, seededSplit, type PreparedDataset } from './labeled-matrix.ts'

const FILE = join(SHARED_DATA_DIR, 'unsw-nb15', 'UNSW_NB15_sample_shared.csv')
const SPLIT_SEED = 20240502
const CATEGORICAL = new Set(['proto', 'service', 'state'])
// `id` is the row number; `attack_cat` and `label` are the labels.
const NOT_FEATURES = new Set(['id', 'attack_cat', 'label'])

/**
 * The shared UNSW-NB15 sample (28,001 flows of the partitioned set: 42 features, `attack_cat`,
 * `label`). proto, service and state are one-hot encoded over values held by ≥1% of the rows
 * (+ other); the numeric columns go through log1p; label = `label`. A seeded 50/50 split.
 */
export function prepareUnswNb15(): PreparedDataset {
  const [header, ...lines] = readFileSync(FILE, 'utf8').replace(/^\uFEFF/, '').trim().split(/\r?\n/) as [string, ...string[]]
  const columns = header.split(',')
  const records = lines.map((l) => l.split(','))
  for (const [i, r] of records.entries()) if (r.length !== columns.length) throw new Error(`unsw-nb15 line ${i + 2}: ${r.length} columns, expected ${columns.length}`)

  const features = columns.map((name, c) => ({ name, c })).filter((f) => !NOT_FEATURES.has(f.name))
  const encoders = new Map(features.filter((f) => CATEGORICAL.has(f.name)).map((f) => [f.c, oneHotEncoder(f.name, records.map((r) => r[f.c]!))]))
  const featureNames = features.flatMap((f) => encoders.get(f.c)?.names ?? [f.name])
  const numeric = records.map((r) => features.flatMap((f) => encoders.get(f.c)?.encode(r[f.c]!) ?? [Number(r[f.c])]))
  const continuous = features.flatMap((f) => encoders.get(f.c)?.names.map(() => false) ?? [true])
  const matrix = dropConstantColumns(featureNames, log1pNonNegativeColumns(numeric, continuous))
  const label = columns.indexOf('label')
  const labels = records.map((r) => Number(r[label]))
  return {
    name: 'unsw-nb15',
    description: 'UNSW-NB15 shared sample (28,001 flows). The numeric features (log1p) + one-hot proto, service and state (values on ≥1% '
      + 'of rows, + other); id and attack_cat dropped. Label: `label`. Split: seeded shuffle, 50/50.',
    featureNames: matrix.featureNames,
    ...seededSplit({ rows: matrix.rows, labels }, SPLIT_SEED),
  }
}
