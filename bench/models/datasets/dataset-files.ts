import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from '@vigil/testkit'
import type { LabeledRows, PreparedDataset } from './labeled-matrix.ts'

/** The team's read-only labeled data (each folder's README gives source, license, labels and split). */
export const SHARED_DATA_DIR = join(REPO_ROOT, '..', 'shared', 'data')

/** Where prepared matrices live: one folder per set, read by accuracy.ts and by sklearn_peers.py alike. */
export const DATASETS_DIR = join(REPO_ROOT, '.cache', 'bench', 'models')

/** What meta.json holds beside the two CSVs (whose header is the feature names, then `label`). */
export interface DatasetMeta {
  name: string
  description: string
  featureNames: string[]
  trainRows: number
  testRows: number
  trainAttackShare: number
  testAttackShare: number
  families?: Record<string, number>
}

/** Writes `<dir>/<name>/{train.csv,test.csv,meta.json}`. */
export function writeDataset(dataset: PreparedDataset, dir = DATASETS_DIR): DatasetMeta {
  const folder = join(dir, dataset.name)
  mkdirSync(folder, { recursive: true })
  const header = [...dataset.featureNames, 'label'].join(',')
  for (const [file, part] of [['train.csv', dataset.train], ['test.csv', dataset.test]] as const) {
    const lines = part.rows.map((row, i) => {
      if (row.length !== dataset.featureNames.length) throw new Error(`${dataset.name} ${file} row ${i}: ${row.length} values for ${dataset.featureNames.length} features`)
      if (row.some((x) => !Number.isFinite(x))) throw new Error(`${dataset.name} ${file} row ${i} holds a value that is not a finite number`)
      return `${row.join(',')},${part.labels[i]}`
    })
    writeFileSync(join(folder, file), `${header}\n${lines.join('\n')}\n`)
  }
  const meta: DatasetMeta = {
    name: dataset.name, description: dataset.description, featureNames: dataset.featureNames,
    trainRows: dataset.train.rows.length, testRows: dataset.test.rows.length,
    trainAttackShare: attackShare(dataset.train), testAttackShare: attackShare(dataset.test),
    ...(dataset.families ? { families: dataset.families } : {}),
  }
  writeFileSync(join(folder, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`)
  return meta
}

/** Reads back what `writeDataset` wrote. */
export function readDataset(name: string, dir = DATASETS_DIR): { meta: DatasetMeta; train: LabeledRows; test: LabeledRows } {
  const folder = join(dir, name)
  const meta = JSON.parse(readFileSync(join(folder, 'meta.json'), 'utf8')) as DatasetMeta
  return { meta, train: readCsv(join(folder, 'train.csv')), test: readCsv(join(folder, 'test.csv')) }
}

function readCsv(path: string): LabeledRows {
  const rows: number[][] = []
  const labels: number[] = []
  const lines = readFileSync(path, 'utf8').split('\n')
  for (const line of lines.slice(1)) {
    if (line === '') continue
    const values = line.split(',').map(Number)
    labels.push(values.pop()!)
    rows.push(values)
  }
  return { rows, labels }
}

function attackShare(part: LabeledRows): number {
  return part.labels.reduce((a, b) => a + b, 0) / Math.max(1, part.labels.length)
}
