import { writeDataset, type DatasetMeta } from './dataset-files.ts'
import { prepareCsic2010Requests } from './csic2010-requests.ts'
import type { PreparedDataset } from './labeled-matrix.ts'
import { prepareNslKdd } from './nsl-kdd.ts'
import { prepareSotm34Honeynet } from './sotm34-honeynet.ts'
import { prepareStratosphereZeek } from './stratosphere-zeek.ts'
import { prepareUnswNb15 } from './unsw-nb15.ts'
import { createVigilFeaturizer, type VigilFeaturizer } from './vigil-featurizer.ts'

/** How each labeled set becomes a matrix; the last two run through Vigil's featurizer (Redis). */
const PREPARERS: Record<string, (featurizer: () => Promise<VigilFeaturizer>) => Promise<PreparedDataset>> = {
  'nsl-kdd': async () => prepareNslKdd(),
  'unsw-nb15': async () => prepareUnswNb15(),
  'csic2010-requests': async () => prepareCsic2010Requests(),
  'stratosphere-zeek': async (featurizer) => prepareStratosphereZeek(await featurizer()),
  'sotm34-honeynet': async (featurizer) => prepareSotm34Honeynet(await featurizer()),
}

export const DATASET_NAMES = Object.keys(PREPARERS)

/** Prepares the named sets and writes their matrices; each featurized set gets a featurizer (and Redis keys) of its own. */
export async function prepareDatasets(names: readonly string[], redisUrl: () => string): Promise<DatasetMeta[]> {
  const written = []
  for (const name of names) {
    const prepare = PREPARERS[name]
    if (!prepare) throw new Error(`unknown dataset '${name}' (known: ${DATASET_NAMES.join(', ')})`)
    let featurizer: VigilFeaturizer | null = null
    try {
      const dataset = await prepare(async () => (featurizer = await createVigilFeaturizer(redisUrl())))
      written.push(writeDataset(dataset))
    } finally {
      await (featurizer as VigilFeaturizer | null)?.close()
    }
  }
  return written
}
