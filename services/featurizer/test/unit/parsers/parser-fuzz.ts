// What the parser property tests share: mutations of real lines, and the check that a parse
// result fits the features topic's Avro schema once the featurizer has filled in the envelope.
import fc from 'fast-check'
import { avroTypeOf, topics, type EcsEvent } from '@vigil/schemas'
import type { ParsedFields } from '../../../src/ecs-event.ts'

export type Edit = { kind: 'insert' | 'delete' | 'replace' | 'truncate'; at: number; text: string }

/** Up to six edits of a line: inserting, deleting or replacing text (random, or the family's own tokens), or truncating. */
export function lineEdits(tokens: string[], maxAt: number): fc.Arbitrary<Edit[]> {
  const edit = fc.record({
    kind: fc.constantFrom('insert', 'delete', 'replace', 'truncate') as fc.Arbitrary<Edit['kind']>,
    at: fc.nat({ max: maxAt }),
    text: fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom(...tokens)),
  })
  return fc.array(edit, { minLength: 1, maxLength: 6 })
}

export function mutate(s: string, changes: Edit[]): string {
  for (const { kind, at, text } of changes) {
    const i = s.length === 0 ? 0 : at % (s.length + 1)
    if (kind === 'insert') s = s.slice(0, i) + text + s.slice(i)
    else if (kind === 'delete') s = s.slice(0, i) + s.slice(i + 1 + (text.length % 3))
    else if (kind === 'replace') s = s.slice(0, i) + text + s.slice(i + text.length)
    else s = s.slice(0, i)
  }
  return s
}

type AvroType = ReturnType<typeof avroTypeOf>
const ecsType = (avroTypeOf(topics.features) as unknown as { field(name: string): { type: AvroType } }).field('event').type

/** Where the parse result, as the features topic carries it, breaks the schema; [] when it fits. */
export function avroProblems(fields: ParsedFields, line: string): string[] {
  const { event, ...rest } = fields
  const ecs: EcsEvent = { ...rest, timestamp: 0, message: line, event: { kind: 'event', module: 'test', original: line, ...event } }
  const problems: string[] = []
  ecsType.isValid(ecs, { errorHook: (path: string[], value: unknown) => problems.push(`${path.join('.')}=${JSON.stringify(value)}`) })
  return problems
}
