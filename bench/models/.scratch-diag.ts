import { attachOnnxExports, ensembleRegistry, loadEnsemble, trainEnsemble } from '@vigil/models'
import { readDataset } from './datasets/dataset-files.ts'
const { meta, train, test } = readDataset('stratosphere-zeek')
const artifact = attachOnnxExports(await trainEnsemble(train.rows, meta.featureNames, { members: [{ kind: 'isolation-forest' }, { kind: 'hbos' }, { kind: 'gaussian-mixture' }], seed: 1, targetAlertRate: 0.001 }))
const ts = await loadEnsemble(artifact, ensembleRegistry('typescript'))
const ox = await loadEnsemble(artifact, ensembleRegistry('onnx'))
const a = await ts.score(test.rows, { explain: 'none' }); const b = await ox.score(test.rows, { explain: 'none' })
for (let m = 0; m < 3; m++) { let mx = 0, at = 0; for (let i = 0; i < a.score.length; i++) { const d = Math.abs(a.members[m]![i]! - b.members[m]![i]!); if (d > mx) { mx = d; at = i } } console.log('member', m, mx, at, a.members[m]![at], b.members[m]![at]) }
let mx = 0, at = 0; for (let i = 0; i < a.score.length; i++) { const d = Math.abs(a.score[i]! - b.score[i]!); if (d > mx) { mx = d; at = i } }
console.log('final', mx, at, a.score[at], b.score[at], a.surprisal[at], b.surprisal[at])
const batches = Array.from({ length: Math.ceil(test.rows.length / 512) }, (_, i) => test.rows.slice(i * 512, (i + 1) * 512))
for (let k = 0; k < 3; k++) for (const [name, e] of [['ts', ts], ['onnx', ox]] as const) {
  const t0 = performance.now(); for (let r = 0; r < 5; r++) for (const bt of batches) await e.score(bt, { explain: 'none' }); console.log(name, ((5 * test.rows.length) / ((performance.now() - t0) / 1000)).toFixed(0))
}
await ts.close(); await ox.close()
