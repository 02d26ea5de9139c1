import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { featureNames, type RawLog } from '@vigil/schemas'
import { handleInput } from '../../../services/ingestor/src/handle-input.ts'
import { createZeekHeaderTracker } from '../../../services/ingestor/src/zeek/zeek-header-tracker.ts'
import { SHARED_DATA_DIR } from './dataset-files.ts'
import { concatSplits, orderedSplit, type PreparedDataset } from './labeled-matrix.ts'
import type { VigilFeaturizer } from './vigil-featurizer.ts'

const FOLDER = join(SHARED_DATA_DIR, 'stratosphere-zeek')
/** The captures whose conn.log carries per-flow labels (README: 001, 008, 011; 009 has no conn.log). */
const LABELED_CONN_LOGS = ['001-zeek-scenario-malicious/labeled-conn.log', '008-zeek-mixed/data/conn.log.labeled', '011-zeek-mixed/data/conn.log.labeled']
// NetflowLabeler appends these two columns; they never reach the featurizer.
const LABEL_COLUMNS = ['label', 'detailedlabel']

/**
 * Stratosphere's labeled Zeek conn logs, each capture run end to end through Vigil: the
 * ingestor's Zeek header tracking and input handling (as its directory tailer does), then the
 * featurizer's handler with its Redis windows; one feature vector per flow. Every flow goes
 * through the featurizer (Background ones too, since they fill the windows); the matrix keeps
 * Malicious (1) and Benign (0) flows, as the README advises. Per capture, the earlier half of the
 * kept flows by `ts` trains and the later half tests.
 */
export async function prepareStratosphereZeek(featurizer: VigilFeaturizer): Promise<PreparedDataset> {
  const families: Record<string, number> = {}
  const parts = []
  for (const file of LABELED_CONN_LOGS) {
    const { records, labels } = ingestLabeledZeekLog(join(FOLDER, file))
    const { vectors, families: fams } = await featurizer.featurize(records)
    for (const f of fams) families[f] = (families[f] ?? 0) + 1
    const kept = records.map((r, i) => ({ ts: zeekTs(r), vector: vectors[i]!, label: labels[i]! }))
      .filter((x) => x.label === 'Malicious' || x.label === 'Benign')
      .sort((a, b) => a.ts - b.ts)
    parts.push(orderedSplit({ rows: kept.map((x) => x.vector), labels: kept.map((x) => (x.label === 'Malicious' ? 1 : 0)) }))
  }
  return {
    name: 'stratosphere-zeek',
    description: 'Stratosphere labeled Zeek conn logs of captures 001, 008, 011 (TSV), label columns stripped, run through the ingestor\'s '
      + 'Zeek header tracker and handleInput, then the featurizer\'s handleRawLogs (Redis windows, default settings, geo lookup): Vigil\'s '
      + `${featureNames.length} features. Label: Malicious = 1, Benign = 0, Background and unlabeled flows featurized but not scored. `
      + 'Split: per capture, earlier half of the kept flows by ts trains, later half tests.',
    featureNames: [...featureNames],
    ...concatSplits(parts),
    families,
  }
}

/** The log's data lines as raw-logs records (label columns cut off), with each line's label. */
function ingestLabeledZeekLog(path: string): { records: RawLog[]; labels: string[] } {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '')
  const fields = lines.find((l) => l.startsWith('#fields\t'))?.split('\t').slice(1)
  if (!fields || fields.slice(-LABEL_COLUMNS.length).join() !== LABEL_COLUMNS.join()) throw new Error(`${path}: #fields does not end with ${LABEL_COLUMNS.join(', ')}`)
  const tracker = createZeekHeaderTracker({ defaultLog: 'conn' })
  const receivedAt = Date.now()
  const records: RawLog[] = []
  const labels: string[] = []
  for (const line of lines) {
    const isHeader = line.startsWith('#')
    const columns = line.split('\t')
    const cut = isHeader && !/^#(fields|types)\t/.test(line) ? columns : columns.slice(0, -LABEL_COLUMNS.length)
    const bytes = Buffer.from(cut.join('\t'))
    const verdict = tracker.classify(bytes)
    if (verdict.kind === 'header') continue
    if (verdict.kind === 'reject') throw new Error(`${path}: ingestor rejects a line: ${verdict.code} ${verdict.reason}`)
    const input = handleInput({ bytes, transport: 'file', peer: path, receivedAt, zeek: verdict.zeek })
    if (!input.ok) throw new Error(`${path}: ingestor rejects a line: ${input.code} ${input.reason}`)
    records.push(input.record)
    labels.push(columns[columns.length - LABEL_COLUMNS.length]!)
  }
  return { records, labels }
}

function zeekTs(record: RawLog): number {
  return Number(record.line.slice(0, record.line.indexOf('\t')))
}
