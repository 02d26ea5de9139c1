import onnxProto from 'onnx-proto'
import { averagePathLengthOf, treeCount, type FlatForest } from '../forest/flat-forest.ts'

const { onnx } = onnxProto

/** The input and output names of an exported forest. */
export const FOREST_ONNX_INPUT = 'features'
export const FOREST_ONNX_OUTPUT = 'score'

/**
 * Opsets the graph declares: IR 8 and opset 15 (ONNX 1.10, the protobuf definition onnx-proto 8
 * carries), ai.onnx.ml 3 for TreeEnsembleRegressor. onnxruntime-node 1.30 runs all of them.
 */
const IR_VERSION = 8
const OPSET = 15
const ML_OPSET = 3

/**
 * Exports an isolation forest as an ONNX model: input `features` float32 [N, featureCount], output
 * `score` float32 [N, 1], the same 2^(-E[h(x)] / c(ψ)) the TypeScript scorer gives. A
 * TreeEnsembleRegressor averages the trees' leaf values (the path lengths h(x)), then Mul and Exp
 * turn E[h] into exp(E[h] * (-ln 2 / c(ψ))). Splits are BRANCH_LT on the forest's float32
 * thresholds, so onnxruntime walks exactly the paths the TypeScript scorer walks; the averaging in
 * float32 differs from the TypeScript float64 sum by far less than 1e-5 in the score.
 */
export function forestToOnnx(forest: FlatForest, options: { featureNames?: readonly string[] } = {}): Uint8Array {
  const trees = treeCount(forest)
  const split = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    modes: [] as Uint8Array[],
    values: [] as number[],
    trueIds: [] as number[],
    falseIds: [] as number[],
  }
  const leaf = { treeIds: [] as number[], nodeIds: [] as number[], targetIds: [] as number[], weights: [] as number[] }
  const BRANCH_LT = utf8('BRANCH_LT')
  const LEAF = utf8('LEAF')
  for (let t = 0; t < trees; t++) {
    const root = forest.treeStart[t]!
    for (let i = root; i < forest.treeStart[t + 1]!; i++) {
      const isLeaf = forest.feature[i]! < 0
      split.treeIds.push(t)
      split.nodeIds.push(i - root)
      split.featureIds.push(isLeaf ? 0 : forest.feature[i]!)
      split.modes.push(isLeaf ? LEAF : BRANCH_LT)
      split.values.push(isLeaf ? 0 : forest.threshold[i]!)
      split.trueIds.push(isLeaf ? 0 : forest.left[i]! - root)
      split.falseIds.push(isLeaf ? 0 : forest.right[i]! - root)
      if (isLeaf) {
        leaf.treeIds.push(t)
        leaf.nodeIds.push(i - root)
        leaf.targetIds.push(0)
        leaf.weights.push(forest.pathLength[i]!)
      }
    }
  }

  const ensemble = onnx.NodeProto.create({
    name: 'path_length',
    opType: 'TreeEnsembleRegressor',
    domain: 'ai.onnx.ml',
    input: [FOREST_ONNX_INPUT],
    output: ['mean_path_length'],
    attribute: [
      ints('nodes_treeids', split.treeIds),
      ints('nodes_nodeids', split.nodeIds),
      ints('nodes_featureids', split.featureIds),
      strings('nodes_modes', split.modes),
      floats('nodes_values', split.values),
      ints('nodes_truenodeids', split.trueIds),
      ints('nodes_falsenodeids', split.falseIds),
      ints('target_treeids', leaf.treeIds),
      ints('target_nodeids', leaf.nodeIds),
      ints('target_ids', leaf.targetIds),
      floats('target_weights', leaf.weights),
      int('n_targets', 1),
      string('aggregate_function', 'AVERAGE'),
      string('post_transform', 'NONE'),
    ],
  })
  const exponent = onnx.TensorProto.create({
    name: 'minus_ln2_over_c',
    dataType: onnx.TensorProto.DataType.FLOAT,
    dims: [],
    floatData: [-Math.LN2 / averagePathLengthOf(forest.sampleSize)],
  })
  const graph = onnx.GraphProto.create({
    name: 'isolation_forest',
    node: [
      ensemble,
      onnx.NodeProto.create({ name: 'scale', opType: 'Mul', input: ['mean_path_length', exponent.name], output: ['log_score'] }),
      onnx.NodeProto.create({ name: 'score', opType: 'Exp', input: ['log_score'], output: [FOREST_ONNX_OUTPUT] }),
    ],
    initializer: [exponent],
    input: [floatMatrix(FOREST_ONNX_INPUT, forest.featureCount)],
    output: [floatMatrix(FOREST_ONNX_OUTPUT, 1)],
  })
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }, { domain: 'ai.onnx.ml', version: ML_OPSET }],
    producerName: 'vigil',
    graph,
    docString: `isolation forest: ${trees} trees, ψ = ${forest.sampleSize}; score = 2^(-E[h(x)] / c(ψ)), higher = more anomalous`,
    metadataProps: options.featureNames ? [{ key: 'feature_names', value: JSON.stringify(options.featureNames) }] : [],
  })
  return onnx.ModelProto.encode(model).finish()
}

function floatMatrix(name: string, columns: number) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'N' }, { dimValue: columns }] },
      },
    },
  })
}

const { AttributeType } = onnx.AttributeProto
const utf8 = (s: string) => new TextEncoder().encode(s)
const int = (name: string, i: number) => onnx.AttributeProto.create({ name, type: AttributeType.INT, i })
const ints = (name: string, values: number[]) => onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: values })
const floats = (name: string, values: number[]) => onnx.AttributeProto.create({ name, type: AttributeType.FLOATS, floats: values })
const string = (name: string, s: string) => onnx.AttributeProto.create({ name, type: AttributeType.STRING, s: utf8(s) })
const strings = (name: string, values: Uint8Array[]) => onnx.AttributeProto.create({ name, type: AttributeType.STRINGS, strings: values })
