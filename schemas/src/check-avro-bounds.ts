import type avro from 'avsc'

/**
 * Most items of zero encoded bytes (arrays of null or of empty records) one message may hold, over
 * all its arrays: their count cannot be checked against the bytes left, and avsc builds each one.
 */
export const MAX_EMPTY_ITEMS = 65_536

/**
 * Checks, before avsc decodes `bytes` (Avro binary written with `type`), that every array or map
 * block count and every string or bytes length fits in the bytes that follow it. avsc trusts them:
 * it reads a block claiming 2^31 items item by item, for seconds and gigabytes, and only then sees
 * that the buffer ended, so 27 bytes from a producer could stall or kill every consumer. Each item
 * takes at least the minimal encoding of its type, so a count is checked at once; items of zero
 * bytes are limited to MAX_EMPTY_ITEMS per message. This walk only skips (no values are built),
 * and throws an Error naming what does not fit; other damage is left for avsc to find.
 */
export function checkAvroBounds(type: avro.Type, bytes: Uint8Array): void {
  skipperOf(type)({ bytes, pos: 0, emptyItemsLeft: MAX_EMPTY_ITEMS })
}

interface Reader {
  readonly bytes: Uint8Array
  pos: number
  emptyItemsLeft: number
}
type Skip = (r: Reader) => void
/** How to pass over a value: a skipper, or a fixed number of bytes (runs of them are skipped at once). */
type Step = Skip | number

// Compiled once per type: the topics' own types live for the process, and the registry client
// caches a writer's type per schema id.
const steps = new WeakMap<avro.Type, Step>()

function skipperOf(type: avro.Type): Skip {
  const step = stepOf(type)
  return typeof step === 'number' ? (r) => skipFixed(r, step) : step
}

function stepOf(type: avro.Type): Step {
  let step = steps.get(type)
  if (step === undefined) {
    if (isRecord(type)) {
      // Set before the fields are compiled: a named type may contain itself.
      let skipFields: Skip = () => {}
      steps.set(type, (r) => skipFields(r))
      const fieldSteps = mergeFixed(type.fields.map((f) => stepOf(f.type)))
      step = fieldSteps.length === 1 ? fieldSteps[0]! : recordSkipper(fieldSteps)
      skipFields = typeof step === 'number' ? (r) => skipFixed(r, step as number) : step
    } else {
      step = compileStep(type)
    }
    steps.set(type, step)
  }
  return step
}

function mergeFixed(fieldSteps: Step[]): Step[] {
  const merged: Step[] = []
  for (const step of fieldSteps) {
    const last = merged.length - 1
    if (typeof step === 'number' && typeof merged[last] === 'number') merged[last] = (merged[last] as number) + step
    else if (step !== 0) merged.push(step)
  }
  return merged.length === 0 ? [0] : merged
}

function recordSkipper(fieldSteps: Step[]): Skip {
  const fields = fieldSteps.map((step) => (typeof step === 'number' ? (r: Reader) => skipFixed(r, step) : step))
  return (r) => {
    for (let i = 0; i < fields.length; i++) fields[i]!(r)
  }
}

/** The bytes a value of the type always takes, or null when its size varies. */
function fixedSizeOf(type: avro.Type): number | null {
  switch (type.typeName) {
    case 'null':
      return 0
    case 'boolean':
      return 1
    case 'float':
      return 4
    case 'double':
      return 8
    case 'fixed':
      return (type as avro.types.FixedType).size
    default:
      return null
  }
}

function compileStep(type: avro.Type): Step {
  const size = fixedSizeOf(type)
  if (size !== null) return size
  const name = type.typeName
  switch (name) {
    case 'int':
    case 'long':
    case 'enum':
    case 'abstract:long':
      return skipVarint
    case 'string':
      return skipString
    case 'bytes':
      return skipBytes
    case 'array': {
      const items = (type as avro.types.ArrayType).itemsType
      return blocksSkipper('array', minBytesOf(items), skipperOf(items))
    }
    case 'map': {
      const values = (type as avro.types.MapType).valuesType as avro.Type
      const skipValue = skipperOf(values)
      // A key is a string: at least its length byte.
      return blocksSkipper('map', 1 + minBytesOf(values), (r) => {
        skipLengthPrefixed(r, 'map key')
        skipValue(r)
      })
    }
    default:
      if (name.startsWith('union:')) {
        const branches = (type as avro.types.UnwrappedUnionType).types.map(skipperOf)
        return (r) => {
          const at = r.pos
          const index = readLong(r)
          const branch = branches[index]
          if (!branch) throw new Error(`union at byte ${at} names branch ${index} of ${branches.length}`)
          branch(r)
        }
      }
      if (name.startsWith('logical:')) return stepOf((type as avro.types.LogicalType).underlyingType)
      throw new Error(`cannot check Avro type ${name}`)
  }
}

/** An array's or map's blocks: a count (negative: then a byte size) and that many items, until a count of 0. */
function blocksSkipper(kind: 'array' | 'map', minItemBytes: number, skipItem: Skip): Skip {
  return (r) => {
    for (;;) {
      const at = r.pos
      let count = readLong(r)
      if (count === 0) return
      if (count < 0) {
        count = -count
        skipVarint(r) // the block's size in bytes, which avsc does not use either
      }
      if (minItemBytes > 0) {
        if (count * minItemBytes > r.bytes.length - r.pos) {
          throw new Error(`${kind} block at byte ${at} claims ${count} items (at least ${count * minItemBytes} bytes), and ${r.bytes.length - r.pos} bytes follow`)
        }
      } else if ((r.emptyItemsLeft -= count) < 0) {
        throw new Error(`${kind} block at byte ${at} claims ${count} items of zero bytes, past the ${MAX_EMPTY_ITEMS} a message may hold`)
      }
      for (let i = 0; i < count; i++) skipItem(r)
    }
  }
}

/** The fewest bytes a value of the type can take. */
function minBytesOf(type: avro.Type, inProgress = new Set<avro.Type>()): number {
  const size = fixedSizeOf(type)
  if (size !== null) return size
  if (isRecord(type)) {
    // A record that contains itself does so through a union, array or map (or it has no finite
    // value), each of at least 1 byte; counting that part as 0 keeps the minimum a lower bound.
    if (inProgress.has(type)) return 0
    inProgress.add(type)
    const sum = type.fields.reduce((total, f) => total + minBytesOf(f.type, inProgress), 0)
    inProgress.delete(type)
    return sum
  }
  if (type.typeName.startsWith('logical:')) return minBytesOf((type as avro.types.LogicalType).underlyingType, inProgress)
  // int, long, enum, string, bytes, union, array, map: at least one byte
  return 1
}

function isRecord(type: avro.Type): type is avro.types.RecordType {
  return type.typeName === 'record' || type.typeName === 'error'
}

// Avro's long is a zigzag varint of at most 10 bytes.
const MAX_VARINT_BYTES = 10

/** A zigzag varint as a number: exact up to 2^53, and of the right size beyond, which is all a bound needs. */
function readLong(r: Reader): number {
  const { bytes } = r
  const first = bytes[r.pos]
  if (first !== undefined && first < 0x80) {
    r.pos++
    return first % 2 === 0 ? first / 2 : -(first + 1) / 2
  }
  let n = 0
  let scale = 1
  for (let i = 0; ; i++) {
    if (r.pos >= bytes.length) throw new Error(`truncated at byte ${r.pos}`)
    if (i === MAX_VARINT_BYTES) throw new Error(`varint at byte ${r.pos - i} longer than ${MAX_VARINT_BYTES} bytes`)
    const b = bytes[r.pos++]!
    n += (b & 0x7f) * scale
    if (b < 0x80) break
    scale *= 128
  }
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2
}

function skipVarint(r: Reader): void {
  const { bytes } = r
  const end = r.pos + MAX_VARINT_BYTES
  while (r.pos < bytes.length) {
    if (r.pos === end) throw new Error(`varint at byte ${r.pos - MAX_VARINT_BYTES} longer than ${MAX_VARINT_BYTES} bytes`)
    if (bytes[r.pos++]! < 0x80) return
  }
  throw new Error(`truncated at byte ${r.pos}`)
}

const skipString: Skip = (r) => skipLengthPrefixed(r, 'string')
const skipBytes: Skip = (r) => skipLengthPrefixed(r, 'bytes')

function skipLengthPrefixed(r: Reader, what: string): void {
  const at = r.pos
  const length = readLong(r)
  if (length < 0 || length > r.bytes.length - r.pos) throw new Error(`${what} at byte ${at} claims ${length} bytes, and ${r.bytes.length - r.pos} follow`)
  r.pos += length
}

function skipFixed(r: Reader, size: number): void {
  if (size > r.bytes.length - r.pos) throw new Error(`truncated at byte ${r.pos}`)
  r.pos += size
}
