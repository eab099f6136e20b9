import type * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { type DenseStep, denseSteps } from '../engine/index.js';

const { onnx } = onnxProto;

/**
 * Opset 13: Softmax there normalises along one axis (older opsets flattened the trailing axes),
 * and every runtime in use reads it (ONNX Runtime, Triton's ONNX backend, onnxruntime-web).
 */
export const ONNX_OPSET = 13;
/** The IR version that opset 13 shipped with, the oldest a reader must understand. */
const IR_VERSION = 7;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

/** The names every exported graph uses: the input as the v2 metadata names it, and two outputs. */
export const ONNX_NAMES = { input: 'input', logits: 'logits', probabilities: 'probabilities' } as const;

/** The model's dense stack (engine/forward's reading of it); throws saying why a model is not one. */
export function denseLayers(model: tf.LayersModel): DenseStep[] {
  const steps = denseSteps(model);
  if (typeof steps === 'string') throw new Error(`cannot export ${model.name} to ONNX: ${steps}`);
  if (steps.at(-1)!.relu) {
    throw new Error(`cannot export ${model.name} to ONNX: it must end in a linear Dense layer (its logits)`);
  }
  return steps;
}

function floatTensor(name: string, dims: number[], values: Float32Array): onnxProto.onnx.ITensorProto {
  // ONNX stores raw_data little-endian, as every platform tfjs and ONNX Runtime run on is.
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

function floatInput(name: string, width: number): onnxProto.onnx.IValueInfoProto {
  return { name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } } } };
}

export interface OnnxOptions {
  /** The graph's name, shown by Netron and in ONNX Runtime's profiles. */
  name: string;
  /** What the graph is, for a reader of the file. */
  docString: string;
  /** A specialist's: added to the last (dustbin) logit before the softmax, as the server does. */
  dustbinOffset?: number;
  producerVersion: string;
}

/**
 * A ReLU MLP as an ONNX model: input `input` [batch, features] float32; outputs `logits` (the
 * model's own, without the dustbin offset) and `probabilities` = softmax(logits + offset) at T = 1.
 * For a temperature T, take softmax(logits / T) from the `logits` output.
 *
 * @example
 *   writeFileSync('student.onnx', mlpToOnnx(model, { name: 'student', docString: '…', producerVersion: '1.0.0' }));
 */
export function mlpToOnnx(model: tf.LayersModel, options: OnnxOptions): Uint8Array {
  const layers = denseLayers(model);
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializer: onnxProto.onnx.ITensorProto[] = [];
  let previous: string = ONNX_NAMES.input;
  layers.forEach((layer, i) => {
    const last = i === layers.length - 1;
    const linear = last ? ONNX_NAMES.logits : `${layer.name}_linear`;
    const weights = [floatTensor(`${layer.name}_kernel`, [layer.inputs, layer.units], layer.kernel)];
    if (layer.bias) weights.push(floatTensor(`${layer.name}_bias`, [layer.units], layer.bias));
    initializer.push(...weights);
    nodes.push({ name: `${layer.name}_gemm`, opType: 'Gemm', input: [previous, ...weights.map((w) => w.name!)],
      output: [linear] });
    if (layer.relu) nodes.push({ name: `${layer.name}_relu`, opType: 'Relu', input: [linear], output: [layer.name] });
    previous = layer.relu ? layer.name : linear;
  });
  const classes = layers.at(-1)!.units;
  let scores: string = ONNX_NAMES.logits;
  if (options.dustbinOffset !== undefined) {
    const offsets = new Float32Array(classes);
    offsets[classes - 1] = options.dustbinOffset;
    initializer.push(floatTensor('dustbin_offset', [classes], offsets));
    nodes.push({ name: 'dustbin_offset_add', opType: 'Add', input: [ONNX_NAMES.logits, 'dustbin_offset'],
      output: ['offset_logits'] });
    scores = 'offset_logits';
  }
  const axis = { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 };
  nodes.push({ name: 'softmax', opType: 'Softmax', input: [scores], output: [ONNX_NAMES.probabilities],
    attribute: [axis] });
  const graph: onnxProto.onnx.IGraphProto = {
    name: options.name,
    docString: options.docString,
    node: nodes,
    initializer,
    input: [floatInput(ONNX_NAMES.input, layers[0].inputs)],
    output: [floatInput(ONNX_NAMES.logits, classes), floatInput(ONNX_NAMES.probabilities, classes)],
  };
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'distill-serve',
    producerVersion: options.producerVersion,
    graph,
  });
  return onnx.ModelProto.encode(proto).finish();
}
