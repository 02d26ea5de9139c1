import { seededRandom } from '../../packages/models/src/detector.ts'
import { loadEnsemble } from '../../packages/models/src/ensemble/load-ensemble.ts'
import { ensembleMembers, type EnsembleMemberKind } from '../../packages/models/src/ensemble/registry.ts'
import type { EnsembleConfig } from '../../packages/models/src/ensemble/train-ensemble.ts'
import { Config as TrainerConfig } from '../../services/trainer/src/config.ts'
import { ensembleSettings } from '../../services/trainer/src/training/ensemble-settings.ts'
import { trainEnsemble } from '../../packages/models/src/ensemble/train-ensemble.ts'
import { scoreForest, trainForest } from '../../packages/models/src/isolation-forest.ts'

/** Anomaly scores of rows, higher = more anomalous. */
export type Scorer = (rows: number[][]) => Float64Array | Promise<Float64Array>

/** One row of the benchmark's tables on the TypeScript side. */
export interface Candidate {
  name: string
  /** what differs from the package's defaults, for the report */
  note: string
  /** trains without labels and returns the trained model's scorer */
  train(rows: number[][], featureNames: string[], seed: number): Promise<Scorer>
}

/** The baseline forest as the trainer ran it when it was the trainer's model (TRAIN_MAX_ROWS 4096 then, the newest rows): it sees at most the newest 4096 rows. */
const BASELINE_MAX_ROWS = 4096
const BASELINE_TREES = 100

/** The trainer's TRAIN_MEMBERS default: what the 'ensemble' candidate runs. */
export const DEFAULT_WEIGHTING = trainerDefaults().TRAIN_MEMBERS

/** TRAIN_MEMBERS values set beside the default; the first is the former default. */
export const ALTERNATIVE_WEIGHTINGS = [
  'isolation-forest:1,hbos:1,gaussian-mixture:1',
  'isolation-forest:1,gaussian-mixture:1,knn-distance:2',
  'isolation-forest:1,hbos:1,gaussian-mixture:1,knn-distance:4',
]

/** The name of the candidate for an alternative TRAIN_MEMBERS. */
export function weightingName(spec: string): string {
  return `ensemble, TRAIN_MEMBERS=${spec}`
}

/** Every TypeScript candidate: each built-in ensemble member alone, the ensemble, and the ml-isolation-forest baseline. */
export const candidates: Candidate[] = [
  ...Object.values(ensembleMembers).map(member),
  {
    ...weighting(DEFAULT_WEIGHTING),
    name: 'ensemble',
    note: `the ensemble the trainer ships by default (TRAIN_MEMBERS=${DEFAULT_WEIGHTING}), default settings; `
      + 'ranked by surprisal (the score before it rounds to 1), scored with explain: none as score_samples explains nothing',
  },
  // Other weightings the default was chosen from (REPORT.md, "Choosing the default ensemble").
  ...ALTERNATIVE_WEIGHTINGS.map(weighting),
  {
    name: 'ensemble, every member',
    note: `trainEnsemble with every built-in member (${Object.keys(ensembleMembers).join(', ')}), weight 1, default settings`,
    async train(rows, featureNames, seed) {
      return ensembleOf(rows, featureNames, { members: Object.keys(ensembleMembers).map((kind) => ({ kind })), seed })
    },
  },
  {
    name: 'ml-isolation-forest (baseline)',
    note: `the former model: trainForest/scoreForest, ${BASELINE_TREES} trees on the last ${BASELINE_MAX_ROWS} training rows (the trainer's default then), `
      + 'Math.random seeded while it trains',
    async train(rows, _featureNames, seed) {
      const forest = withSeededMathRandom(seed, () => trainForest(rows.slice(-BASELINE_MAX_ROWS), BASELINE_TREES))
      return (scoreRows) => Float64Array.from(scoreForest(forest, scoreRows))
    },
  },
]

function weighting(spec: string): Candidate {
  return {
    name: weightingName(spec),
    note: 'the ensemble as the trainer builds it with this TRAIN_MEMBERS, other settings default',
    async train(rows, featureNames, seed) {
      return ensembleOf(rows, featureNames, { ...ensembleSettings({ ...trainerDefaults(), TRAIN_MEMBERS: spec }, featureNames), seed })
    },
  }
}

function member(kind: EnsembleMemberKind): Candidate {
  return {
    name: kind.kind,
    note: `alone, defaults ${JSON.stringify(kind.defaults)}`,
    async train(rows, _featureNames, seed) {
      const detector = await kind.train(rows, kind.defaults as never, seed)
      return (scoreRows) => detector.score(scoreRows)
    },
  }
}

// ml-isolation-forest draws from Math.random; a seeded stand-in makes its row reproducible.
function withSeededMathRandom<T>(seed: number, run: () => T): T {
  const original = Math.random
  Math.random = seededRandom(seed)
  try {
    return run()
  } finally {
    Math.random = original
  }
}

async function ensembleOf(rows: number[][], featureNames: string[], config: EnsembleConfig) {
  const ensemble = await loadEnsemble(await trainEnsemble(rows, featureNames, config))
  return async (scoreRows: number[][]) => (await ensemble.score(scoreRows, { explain: 'none' })).surprisal
}

function trainerDefaults(): TrainerConfig {
  return TrainerConfig.parse({ KAFKA_BROKERS: 'unused:9092', PG_URL: 'postgres://unused' })
}
