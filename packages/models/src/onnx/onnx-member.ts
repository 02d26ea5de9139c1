import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import * as ort from 'onnxruntime-node'
import type { FeatureRow } from '../detector.ts'

/**
 * An ensemble member whose scores come back asynchronously (onnxruntime runs off the JS thread).
 * Like TrainedDetector, raw scores are oriented higher = more anomalous. The ensemble awaits
 * `score` for every member (awaiting a synchronous member's Float64Array costs nothing) and
 * calls `close` when it drops the member.
 */
export interface AsyncDetector {
  readonly kind: string
  score(rows: readonly FeatureRow[]): Promise<Float64Array>
  /** plain JSON from which `onnxDetectorKind.load` rebuilds the same detector */
  toJSON(): unknown
  /** releases the onnxruntime session */
  close(): Promise<void>
}

export type ScoreDirection = 'higher-is-anomalous' | 'lower-is-anomalous'

/** Any ONNX model taking one [N, features] float tensor, as an ensemble member. */
export interface OnnxMemberConfig {
  /** path of the .onnx file; or give `bytes` */
  file?: string
  /** the model itself, instead of `file` */
  bytes?: Uint8Array
  /** our feature names, in the order of the model's input columns */
  inputFeatures: readonly string[]
  /**
   * the output to score with; by default the first floating-point output, so that a classifier's or
   * scikit-learn IsolationForest's integer `label` output is passed over
   */
  output?: string
  /** the column to read from an [N, k] output with k > 1, e.g. the anomalous class's probability */
  outputColumn?: number
  /** e.g. 'lower-is-anomalous' for scikit-learn's decision_function (the `scores` output of skl2onnx's IsolationForest) */
  direction: ScoreDirection
  /** rows per onnxruntime call; bounds the input tensor's memory */
  batchRows?: number
  /**
   * where each input feature is in the rows it is given (the ensemble's feature order); without it,
   * rows are already in inputFeatures order
   */
  columns?: readonly number[]
}

export type OnnxModelErrorCode = 'ONNX_CONFIG_INVALID' | 'ONNX_INPUT_UNSUPPORTED' | 'ONNX_INPUT_WIDTH_MISMATCH' | 'ONNX_OUTPUT_UNKNOWN' | 'ONNX_OUTPUT_SHAPE' | 'ONNX_STATE_INVALID'

/** A model that cannot serve as configured; retrying will not help. */
export class OnnxModelError extends Error {
  override readonly name = 'OnnxModelError'
  constructor(readonly code: OnnxModelErrorCode, message: string) {
    super(message)
  }
}

/**
 * The state an ONNX member keeps in the model artifact. The model's bytes are embedded (base64), so
 * an artifact from the registry scores the same on any scorer, whether or not it has the file.
 */
export interface OnnxMemberJSON {
  kind: 'onnx'
  format: 1
  /** where the model came from, for people */
  source: string
  sha256: string
  model: string
  inputFeatures: string[]
  output: string
  outputColumn?: number
  direction: ScoreDirection
  columns?: number[]
}

export interface OnnxDetector extends AsyncDetector {
  readonly kind: 'onnx'
  /** the output it reads */
  readonly output: string
  toJSON(): OnnxMemberJSON
}

const DEFAULT_BATCH_ROWS = 8192

/** Loads the model, checks it against the configuration and returns it as a member. */
export async function createOnnxDetector(config: OnnxMemberConfig): Promise<OnnxDetector> {
  // Configurations come from JSON too: check what the types cannot.
  if ((config.file === undefined) === (config.bytes === undefined)) throw new OnnxModelError('ONNX_CONFIG_INVALID', 'give an ONNX member either file or bytes')
  if (!Array.isArray(config.inputFeatures) || config.inputFeatures.length === 0) throw new OnnxModelError('ONNX_CONFIG_INVALID', 'an ONNX member needs inputFeatures')
  if (config.direction !== 'higher-is-anomalous' && config.direction !== 'lower-is-anomalous') {
    throw new OnnxModelError('ONNX_CONFIG_INVALID', `direction must be 'higher-is-anomalous' or 'lower-is-anomalous', got ${JSON.stringify(config.direction)}`)
  }
  const bytes = config.bytes ?? new Uint8Array(await readFile(config.file!))
  return openOnnxDetector(bytes, config.file === undefined ? 'bytes' : basename(config.file), config)
}

/**
 * ONNX members for the ensemble's registry. A user's model comes trained: `train` opens the model
 * its parameters name (the rows are not used; the ensemble still calibrates on them), and `load`
 * rebuilds a member from `toJSON()`'s state, checking the embedded model against its sha256.
 */
export const onnxDetectorKind = {
  kind: 'onnx',
  /** nothing: `file` (or `bytes`), `inputFeatures` and `direction` must be configured */
  defaults: {},
  train(_rows: readonly FeatureRow[], params: OnnxMemberConfig): Promise<OnnxDetector> {
    return createOnnxDetector(params)
  },
  async load(state: unknown): Promise<OnnxDetector> {
    const json = state as OnnxMemberJSON
    if (json?.kind !== 'onnx' || json.format !== 1) throw new OnnxModelError('ONNX_STATE_INVALID', 'not an onnx member state (format 1)')
    const bytes = new Uint8Array(Buffer.from(json.model, 'base64'))
    if (sha256(bytes) !== json.sha256) throw new OnnxModelError('ONNX_STATE_INVALID', `embedded model of ${json.source} does not match its sha256`)
    const { inputFeatures, output, outputColumn, direction, columns } = json
    return openOnnxDetector(bytes, json.source, {
      inputFeatures, output, direction, ...(outputColumn === undefined ? {} : { outputColumn }), ...(columns === undefined ? {} : { columns }),
    })
  },
} as const

/**
 * One thread per session, so that a tree ensemble (the forest's export, a scikit-learn forest) gives
 * an event the same score whatever batch it came in. With more, onnxruntime splits a tree ensemble's
 * sum by trees for small batches and by rows for large ones, and the float32 sums differ in their
 * last bits: measured, 996 of 1200 rows of a forest scored one, two, seven or fifty at a time differed
 * from the same rows scored in one batch, so an event re-delivered after a rebalance came back with
 * another score, which could fall on the other side of the threshold. Other operators are not made
 * batch-independent by this (a reviewer's MatMul/ReLU model still differed in 75 of 300 rows scored
 * one at a time). A scorer scales by instances, not threads: on one thread a forest alone scored
 * 2000 rows about 20% slower in wall time, on half the CPU, and the ensemble scored faster, as the
 * thread pool no longer took the core its TypeScript members run on (bench/models/scoring-throughput.ts).
 */
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 }

async function openOnnxDetector(bytes: Uint8Array, source: string, config: OnnxMemberConfig): Promise<OnnxDetector> {
  const session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS)
  try {
    return bindSession(session, bytes, source, config)
  } catch (err) {
    await session.release()
    throw err
  }
}

function bindSession(session: ort.InferenceSession, bytes: Uint8Array, source: string, config: OnnxMemberConfig): OnnxDetector {
  const width = config.inputFeatures.length
  const input = checkInput(session, width, source)
  const output = pickOutput(session, config, source)
  const sign = config.direction === 'lower-is-anomalous' ? -1 : 1
  const batchRows = config.batchRows ?? DEFAULT_BATCH_ROWS
  const json: OnnxMemberJSON = {
    kind: 'onnx',
    format: 1,
    source,
    sha256: sha256(bytes),
    model: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
    inputFeatures: [...config.inputFeatures],
    output,
    ...(config.outputColumn === undefined ? {} : { outputColumn: config.outputColumn }),
    direction: config.direction,
    ...(config.columns === undefined ? {} : { columns: [...config.columns] }),
  }
  if (config.columns && config.columns.length !== width) {
    throw new OnnxModelError('ONNX_CONFIG_INVALID', `${source}: ${config.columns.length} columns given for ${width} input features`)
  }
  return {
    kind: 'onnx',
    output,
    async score(rows) {
      const scores = new Float64Array(rows.length)
      for (let start = 0; start < rows.length; start += batchRows) {
        const batch = rows.slice(start, start + batchRows)
        const results = await session.run({ [input.name]: toTensor(batch, width, input.type, config.columns) }, [output])
        const column = readColumn(results[output]!, batch.length, config.outputColumn, source)
        for (let i = 0; i < batch.length; i++) scores[start + i] = sign * column[i]!
      }
      return scores
    },
    toJSON: () => json,
    close: () => session.release(),
  }
}

type FloatType = 'float32' | 'float64'

function checkInput(session: ort.InferenceSession, width: number, source: string): { name: string; type: FloatType } {
  const inputs = session.inputMetadata
  const only = inputs[0]
  if (inputs.length !== 1 || !only?.isTensor || (only.type !== 'float32' && only.type !== 'float64')) {
    const found = inputs.map((i) => `${i.name}${i.isTensor ? ` ${i.type} ${shapeOf(i.shape)}` : ''}`).join('; ')
    throw new OnnxModelError('ONNX_INPUT_UNSUPPORTED', `${source}: expected one float tensor input [N, ${width}], the model has: ${found}`)
  }
  const columns = only.shape.length === 2 ? only.shape[1] : undefined
  if (only.shape.length !== 2 || (typeof columns === 'number' && columns !== width)) {
    throw new OnnxModelError(
      'ONNX_INPUT_WIDTH_MISMATCH',
      `${source}: input '${only.name}' has shape ${shapeOf(only.shape)}, but ${width} input features are configured (${width} columns expected)`,
    )
  }
  return { name: only.name, type: only.type }
}

/** A declared shape for people: symbolic or unnamed dimensions as their name or '?'. */
function shapeOf(dims: readonly (number | string)[]): string {
  return `[${dims.map((d) => (d === '' || d === -1 ? '?' : d)).join(', ')}]`
}

function pickOutput(session: ort.InferenceSession, config: OnnxMemberConfig, source: string): string {
  const outputs = session.outputMetadata
  const named = config.output ?? outputs.find((o) => o.isTensor && (o.type === 'float32' || o.type === 'float64'))?.name
  const chosen = outputs.find((o) => o.name === named)
  if (!chosen?.isTensor || (chosen.type !== 'float32' && chosen.type !== 'float64')) {
    const found = outputs.map((o) => `${o.name}${o.isTensor ? ` ${o.type}` : ' (not a tensor: export classifiers without ZipMap)'}`).join(', ')
    throw new OnnxModelError('ONNX_OUTPUT_UNKNOWN', `${source}: no float tensor output ${named ? `'${named}'` : ''} to score with; outputs: ${found}`)
  }
  const columns = chosen.shape.length === 2 ? chosen.shape[1] : 1
  if (typeof columns === 'number' && columns > 1 && !(config.outputColumn !== undefined && config.outputColumn >= 0 && config.outputColumn < columns)) {
    throw new OnnxModelError('ONNX_OUTPUT_SHAPE', `${source}: output '${chosen.name}' has ${columns} columns; set outputColumn to one of 0..${columns - 1}`)
  }
  return chosen.name
}

function toTensor(rows: readonly FeatureRow[], width: number, type: FloatType, columns?: readonly number[]): ort.Tensor {
  const data = type === 'float32' ? new Float32Array(rows.length * width) : new Float64Array(rows.length * width)
  rows.forEach((row, r) => {
    if (columns) {
      for (let f = 0; f < width; f++) data[r * width + f] = row[columns[f]!]!
      return
    }
    if (row.length !== width) throw new RangeError(`row ${r} has ${row.length} features, the model takes ${width}`)
    for (let f = 0; f < width; f++) data[r * width + f] = row[f]!
  })
  return new ort.Tensor(type, data, [rows.length, width])
}

/** One score a row from an [N], [N, 1] or [N, k] output. */
function readColumn(tensor: ort.Tensor, rows: number, outputColumn: number | undefined, source: string): ArrayLike<number> {
  const columns = tensor.dims.length === 1 ? 1 : tensor.dims.length === 2 ? Number(tensor.dims[1]) : NaN
  const data = tensor.data as Float32Array | Float64Array
  if (!(columns >= 1) || data.length !== rows * columns) {
    throw new OnnxModelError('ONNX_OUTPUT_SHAPE', `${source}: output of shape [${tensor.dims.join(', ')}] for ${rows} rows; expected [N], [N, 1] or [N, k]`)
  }
  if (columns === 1 && (outputColumn ?? 0) === 0) return data
  if (outputColumn === undefined || outputColumn < 0 || outputColumn >= columns) {
    throw new OnnxModelError('ONNX_OUTPUT_SHAPE', `${source}: output has ${columns} columns; set outputColumn to one of 0..${columns - 1}`)
  }
  return Float64Array.from({ length: rows }, (_, r) => data[r * columns + outputColumn]!)
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}
