// Writes the FeatureVector record of avro/features.avsc and docs/features.md from the feature
// definitions in src/features.ts, the one place a feature is defined. Part of `npm run generate`.
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FEATURE_WINDOW_SECONDS, featureDefinitions } from '../src/features.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const FEATURES_SCHEMA = join(root, 'avro', 'features.avsc')
export const FEATURES_DOC = join(root, '..', 'docs', 'features.md')

/** features.avsc with its FeatureVector fields as the definitions say. */
export function renderFeatureSchema(): string {
  const schema = JSON.parse(readFileSync(FEATURES_SCHEMA, 'utf8')) as { fields: Array<{ name: string; type: { fields: unknown[] } }> }
  const vector = schema.fields.find((f) => f.name === 'vector')!
  vector.type.fields = featureDefinitions.map((f) => ({ name: f.name, type: 'double', doc: `${f.description} (${f.unit})` }))
  return `${JSON.stringify(schema, null, 2)}\n`
}

/** The feature table for people. */
export function renderFeatureDoc(): string {
  const rows = featureDefinitions.map((f, i) =>
    `| ${i} | \`${f.name}\` | ${f.group} | ${f.families.join(', ')} | ${f.unit} | ${f.defaultValue} | ${f.description} |`)
  return [
    '# Features',
    '',
    'Generated from `schemas/src/features.ts` by `npm run generate -w @vigil/schemas`; do not edit.',
    `Every event of every family gets every feature, in this order (the models' input order). Windows are`,
    `per entity (source IP, else the client's host name where the line names it only so, else the host that logged it; an sshd line that names no client takes the address an earlier line of its connection, the same sshd process, named; not the user, whose events come from many hosts in no fixed order) over ${FEATURE_WINDOW_SECONDS} s of event time ending at the event;`,
    'a feature that does not apply to an event\'s family takes its default.',
    '',
    '| # | name | group | families | unit | default | definition |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(FEATURES_SCHEMA, renderFeatureSchema())
  writeFileSync(FEATURES_DOC, renderFeatureDoc())
  console.log(`wrote ${FEATURES_SCHEMA} and ${FEATURES_DOC}`)
}
