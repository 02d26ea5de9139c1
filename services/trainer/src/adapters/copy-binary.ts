/** One column's value as COPY BINARY writes it: text, float8, float8[], timestamptz or boolean (by JS type), or NULL. */
export type CopyValue = string | number | readonly number[] | Date | boolean | null

// PostgreSQL's binary COPY format (docs: "COPY", File Formats, Binary Format): a signature, flags
// and a header extension length, then per row a field count and each field as a length and the
// type's binary form (its *_send), then -1. Numbers go as float8 without a trip through decimal
// text, which is where text COPY spends its time on feature vectors (see test/bench/history-write.ts).
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1')
const HEADER_BYTES = SIGNATURE.length + 8
const PG_EPOCH_MS = 946_684_800_000 // 2000-01-01T00:00:00Z, where timestamptz counts microseconds from
const FLOAT8_OID = 701

/** Encodes rows (values in column order) as one COPY … FROM STDIN (FORMAT binary) stream. */
export function encodeCopyBinary(rows: ReadonlyArray<readonly CopyValue[]>): Buffer {
  // First pass: text to UTF-8 once, and the exact size, so the second writes into one buffer.
  let size = HEADER_BYTES + 2
  const texts: Buffer[] = []
  for (const row of rows) {
    size += 2
    for (const v of row) {
      size += 4
      if (v === null) continue
      if (typeof v === 'string') {
        // No text value can hold NUL; the rest of the string is kept.
        const bytes = Buffer.from(v.includes('\0') ? v.replaceAll('\0', '') : v, 'utf8')
        texts.push(bytes)
        size += bytes.length
      } else if (typeof v === 'number' || v instanceof Date) {
        size += 8
      } else if (typeof v === 'boolean') {
        size += 1
      } else {
        size += v.length === 0 ? 12 : 20 + 12 * v.length
      }
    }
  }

  const out = Buffer.allocUnsafe(size)
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  SIGNATURE.copy(out, 0)
  view.setInt32(SIGNATURE.length, 0) // flags: no OIDs
  view.setInt32(SIGNATURE.length + 4, 0) // no header extension
  let o = HEADER_BYTES
  let t = 0
  for (const row of rows) {
    view.setInt16(o, row.length)
    o += 2
    for (const v of row) {
      if (v === null) {
        view.setInt32(o, -1)
        o += 4
      } else if (typeof v === 'string') {
        const bytes = texts[t++]!
        view.setInt32(o, bytes.length)
        o += 4 + bytes.copy(out, o + 4)
      } else if (typeof v === 'number') {
        view.setInt32(o, 8)
        view.setFloat64(o + 4, v)
        o += 12
      } else if (v instanceof Date) {
        view.setInt32(o, 8)
        view.setBigInt64(o + 4, BigInt(v.getTime() - PG_EPOCH_MS) * 1000n)
        o += 12
      } else if (typeof v === 'boolean') {
        view.setInt32(o, 1)
        view.setUint8(o + 4, v ? 1 : 0)
        o += 5
      } else if (v.length === 0) {
        view.setInt32(o, 12)
        view.setInt32(o + 4, 0) // no dimensions
        view.setInt32(o + 8, 0) // no nulls
        view.setInt32(o + 12, FLOAT8_OID)
        o += 16
      } else {
        view.setInt32(o, 20 + 12 * v.length)
        view.setInt32(o + 4, 1) // one dimension
        view.setInt32(o + 8, 0) // no nulls
        view.setInt32(o + 12, FLOAT8_OID)
        view.setInt32(o + 16, v.length)
        view.setInt32(o + 20, 1) // lower bound
        o += 24
        for (const x of v) {
          view.setInt32(o, 8)
          view.setFloat64(o + 4, x)
          o += 12
        }
      }
    }
  }
  view.setInt16(o, -1)
  return out
}
