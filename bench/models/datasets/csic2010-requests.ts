import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { shannonEntropy } from '../../../services/featurizer/src/features/text-features.ts'
import { parseRequestLine } from '../../../services/featurizer/src/parsers/web-access.ts'
import { SHARED_DATA_DIR } from './dataset-files.ts'
import { concatSplits, orderedSplit, type PreparedDataset } from './labeled-matrix.ts'

const FOLDER = join(SHARED_DATA_DIR, 'csic2010-requests')

// Characters a query string needs for its structure; the rest of its non-alphanumerics are counted.
const STRUCTURAL = new Set(['/', '?', '&', '=', '+', '.', '-', '_'])

const FEATURES: Array<{ name: string; of(r: Request): number }> = [
  { name: 'method_post', of: (r) => (r.method === 'POST' ? 1 : 0) },
  { name: 'method_put', of: (r) => (r.method === 'PUT' ? 1 : 0) },
  { name: 'url_length', of: (r) => Math.log1p(r.url.length) },
  { name: 'path_length', of: (r) => Math.log1p(r.path.length) },
  { name: 'path_depth', of: (r) => r.path.split('/').filter(Boolean).length },
  { name: 'query_length', of: (r) => Math.log1p(r.query.length) },
  { name: 'parameters', of: (r) => r.params.length },
  { name: 'longest_value', of: (r) => Math.log1p(Math.max(0, ...r.params.map((p) => p.length - p.indexOf('=') - 1))) },
  // Vigil's url_entropy, computed as the featurizer does (url.original).
  { name: 'url_entropy', of: (r) => shannonEntropy(r.url) },
  { name: 'query_digit_share', of: (r) => share(r.query, (c) => c >= '0' && c <= '9') },
  { name: 'query_letter_share', of: (r) => share(r.query, (c) => /[a-z]/.test(c)) },
  { name: 'query_other_chars', of: (r) => Math.log1p(count(r.query, (c) => !/[a-z0-9]/.test(c) && !STRUCTURAL.has(c))) },
  { name: 'path_other_chars', of: (r) => count(r.path, (c) => !/[a-z0-9]/.test(c) && !STRUCTURAL.has(c)) },
  { name: 'non_ascii_chars', of: (r) => Math.log1p(count(r.url, (c) => c.charCodeAt(0) > 0x7e)) },
]

interface Request {
  method: string
  url: string
  path: string
  query: string
  params: string[]
}

/**
 * CSIC 2010 in its derived form (one lower-cased, percent-decoded request per line; no headers,
 * addresses, times or responses), read as a request line by Vigil's web-access parser
 * (`parseRequestLine`). Vigil's 31 features would be constant here except url_entropy (every
 * window, status, user-agent and address feature needs what the derived form lost), so the matrix
 * is a documented mapping of request-content features instead, url_entropy among them. Label: the
 * file (anomalous = 1). Split: the first half of each file trains, the second tests (by position,
 * so a form's GET/POST pair stays together).
 */
export function prepareCsic2010Requests(): PreparedDataset {
  const parts = [['normal_shared.txt', 0], ['anomalous_shared.txt', 1]] as const
  return {
    name: 'csic2010-requests',
    description: 'CSIC 2010 derived form (one decoded request per line), read by Vigil\'s web-access parser (parseRequestLine). Features: a '
      + 'mapping of request-content features (method, lengths, path depth, parameters, longest value, Vigil\'s url_entropy, character '
      + 'shares and counts), since Vigil\'s window/status/agent features have no input here. Label: anomalous file = 1. '
      + 'Split: first half of each file trains, second half tests.',
    featureNames: FEATURES.map((f) => f.name),
    ...concatSplits(parts.map(([file, label]) => {
      const rows = readFileSync(join(FOLDER, file), 'utf8').split('\n').filter((l) => l !== '').map((line, i) => {
        const request = readRequest(line)
        if (request === null) throw new Error(`${file} line ${i + 1} is not a request line`)
        return FEATURES.map((f) => f.of(request))
      })
      return orderedSplit({ rows, labels: rows.map(() => label) })
    })),
  }
}

function readRequest(line: string): Request | null {
  const space = line.indexOf(' ')
  const parsed = parseRequestLine(`${line.slice(0, space).toUpperCase()}${line.slice(space)}`)
  if (parsed === null) return null
  const query = parsed.url.query ?? ''
  return { method: parsed.method, url: parsed.url.original ?? '', path: parsed.url.path ?? '', query, params: query === '' ? [] : query.split('&') }
}

function count(text: string, test: (c: string) => boolean): number {
  let n = 0
  for (const c of text) if (test(c)) n++
  return n
}

function share(text: string, test: (c: string) => boolean): number {
  return text.length === 0 ? 0 : count(text, test) / [...text].length
}
