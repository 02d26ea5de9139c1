/** What stands for U+0000 in stored text: the Unicode replacement character. */
export const NUL_REPLACEMENT = '\uFFFD'

/**
 * `value` with U+0000 in every string replaced by U+FFFD, which Postgres text and jsonb can hold
 * (they refuse U+0000 outright). A NUL comes from the log line itself; refusing the record would let
 * anyone who can write one into a line keep its event from alerting, so the alert is stored with
 * the mark instead, and its evidence (topic, partition, offset) still leads to the original bytes.
 */
export function storableText<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\u0000') ? value.replaceAll('\u0000', NUL_REPLACEMENT) : value) as T
  if (Array.isArray(value)) return value.map(storableText) as T
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableText(k), storableText(v)])) as T
  }
  return value
}
