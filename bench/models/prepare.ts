// Prepares the labeled sets of ../shared/data as feature matrices (train.csv, test.csv, meta.json)
// under .cache/bench/models/<set>/, for accuracy.ts and sklearn_peers.py alike. The Zeek and
// honeynet sets run through Vigil's featurizer, whose windows need Redis: REDIS_URL, else the stack.
// Run: npx tsx bench/models/prepare.ts [dataset ...]
import { stackFromEnv, startNativeStack } from '@vigil/testkit'
import { DATASET_NAMES, prepareDatasets } from './datasets/prepare-datasets.ts'

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : DATASET_NAMES
let redis: string | undefined
const redisUrl = () => (redis ??= process.env.REDIS_URL ?? (stackFromEnv() ?? startNativeStack()).REDIS_URL)
for (const meta of await prepareDatasets(names, redisUrl)) {
  const share = (x: number) => `${(100 * x).toFixed(1)}% attacks`
  console.log(`${meta.name}: ${meta.featureNames.length} features, train ${meta.trainRows} rows (${share(meta.trainAttackShare)}), `
    + `test ${meta.testRows} rows (${share(meta.testAttackShare)})${meta.families ? `, families ${JSON.stringify(meta.families)}` : ''}`)
}
