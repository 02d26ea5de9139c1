import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { gunzipSync } from 'node:zlib'

/** A Zeek log file as a Zeek host streams it over TCP, and how many records it holds. */
export interface ZeekStream {
  bytes: Buffer
  /** data lines: what the ingestor turns into raw-logs records (header lines are not) */
  records: number
}

/**
 * Reads a Zeek log (`.gz` too, as Zeek archives its logs): TSV with its `#` headers as it is, JSON
 * lines with their log type announced first (`#path conn`, from the file name up to its first dot:
 * Zeek's JSON lines carry no `_path` by default).
 */
export function zeekStreamOf(file: string): ZeekStream {
  const raw = readFileSync(file)
  const bytes = file.endsWith('.gz') ? gunzipSync(raw) : raw
  const announce = bytes[0] === 0x7b ? `#path\t${basename(file).split('.')[0]}\n` : ''
  const records = bytes.toString('utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#')).length
  return { bytes: Buffer.concat([Buffer.from(announce), bytes]), records }
}

/** Whether a file holds Zeek output: a TSV header, or a first line that is a JSON record with Zeek's `ts` and a connection or log field. */
export function isZeekFile(file: string): boolean {
  const raw = readFileSync(file)
  const head = (file.endsWith('.gz') ? gunzipSync(raw) : raw).subarray(0, 64 * 1024).toString('utf8')
  if (head.startsWith('#separator')) return true
  const first = head.split('\n', 1)[0]!
  if (!first.startsWith('{')) return false
  try {
    const record = JSON.parse(first) as Record<string, unknown>
    return 'ts' in record && ('uid' in record || '_path' in record || 'id.orig_h' in record)
  } catch {
    return false
  }
}
