/**
 * Hand-built execution plans for benchmarks and tests: per-layer shape inference for a list of
 * ops, and the reference LeNet-5 / MLP experiments on the embedded MNIST set. (The compiler builds
 * real plans from `.xbar` specs; this only fills in what the engine reads.)
 */

import type { LayerOp, Optimizer, PlanExperiment, PlanLayer, PlanNetwork, PlanTrain, Shape } from '../../src/model/plan.js';

export interface LayerSketch {
  name: string;
  op: LayerOp;
  /** Producer names; default: the previous layer (or "input" for the first). */
  inputs?: string[];
}

const product = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);

function window(size: number, k: number, s: number, p0: number, p1: number): number {
  return Math.floor((size + p0 + p1 - k) / s) + 1;
}

/** Output shape of one op given its (first) input shape. */
export function inferShape(op: LayerOp, input: Shape): Shape {
  switch (op.kind) {
    case 'dense':
      return [op.units];
    case 'conv2d':
      return [
        op.outChannels,
        window(input[1]!, op.kernel[0], op.stride[0], op.padding[0], op.padding[2]),
        window(input[2]!, op.kernel[1], op.stride[1], op.padding[1], op.padding[3]),
      ];
    case 'maxpool':
      return [
        input[0]!,
        window(input[1]!, op.kernel[0], op.stride[0], op.padding[0], op.padding[2]),
        window(input[2]!, op.kernel[1], op.stride[1], op.padding[1], op.padding[3]),
      ];
    case 'avgpool':
      return op.global
        ? [input[0]!, 1, 1]
        : [
            input[0]!,
            window(input[1]!, op.kernel[0], op.stride[0], op.padding[0], op.padding[2]),
            window(input[2]!, op.kernel[1], op.stride[1], op.padding[1], op.padding[3]),
          ];
    case 'flatten':
      return [product(input)];
    case 'relu':
    case 'sigmoid':
    case 'tanh':
    case 'batchnorm':
    case 'add':
      return [...input];
  }
}

function paramCount(op: LayerOp, input: Shape, output: Shape): number {
  switch (op.kind) {
    case 'dense':
      return product(input) * op.units + (op.bias ? op.units : 0);
    case 'conv2d':
      return input[0]! * op.kernel[0] * op.kernel[1] * op.outChannels + (op.bias ? op.outChannels : 0);
    case 'batchnorm':
      return 2 * output[0]!;
    default:
      return 0;
  }
}

export function buildNetwork(name: string, inputShape: Shape, classes: number, sketches: LayerSketch[]): PlanNetwork {
  const shapes = new Map<string, Shape>([['input', inputShape]]);
  const layers: PlanLayer[] = [];
  let previous = 'input';
  for (const s of sketches) {
    const inputs = s.inputs ?? [previous];
    const inShape = shapes.get(inputs[0]!)!;
    const outShape = inferShape(s.op, inShape);
    const K = s.op.kind === 'conv2d' ? inShape[0]! * s.op.kernel[0] * s.op.kernel[1] : product(inShape);
    const macs = s.op.kind === 'conv2d' ? K * product(outShape) : s.op.kind === 'dense' ? K * s.op.units : 0;
    const layer: PlanLayer = {
      name: s.name,
      op: s.op,
      inputs,
      inputShape: inShape,
      outputShape: outShape,
      params: paramCount(s.op, inShape, outShape),
      flopsPerSample: 2 * macs,
      activationBytesPerSample: 4 * product(outShape),
    };
    if (s.op.kind === 'conv2d' || s.op.kind === 'dense') {
      layer.mapping = { target: 'digital', matrix: { rows: K, cols: s.op.kind === 'dense' ? s.op.units : s.op.outChannels } };
    }
    layers.push(layer);
    shapes.set(s.name, outShape);
    previous = s.name;
  }
  return { name, inputShape, classes, layers };
}

// Op shorthands.
export const dense = (units: number, bias = true): LayerOp => ({ kind: 'dense', units, bias });
export const conv = (out: number, k: number, stride = 1, pad = 0, bias = true): LayerOp => ({
  kind: 'conv2d',
  outChannels: out,
  kernel: [k, k],
  stride: [stride, stride],
  padding: [pad, pad, pad, pad],
  bias,
});
export const relu = (): LayerOp => ({ kind: 'relu' });
export const sigmoid = (): LayerOp => ({ kind: 'sigmoid' });
export const tanh = (): LayerOp => ({ kind: 'tanh' });
export const maxpool = (k: number, stride = k, pad = 0): LayerOp => ({
  kind: 'maxpool',
  kernel: [k, k],
  stride: [stride, stride],
  padding: [pad, pad, pad, pad],
});
export const avgpool = (k: number, stride = k, pad = 0): LayerOp => ({
  kind: 'avgpool',
  kernel: [k, k],
  stride: [stride, stride],
  padding: [pad, pad, pad, pad],
  global: false,
});
export const globalAvgpool = (): LayerOp => ({ kind: 'avgpool', kernel: [1, 1], stride: [1, 1], padding: [0, 0, 0, 0], global: true });
export const batchnorm = (momentum = 0.1, epsilon = 1e-5): LayerOp => ({ kind: 'batchnorm', epsilon, momentum });
export const flatten = (): LayerOp => ({ kind: 'flatten' });
export const add = (): LayerOp => ({ kind: 'add' });

export function lenet5(): PlanNetwork {
  return buildNetwork('LeNet5', [1, 28, 28], 10, [
    { name: 'conv1', op: conv(6, 5, 1, 2) },
    { name: 'relu1', op: relu() },
    { name: 'pool1', op: maxpool(2) },
    { name: 'conv2', op: conv(16, 5) },
    { name: 'relu2', op: relu() },
    { name: 'pool2', op: maxpool(2) },
    { name: 'flatten', op: flatten() },
    { name: 'fc1', op: dense(120) },
    { name: 'relu3', op: relu() },
    { name: 'fc2', op: dense(84) },
    { name: 'relu4', op: relu() },
    { name: 'fc3', op: dense(10) },
  ]);
}

export function mlp(hidden: number[], inputShape: Shape = [1, 28, 28], classes = 10): PlanNetwork {
  const sketches: LayerSketch[] = [{ name: 'flatten', op: flatten() }];
  hidden.forEach((units, i) => {
    sketches.push({ name: `fc${i + 1}`, op: dense(units) }, { name: `relu${i + 1}`, op: relu() });
  });
  sketches.push({ name: `fc${hidden.length + 1}`, op: dense(classes) });
  return buildNetwork(`MLP-${hidden.join('-')}`, inputShape, classes, sketches);
}

export interface ExperimentSketch {
  network: PlanNetwork;
  train?: { epochs: number; batch: number; optimizer: Optimizer; schedule?: PlanTrain['schedule'] };
  mnist?: { train: number; test: number };
  evalBatch?: number;
  seed?: number;
}

/** A PlanExperiment on the embedded MNIST digits (normalized with the usual mean/std). */
export function mnistExperiment(s: ExperimentSketch): PlanExperiment {
  const exp: PlanExperiment = {
    name: s.network.name,
    fidelity: 'ideal',
    network: s.network,
    crossbars: {},
    data: { source: { kind: 'mnist', train: s.mnist?.train ?? 8000, test: s.mnist?.test ?? 2000 }, normalize: { mean: 0.1307, std: 0.3081 }, shuffle: true },
    evaluate: { batch: s.evalBatch ?? 500, time: 0, repeats: 1 },
    seed: s.seed ?? 7,
    outDir: 'out',
    estimate: { memoryBytes: 0, flopsPerTrainStep: 0, flopsPerEvalSample: 0 },
  };
  if (s.train)
    exp.train = {
      ...s.train,
      nonideal: [],
      schedule: s.train.schedule ?? { kind: 'constant' },
      sampling: 'shuffle',
      init: { kind: 'he_normal' },
      loss: 'cross_entropy',
      headroom: 1,
      programOffset: 0,
    };
  return exp;
}

export const sgd = (lr: number, momentum = 0, nesterov = false, weightDecay = 0): Optimizer => ({ kind: 'sgd', lr, momentum, nesterov, weightDecay });
export const adam = (lr: number, weightDecay = 0, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8): Optimizer => ({
  kind: 'adam',
  lr,
  beta1,
  beta2,
  epsilon,
  weightDecay,
});
