import type avro from 'avsc'

/**
 * How the JSON codec spells NaN, Infinity and -Infinity, which JSON has no numbers for (JSON.stringify
 * writes them as null, which no float or double field accepts): as the strings "NaN", "Infinity" and
 * "-Infinity", as Avro's Java JSON encoding does. The Avro binary format carries them as they are, so
 * both formats give back the same value.
 */

/**
 * The JSON text of a value already valid for its schema: then every non-finite number in it is a
 * float or a double (int and long refuse them), written as its string. JSON.stringify's replacer
 * costs half as much again as the stringify, so it runs only for a value that holds one.
 */
export function toJsonText(value: unknown): string {
  return holdsNonFinite(value) ? JSON.stringify(value, nonFiniteAsString) : JSON.stringify(value)
}

function nonFiniteAsString(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value
}

function holdsNonFinite(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value)
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false
  return (Array.isArray(value) ? value : Object.values(value)).some(holdsNonFinite)
}

/**
 * The value parsed from JSON with the strings that stand for non-finite numbers in float and double
 * fields turned back into numbers; the same object when there were none. In a union that also
 * takes a string (or anything else the string is valid as), the string stays a string.
 */
export function withNonFiniteNumbers(type: avro.Type, value: unknown): unknown {
  switch (type.typeName) {
    case 'float':
    case 'double':
      return typeof value === 'string' && NON_FINITE.has(value) ? Number(value) : value
    case 'record':
    case 'error':
      return isObject(value) ? withEntries(value, (type as avro.types.RecordType).fields.map((f) => [f.name, f.type])) : value
    case 'map': {
      if (!isObject(value)) return value
      const values = (type as avro.types.MapType).valuesType as avro.Type
      return withEntries(value, Object.keys(value).map((key) => [key, values]))
    }
    case 'array': {
      if (!Array.isArray(value)) return value
      const items = (type as avro.types.ArrayType).itemsType
      let out = value
      value.forEach((item, i) => {
        const restored = withNonFiniteNumbers(items, item)
        if (restored !== item) {
          if (out === value) out = [...value]
          out[i] = restored
        }
      })
      return out
    }
    case 'union:unwrapped': {
      const branches = (type as avro.types.UnwrappedUnionType).types
      if (branches.some((b) => b.isValid(value))) return value
      for (const branch of branches) {
        const restored = withNonFiniteNumbers(branch, value)
        if (restored !== value && branch.isValid(restored)) return restored
      }
      return value
    }
    default:
      return value
  }
}

const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity'])

function withEntries(value: Record<string, unknown>, entries: [string, avro.Type][]): Record<string, unknown> {
  let out = value
  for (const [key, type] of entries) {
    const restored = withNonFiniteNumbers(type, value[key])
    if (restored !== value[key]) {
      if (out === value) out = { ...value }
      out[key] = restored
    }
  }
  return out
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
