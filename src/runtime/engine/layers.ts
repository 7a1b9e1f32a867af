/**
 * Per-op forward and backward emitters. Each op declares its trainable parameters and buffers,
 * emits its forward (in train or eval mode) and, given the gradient of its output, the gradients
 * of its inputs and parameters. Tensors carry a dynamic batch dimension first; `layer.inputShape`
 * and `layer.outputShape` give the per-sample shapes.
 */

import type { Conv2dOp, PlanLayer } from '../../model/plan.js';
import { XbarcRuntimeError } from '../../model/errors.js';
import { convOutputPadding, type MvmEmitter, type MvmForward, type MvmSpec } from './mvm.js';
import { DataType, f, type GraphBuilder } from './onnx.js';

/** Batch normalization's statistics: of the batch (and update the running ones), or the running ones. */
export type Statistics = 'batch' | 'running';
export type ParamRole = 'weight' | 'bias' | 'gamma' | 'beta';
export type BufferRole = 'running_mean' | 'running_var';

export interface ParamDecl {
  role: ParamRole;
  dims: number[];
  /** Weight decay applies (weights only: not biases, not batchnorm). */
  decay: boolean;
  init: { kind: 'he'; fanIn: number } | { kind: 'zeros' } | { kind: 'ones' };
}

export interface BufferDecl {
  role: BufferRole;
  dims: number[];
  init: 'zeros' | 'ones';
}

export interface LayerCtx {
  g: GraphBuilder;
  layer: PlanLayer;
  statistics: Statistics;
  /** Whether a backward pass follows (layers then save what their backward needs). */
  differentiable: boolean;
  param(role: ParamRole): string;
  buffer(role: BufferRole): string;
  /** The MVM emitter chosen for this layer (weighted layers only). */
  mvm(spec: MvmSpec): MvmEmitter;
}

export interface LayerForward {
  y: string;
  /** Tensors the backward reuses. */
  saved: Record<string, string>;
  mvm?: MvmForward;
  /** New values of buffers (train mode batchnorm), by role. */
  bufferUpdates?: Partial<Record<BufferRole, string>> | undefined;
}

export interface LayerBackward {
  /** Gradient per input (null: input not differentiable / not needed). */
  dInputs: (string | null)[];
  dParams: Partial<Record<ParamRole, string>>;
}

export interface LayerEmitter {
  params(layer: PlanLayer): ParamDecl[];
  buffers(layer: PlanLayer): BufferDecl[];
  forward(ctx: LayerCtx, xs: string[]): LayerForward;
  backward(ctx: LayerCtx, dy: string, xs: string[], fwd: LayerForward): LayerBackward;
}

const product = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);

/** Reshape a batched tensor to [B, ...perSample]. */
function toBatched(g: GraphBuilder, t: string, perSample: number[]): string {
  return g.op('Reshape', [t, g.constInt64([-1, ...perSample])]);
}

/** Batch size as a float scalar-like [1] tensor (the batch dimension is dynamic). */
export function batchSizeFloat(g: GraphBuilder, t: string): string {
  return g.op('Cast', [g.op('Shape', [t], { start: 0, end: 1 })], { to: DataType.FLOAT });
}

// ---------------------------------------------------------------------------------------------

function denseSpec(layer: PlanLayer): MvmSpec {
  const op = layer.op as Extract<PlanLayer['op'], { kind: 'dense' }>;
  return { kind: 'dense', layer: layer.name, K: product(layer.inputShape), N: op.units };
}

const dense: LayerEmitter = {
  params(layer) {
    const op = layer.op as Extract<PlanLayer['op'], { kind: 'dense' }>;
    const K = product(layer.inputShape);
    const decls: ParamDecl[] = [{ role: 'weight', dims: [K, op.units], decay: true, init: { kind: 'he', fanIn: K } }];
    if (op.bias) decls.push({ role: 'bias', dims: [op.units], decay: false, init: { kind: 'zeros' } });
    return decls;
  },
  buffers: () => [],
  forward(ctx, [x]) {
    const { g, layer } = ctx;
    // A dense layer on an image flattens it implicitly.
    const x2 = layer.inputShape.length > 1 ? g.op('Flatten', [x!], { axis: 1 }) : x!;
    const spec = denseSpec(layer);
    const mvm = ctx.mvm(spec).forward(g, spec, x2, ctx.param('weight'));
    const y = (layer.op as { bias: boolean }).bias ? g.op('Add', [mvm.y, ctx.param('bias')]) : mvm.y;
    return { y, saved: { x2 }, mvm };
  },
  backward(ctx, dy, _xs, fwd) {
    const { g, layer } = ctx;
    const spec = denseSpec(layer);
    const emitter = ctx.mvm(spec);
    const x2 = fwd.saved['x2']!;
    const dx2 = emitter.backwardInput(g, spec, dy, ctx.param('weight'), fwd.mvm!);
    const dx = layer.inputShape.length > 1 ? toBatched(g, dx2, layer.inputShape) : dx2;
    const dParams: LayerBackward['dParams'] = { weight: emitter.backwardWeight(g, spec, dy, x2, fwd.mvm!) };
    if ((layer.op as { bias: boolean }).bias) dParams.bias = g.op('ReduceSum', [dy, g.constInt64([0])], { keepdims: 0 });
    return { dInputs: [dx], dParams };
  },
};

// ---------------------------------------------------------------------------------------------

/** The conv geometry, checked against the plan's output shape. */
export function convSpec(layer: PlanLayer): MvmSpec & { kind: 'conv2d' } {
  const op = layer.op as Conv2dOp;
  const [C, H, W] = layer.inputShape as [number, number, number];
  const [pt, pl, pb, pr] = op.padding;
  const Ho = Math.floor((H + pt + pb - op.kernel[0]) / op.stride[0]) + 1;
  const Wo = Math.floor((W + pl + pr - op.kernel[1]) / op.stride[1]) + 1;
  const [O, pHo, pWo] = layer.outputShape;
  if (layer.inputShape.length !== 3 || O !== op.outChannels || pHo !== Ho || pWo !== Wo) {
    throw new XbarcRuntimeError(
      'engine/shape',
      `layer "${layer.name}": conv2d output shape [${layer.outputShape.join(', ')}] does not match input [${layer.inputShape.join(', ')}] with this kernel/stride/padding (expected [${op.outChannels}, ${Ho}, ${Wo}])`,
    );
  }
  return { kind: 'conv2d', layer: layer.name, C, H, W, O, kernel: op.kernel, stride: op.stride, pads: op.padding, Ho, Wo };
}

const conv2d: LayerEmitter = {
  params(layer) {
    const op = layer.op as Conv2dOp;
    const fanIn = layer.inputShape[0]! * op.kernel[0] * op.kernel[1];
    const decls: ParamDecl[] = [{ role: 'weight', dims: [op.outChannels, layer.inputShape[0]!, ...op.kernel], decay: true, init: { kind: 'he', fanIn } }];
    if (op.bias) decls.push({ role: 'bias', dims: [op.outChannels], decay: false, init: { kind: 'zeros' } });
    return decls;
  },
  buffers: () => [],
  forward(ctx, [x]) {
    const { g, layer } = ctx;
    const spec = convSpec(layer);
    const mvm = ctx.mvm(spec).forward(g, spec, x!, ctx.param('weight'));
    const y = (layer.op as Conv2dOp).bias ? g.op('Add', [mvm.y, channelVector(g, ctx.param('bias'), spec.O, 4)]) : mvm.y;
    return { y, saved: {}, mvm };
  },
  backward(ctx, dy, [x], fwd) {
    const { g, layer } = ctx;
    const spec = convSpec(layer);
    const emitter = ctx.mvm(spec);
    const dParams: LayerBackward['dParams'] = { weight: emitter.backwardWeight(g, spec, dy, x!, fwd.mvm!) };
    if ((layer.op as Conv2dOp).bias) dParams.bias = g.op('ReduceSum', [dy, g.constInt64([0, 2, 3])], { keepdims: 0 });
    return { dInputs: [emitter.backwardInput(g, spec, dy, ctx.param('weight'), fwd.mvm!)], dParams };
  },
};

/** A per-channel vector [C] reshaped to broadcast over a rank-`rank` batched tensor. */
function channelVector(g: GraphBuilder, v: string, channels: number, rank: number): string {
  return g.op('Reshape', [v, g.constInt64([1, channels, ...Array<number>(rank - 2).fill(1)])]);
}

// ---------------------------------------------------------------------------------------------

const relu: LayerEmitter = {
  params: () => [],
  buffers: () => [],
  forward(ctx, [x]) {
    return { y: ctx.g.op('Relu', [x!]), saved: {} };
  },
  backward(ctx, dy, _xs, fwd) {
    const { g } = ctx;
    const zero = g.scalar(0);
    return { dInputs: [g.op('Where', [g.op('Greater', [fwd.y, zero]), dy, zero])], dParams: {} };
  },
};

/** Backward from the saved output s = σ(x): dx = dy · s · (1 − s) (no recomputation of σ). */
const sigmoid: LayerEmitter = {
  params: () => [],
  buffers: () => [],
  forward(ctx, [x]) {
    return { y: ctx.g.op('Sigmoid', [x!]), saved: {} };
  },
  backward(ctx, dy, _xs, fwd) {
    const { g } = ctx;
    const slope = g.op('Mul', [fwd.y, g.op('Sub', [g.scalar(1), fwd.y])]);
    return { dInputs: [g.op('Mul', [dy, slope])], dParams: {} };
  },
};

/** Backward from the saved output t = tanh(x): dx = dy · (1 − t²). */
const tanh: LayerEmitter = {
  params: () => [],
  buffers: () => [],
  forward(ctx, [x]) {
    return { y: ctx.g.op('Tanh', [x!]), saved: {} };
  },
  backward(ctx, dy, _xs, fwd) {
    const { g } = ctx;
    const slope = g.op('Sub', [g.scalar(1), g.op('Mul', [fwd.y, fwd.y])]);
    return { dInputs: [g.op('Mul', [dy, slope])], dParams: {} };
  },
};

// ---------------------------------------------------------------------------------------------

const maxpool: LayerEmitter = {
  params: () => [],
  buffers: () => [],
  forward(ctx, [x]): LayerForward {
    const { g, layer } = ctx;
    const op = layer.op as Extract<PlanLayer['op'], { kind: 'maxpool' }>;
    const attrs = { kernel_shape: [...op.kernel], strides: [...op.stride], pads: [...op.padding] };
    if (!ctx.differentiable) return { y: g.op('MaxPool', [x!], attrs), saved: {} };
    const [y, indices] = g.node('MaxPool', [x!], attrs, 2);
    return { y: y!, saved: { indices: indices! } };
  },
  /**
   * Rule 3: route each output gradient to the element MaxPool picked, using its Indices output
   * (flat NCHW offsets into the unpadded input). ScatterElements with reduction "add" sums the
   * contributions of overlapping windows that picked the same element.
   */
  backward(ctx, dy, [x], fwd) {
    const { g, layer } = ctx;
    const perSample = product(layer.inputShape);
    const total = g.op('Mul', [g.op('Shape', [x!], { start: 0, end: 1 }), g.constInt64([perSample])]);
    const zeros = g.zerosOfShape(total);
    const flat = g.constInt64([-1]);
    const scattered = g.op('ScatterElements', [zeros, g.op('Reshape', [fwd.saved['indices']!, flat]), g.op('Reshape', [dy, flat])], {
      axis: 0,
      reduction: 'add',
    });
    return { dInputs: [toBatched(g, scattered, layer.inputShape)], dParams: {} };
  },
};

// ---------------------------------------------------------------------------------------------

/** Average pooling counts padded cells in the divisor (count_include_pad = 1, as PyTorch). */
const avgpool: LayerEmitter = {
  params: () => [],
  buffers: () => [],
  forward(ctx, [x]) {
    const { g, layer } = ctx;
    const op = layer.op as Extract<PlanLayer['op'], { kind: 'avgpool' }>;
    if (op.global) {
      const m = g.op('ReduceMean', [x!, g.constInt64([2, 3])], { keepdims: 1 });
      return { y: toBatched(g, m, layer.outputShape), saved: {} };
    }
    const y = g.op('AveragePool', [x!], { kernel_shape: [...op.kernel], strides: [...op.stride], pads: [...op.padding], count_include_pad: 1 });
    return { y, saved: {} };
  },
  backward(ctx, dy, [x]) {
    const { g, layer } = ctx;
    const op = layer.op as Extract<PlanLayer['op'], { kind: 'avgpool' }>;
    const [C, H, W] = layer.inputShape as [number, number, number];
    if (op.global) {
      const spread = g.op('Mul', [g.op('Reshape', [dy, g.constInt64([-1, C, 1, 1])]), g.scalar(1 / (H * W))]);
      return { dInputs: [g.op('Expand', [spread, g.op('Shape', [x!])])], dParams: {} };
    }
    // The adjoint of a depthwise box filter: ConvTranspose with a constant 1/(kh·kw) kernel.
    const [kh, kw] = op.kernel;
    const kernel = g.constFloat(new Array<number>(C * kh * kw).fill(1 / (kh * kw)), [C, 1, kh, kw]);
    const spec = {
      kind: 'conv2d' as const,
      layer: layer.name,
      C,
      H,
      W,
      O: C,
      kernel: op.kernel,
      stride: op.stride,
      pads: op.padding,
      Ho: layer.outputShape[1]!,
      Wo: layer.outputShape[2]!,
    };
    const dx = g.op('ConvTranspose', [dy, kernel], {
      kernel_shape: [kh, kw],
      strides: [...op.stride],
      pads: [...op.padding],
      group: C,
      output_padding: convOutputPadding(spec),
    });
    return { dInputs: [dx], dParams: {} };
  },
};

// ---------------------------------------------------------------------------------------------

/**
 * Batch normalization over the batch (and spatial) axes. Train mode normalizes with batch
 * statistics and updates the running statistics PyTorch-style: r ← (1 − m)·r + m·batch, with the
 * unbiased batch variance; eval mode normalizes with the running statistics.
 */
const batchnorm: LayerEmitter = {
  params(layer) {
    const C = layer.inputShape[0]!;
    return [
      { role: 'gamma', dims: [C], decay: false, init: { kind: 'ones' } },
      { role: 'beta', dims: [C], decay: false, init: { kind: 'zeros' } },
    ];
  },
  buffers(layer) {
    const C = layer.inputShape[0]!;
    return [
      { role: 'running_mean', dims: [C], init: 'zeros' },
      { role: 'running_var', dims: [C], init: 'ones' },
    ];
  },
  forward(ctx, [x]): LayerForward {
    const { g, layer } = ctx;
    const op = layer.op as Extract<PlanLayer['op'], { kind: 'batchnorm' }>;
    const rank = layer.inputShape.length + 1;
    const C = layer.inputShape[0]!;
    if (ctx.statistics === 'running' && !ctx.differentiable) {
      const y = g.op('BatchNormalization', [x!, ctx.param('gamma'), ctx.param('beta'), ctx.buffer('running_mean'), ctx.buffer('running_var')], {
        epsilon: f(op.epsilon),
      });
      return { y, saved: {} };
    }
    if (ctx.statistics === 'running') {
      // Running statistics with a backward (input gradients of a trained network): the same
      // normalization, spelled out so that x̂ and 1/σ are there for the backward.
      const invStd = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [channelVector(g, ctx.buffer('running_var'), C, rank), g.scalar(op.epsilon)])])]);
      const xhat = g.op('Mul', [g.op('Sub', [x!, channelVector(g, ctx.buffer('running_mean'), C, rank)]), invStd]);
      const y = g.op('Add', [g.op('Mul', [xhat, channelVector(g, ctx.param('gamma'), C, rank)]), channelVector(g, ctx.param('beta'), C, rank)]);
      return { y, saved: { xhat, invStd, axes: g.constInt64(rank === 4 ? [0, 2, 3] : [0]), running: invStd } };
    }
    const axes = g.constInt64(rank === 4 ? [0, 2, 3] : [0]);
    const mean = g.op('ReduceMean', [x!, axes], { keepdims: 1 });
    const xc = g.op('Sub', [x!, mean]);
    const variance = g.op('ReduceMean', [g.op('Mul', [xc, xc]), axes], { keepdims: 1 });
    const invStd = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance, g.scalar(op.epsilon)])])]);
    // y = x̂·γ + β = xc·(γ/σ) + β: two passes over the tensor; x̂ itself is never formed.
    const scale = g.op('Mul', [channelVector(g, ctx.param('gamma'), C, rank), invStd]);
    const y = g.op('Add', [g.op('Mul', [xc, scale]), channelVector(g, ctx.param('beta'), C, rank)]);
    return { y, saved: { xc, invStd, scale, axes }, bufferUpdates: runningStats(ctx, x!, mean, variance, op.momentum) };
  },
  /**
   * Batch statistics, with per-channel sums over the reduced axes (N values each) and a = γ/σ:
   *   dβ = Σ dy,  dγ = Σ dy·x̂ = (Σ dy·xc)/σ,
   *   dx = a·(dy − dβ/N − x̂·dγ/N) = a·dy − xc·(a·dγ/(N·σ)) − a·dβ/N,
   * three passes over the tensor after the two sums (the textbook form with x̂ and dx̂ takes eight).
   * Running statistics are constants of x: dx = dy·γ/σ.
   */
  backward(ctx, dy, _xs, fwd) {
    const { g, layer } = ctx;
    const rank = layer.inputShape.length + 1;
    const C = layer.inputShape[0]!;
    if (fwd.saved['running']) {
      const { xhat, invStd, axes } = fwd.saved as { xhat: string; invStd: string; axes: string };
      const dBeta = g.op('ReduceSum', [dy, axes], { keepdims: 0 });
      const dGamma = g.op('ReduceSum', [g.op('Mul', [dy, xhat]), axes], { keepdims: 0 });
      const scale = g.op('Mul', [channelVector(g, ctx.param('gamma'), C, rank), invStd]);
      return { dInputs: [g.op('Mul', [dy, scale])], dParams: { gamma: dGamma, beta: dBeta } };
    }
    const { xc, invStd, scale, axes } = fwd.saved as { xc: string; invStd: string; scale: string; axes: string };
    const sumDy = g.op('ReduceSum', [dy, axes], { keepdims: 1 });
    const sumDyXc = g.op('ReduceSum', [g.op('Mul', [dy, xc]), axes], { keepdims: 1 });
    const dGamma = g.op('Mul', [sumDyXc, invStd]); // [1, C, 1, 1]
    const invN = g.op('Reciprocal', [g.op('Mul', [batchSizeFloat(g, dy), g.scalar(product(layer.inputShape.slice(1)))])]);
    const aOverN = g.op('Mul', [scale, invN]);
    const kXc = g.op('Mul', [g.op('Mul', [aOverN, dGamma]), invStd]);
    const bias = g.op('Mul', [aOverN, sumDy]);
    const dx = g.op('Sub', [g.op('Sub', [g.op('Mul', [dy, scale]), g.op('Mul', [xc, kXc])]), bias]);
    const flat = g.constInt64([C]);
    return { dInputs: [dx], dParams: { gamma: g.op('Reshape', [dGamma, flat]), beta: g.op('Reshape', [sumDy, flat]) } };
  },
};

function runningStats(ctx: LayerCtx, x: string, mean: string, variance: string, momentum: number): LayerForward['bufferUpdates'] {
  const { g, layer } = ctx;
  const C = layer.inputShape[0]!;
  const perChannel = product(layer.inputShape.slice(1));
  const n = g.op('Mul', [batchSizeFloat(g, x), g.scalar(perChannel)]);
  const unbiased = g.op('Mul', [variance, g.op('Div', [n, g.op('Sub', [n, g.scalar(1)])])]);
  const blend = (old: string, batch: string): string =>
    g.op('Add', [g.op('Mul', [old, g.scalar(1 - momentum)]), g.op('Mul', [g.op('Reshape', [batch, g.constInt64([C])]), g.scalar(momentum)])]);
  return { running_mean: blend(ctx.buffer('running_mean'), mean), running_var: blend(ctx.buffer('running_var'), unbiased) };
}

// ---------------------------------------------------------------------------------------------

const flatten: LayerEmitter = {
  params: () => [],
  buffers: () => [],
  forward(ctx, [x]) {
    return { y: ctx.g.op('Flatten', [x!], { axis: 1 }), saved: {} };
  },
  backward(ctx, dy) {
    return { dInputs: [toBatched(ctx.g, dy, ctx.layer.inputShape)], dParams: {} };
  },
};

/** Residual sum: the output gradient flows unchanged to both inputs (fan-out is summed upstream). */
const add: LayerEmitter = {
  params: () => [],
  buffers: () => [],
  forward(ctx, xs) {
    if (xs.length !== 2) throw new XbarcRuntimeError('engine/bad-layer', `layer "${ctx.layer.name}": add needs exactly 2 inputs, got ${xs.length}`);
    return { y: ctx.g.op('Add', [xs[0]!, xs[1]!]), saved: {} };
  },
  backward(_ctx, dy) {
    return { dInputs: [dy, dy], dParams: {} };
  },
};

const EMITTERS: Record<PlanLayer['op']['kind'], LayerEmitter> = { dense, conv2d, relu, sigmoid, tanh, maxpool, avgpool, batchnorm, flatten, add };

export function layerEmitter(layer: PlanLayer): LayerEmitter {
  const e = EMITTERS[layer.op.kind];
  if (!e) throw new XbarcRuntimeError('engine/unsupported-op', `layer "${layer.name}": unsupported op "${(layer.op as { kind: string }).kind}"`);
  return e;
}
