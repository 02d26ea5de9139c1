import { readFileSync } from 'node:fs'
import { ensembleMembers, onnxDetectorKind, type EnsembleConfig, type EnsembleMemberConfig } from '@vigil/models'
import { z } from 'zod'
import type { Config } from '../config.ts'

/** A model a user drops in as a member: an ONNX file reading some of our features (e.g. scikit-learn via skl2onnx). */
const OnnxMemberEntry = z.object({
  name: z.string().min(1),
  file: z.string().min(1),
  inputFeatures: z.array(z.string().min(1)).min(1),
  output: z.string().optional(),
  outputColumn: z.number().int().min(0).optional(),
  direction: z.enum(['higher-is-anomalous', 'lower-is-anomalous']),
  weight: z.number().min(0).default(1),
})
const OnnxMembersFile = z.array(OnnxMemberEntry)

/** What a version is trained with, from configuration: members, weights, threshold rule and seed. */
export function ensembleSettings(config: Config, featureNames: readonly string[]): EnsembleConfig {
  const members: EnsembleMemberConfig[] = config.TRAIN_MEMBERS.split(',').map((spec) => {
    const [kind = '', weight = '1', ...rest] = spec.trim().split(':')
    if (!Object.hasOwn(ensembleMembers, kind)) throw new Error(`TRAIN_MEMBERS: unknown member '${kind}' (known: ${Object.keys(ensembleMembers).join(', ')})`)
    // Number('') is 0: 'isolation-forest:' would silently weigh the forest out of the ensemble.
    const w = weight.trim() === '' || rest.length > 0 ? NaN : Number(weight)
    if (!(w >= 0)) throw new Error(`TRAIN_MEMBERS: weight of ${kind} must be a number >= 0, got '${[weight, ...rest].join(':')}'`)
    return { kind, weight: w }
  })
  if (config.ONNX_MEMBERS_FILE) members.push(...onnxMembers(config.ONNX_MEMBERS_FILE, featureNames))
  return {
    members,
    seed: config.TRAIN_SEED,
    ...(config.MODEL_THRESHOLD === undefined ? { targetAlertRate: config.MODEL_TARGET_ALERT_RATE } : { threshold: config.MODEL_THRESHOLD }),
  }
}

function onnxMembers(path: string, featureNames: readonly string[]): EnsembleMemberConfig[] {
  let entries
  try {
    entries = OnnxMembersFile.parse(JSON.parse(readFileSync(path, 'utf8')))
  } catch (cause) {
    throw new Error(`ONNX_MEMBERS_FILE ${path}: ${(cause as Error).message}`, { cause })
  }
  return entries.map((e) => {
    const columns = columnsOf(e.inputFeatures, featureNames, `ONNX_MEMBERS_FILE ${path}: member ${e.name}`)
    return {
      kind: onnxDetectorKind.kind,
      weight: e.weight,
      params: { name: e.name, file: e.file, inputFeatures: e.inputFeatures, columns, direction: e.direction, ...(e.output ? { output: e.output } : {}), ...(e.outputColumn === undefined ? {} : { outputColumn: e.outputColumn }) },
    }
  })
}

/** Where each of `inputFeatures` sits among `featureNames`; throws (saying `who` reads it) for one that is not there. */
function columnsOf(inputFeatures: readonly string[], featureNames: readonly string[], who: string): number[] {
  return inputFeatures.map((f) => {
    const at = featureNames.indexOf(f)
    if (at < 0) throw new Error(`${who} reads '${f}', which is not a feature`)
    return at
  })
}

/** The features members read by name (user ONNX members' input features): every version keeps them. */
export function featuresReadByMembers(settings: EnsembleConfig): Set<string> {
  return new Set(settings.members.flatMap((m) => inputFeaturesOf(m) ?? []))
}

/**
 * The settings of a version over `featureNames` (fewer than the history's when it leaves clock
 * features out): each ONNX member's columns point at its input features among them.
 */
export function settingsOver(settings: EnsembleConfig, featureNames: readonly string[]): EnsembleConfig {
  return {
    ...settings,
    members: settings.members.map((m) => {
      const inputFeatures = inputFeaturesOf(m)
      return inputFeatures ? { ...m, params: { ...m.params, columns: columnsOf(inputFeatures, featureNames, `ONNX member ${String(m.params?.name)}`) } } : m
    }),
  }
}

function inputFeaturesOf(member: EnsembleMemberConfig): string[] | undefined {
  const inputFeatures = member.params?.inputFeatures
  return Array.isArray(inputFeatures) ? inputFeatures as string[] : undefined
}
