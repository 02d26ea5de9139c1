// Generates src/generated.ts (TypeScript types) from avro/*.avsc, so a payload's shape is
// written once, in its Avro schema. Run: npm run generate -w @vigil/schemas
// A unit test fails when the committed file is out of date.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

type AvroSchema = string | AvroSchema[] | { type: string; name?: string; tsName?: string; fields?: AvroField[]; items?: AvroSchema; values?: AvroSchema; symbols?: string[]; doc?: string }
interface AvroField { name: string; type: AvroSchema; doc?: string; default?: unknown }

const schemaDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'avro')

/** Renders every avro/*.avsc into TypeScript declarations; a named type is declared once. */
export function renderTypes(): string {
  const declared = new Map<string, string>()
  const files = readdirSync(schemaDir).filter((f) => f.endsWith('.avsc')).sort()
  for (const file of files) {
    renderType(JSON.parse(readFileSync(join(schemaDir, file), 'utf8')) as AvroSchema, declared)
  }
  const header = '// Generated from schemas/avro/*.avsc by schemas/scripts/generate-types.ts. Do not edit.\n'
  return header + [...declared.values()].join('\n')
}

function renderType(schema: AvroSchema, declared: Map<string, string>): string {
  if (typeof schema === 'string') return primitive(schema, declared)
  if (Array.isArray(schema)) return schema.map((s) => renderType(s, declared)).join(' | ')
  switch (schema.type) {
    case 'record': {
      // tsName: the TypeScript name of a record whose Avro name must stay as it was (a registry's
      // compatibility check refuses a renamed record) while another schema has a record of that name.
      const name = schema.tsName ?? schema.name!
      if (declared.has(name)) {
        // The same name in two topic schemas must mean the same shape, or the TS type would lie.
        const again = new Map<string, string>()
        renderType({ ...schema, name: `${name}__check`, tsName: undefined }, again)
        const withoutDocs = (ts: string) => ts.replace(/^\s*\/\*\*.*\*\/\n/gm, '')
        const first = withoutDocs(declared.get(name)!)
        const second = withoutDocs(again.get(`${name}__check`)!).replace(`${name}__check`, name)
        if (first && first !== second) throw new Error(`Avro record ${name} is declared twice with different fields`)
        return name
      }
      declared.set(name, '') // reserve the slot so nested types come after their parent
      const fields = (schema.fields ?? []).map((f) => {
        const doc = f.doc ? `  /** ${f.doc} */\n` : ''
        // A field with a default may be left out by a writer; the codec fills it in on decode.
        const optional = f.default !== undefined ? '?' : ''
        return `${doc}  ${f.name}${optional}: ${renderType(f.type, declared)}`
      })
      const doc = schema.doc ? `/** ${schema.doc} */\n` : ''
      declared.set(name, `${doc}export interface ${name} {\n${fields.join('\n')}\n}\n`)
      return name
    }
    case 'enum':
      return (schema.symbols ?? []).map((s) => `'${s}'`).join(' | ')
    case 'array':
      return `Array<${renderType(schema.items!, declared)}>`
    case 'map':
      return `Record<string, ${renderType(schema.values!, declared)}>`
    default:
      return primitive(schema.type, declared)
  }
}

function primitive(name: string, declared: Map<string, string>): string {
  switch (name) {
    case 'null': return 'null'
    case 'boolean': return 'boolean'
    case 'int': case 'long': case 'float': case 'double': return 'number'
    case 'string': return 'string'
    case 'bytes': return 'Buffer'
    default:
      if (declared.has(name)) return name
      throw new Error(`unknown Avro type ${name}`)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = join(schemaDir, '..', 'src', 'generated.ts')
  writeFileSync(out, renderTypes())
  console.log(`wrote ${out}`)
}
