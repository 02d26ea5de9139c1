import type { EnsembleArtifact } from './ensemble-artifact.ts'

/**
 * A readable name per member, for scores and reports: the configured name (ONNX members have one),
 * else the kind, numbered when a kind appears more than once.
 */
export function memberNames(artifact: Pick<EnsembleArtifact, 'members'>): string[] {
  const base = artifact.members.map((m) => (typeof m.params.name === 'string' ? m.params.name : m.kind))
  return base.map((name, i) => (base.indexOf(name) !== base.lastIndexOf(name) ? `${name}#${base.slice(0, i + 1).filter((n) => n === name).length}` : name))
}
