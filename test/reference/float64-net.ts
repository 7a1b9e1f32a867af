/**
 * An independent float64 reference of the engine's ops, written as plain loops for tiny shapes:
 * forward of every layer op, the mean softmax cross-entropy, and central finite differences of
 * that loss wrt every parameter. It shares nothing with the ONNX emitters but the plan types.
 */

import type { LayerOp, PlanLayer, PlanNetwork } from '../../src/model/plan.js';

export type Params = Record<string, Float64Array>;
export type Mode = 'train' | 'eval';

/** A batch of per-sample tensors, sample-major. */
interface Batch {
  data: Float64Array;
  shape: number[];
  n: number;
}

const product = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);

function dense(x: Batch, w: Float64Array, b: Float64Array | undefined, units: number): Batch {
  const K = product(x.shape);
  const out = new Float64Array(x.n * units);
  for (let s = 0; s < x.n; s++) {
    for (let j = 0; j < units; j++) {
      let acc = b ? b[j]! : 0;
      for (let k = 0; k < K; k++) acc += x.data[s * K + k]! * w[k * units + j]!;
      out[s * units + j] = acc;
    }
  }
  return { data: out, shape: [units], n: x.n };
}

function outSize(size: number, k: number, stride: number, p0: number, p1: number): number {
  return Math.floor((size + p0 + p1 - k) / stride) + 1;
}

function conv2d(x: Batch, w: Float64Array, b: Float64Array | undefined, op: Extract<LayerOp, { kind: 'conv2d' }>): Batch {
  const [C, H, W] = x.shape as [number, number, number];
  const O = op.outChannels;
  const [kh, kw] = op.kernel;
  const [sh, sw] = op.stride;
  const [pt, pl, pb, pr] = op.padding;
  const Ho = outSize(H, kh, sh, pt, pb);
  const Wo = outSize(W, kw, sw, pl, pr);
  const out = new Float64Array(x.n * O * Ho * Wo);
  for (let s = 0; s < x.n; s++)
    for (let o = 0; o < O; o++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          let acc = b ? b[o]! : 0;
          for (let c = 0; c < C; c++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const iy = oy * sh + i - pt;
                const ix = ox * sw + j - pl;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                acc += x.data[((s * C + c) * H + iy) * W + ix]! * w[((o * C + c) * kh + i) * kw + j]!;
              }
          out[((s * O + o) * Ho + oy) * Wo + ox] = acc;
        }
  return { data: out, shape: [O, Ho, Wo], n: x.n };
}

/** Pooling over windows; `reduce` sees the in-bounds values and the window size (for padding). */
function pool(x: Batch, kernel: [number, number], stride: [number, number], pads: number[], reduce: (vals: number[], windowSize: number) => number): Batch {
  const [C, H, W] = x.shape as [number, number, number];
  const Ho = outSize(H, kernel[0], stride[0], pads[0]!, pads[2]!);
  const Wo = outSize(W, kernel[1], stride[1], pads[1]!, pads[3]!);
  const out = new Float64Array(x.n * C * Ho * Wo);
  for (let s = 0; s < x.n; s++)
    for (let c = 0; c < C; c++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          const vals: number[] = [];
          for (let i = 0; i < kernel[0]; i++)
            for (let j = 0; j < kernel[1]; j++) {
              const iy = oy * stride[0] + i - pads[0]!;
              const ix = ox * stride[1] + j - pads[1]!;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W) vals.push(x.data[((s * C + c) * H + iy) * W + ix]!);
            }
          out[((s * C + c) * Ho + oy) * Wo + ox] = reduce(vals, kernel[0] * kernel[1]);
        }
  return { data: out, shape: [C, Ho, Wo], n: x.n };
}

function globalAverage(x: Batch): Batch {
  const [C, H, W] = x.shape as [number, number, number];
  const out = new Float64Array(x.n * C);
  for (let s = 0; s < x.n; s++)
    for (let c = 0; c < C; c++) {
      let acc = 0;
      for (let i = 0; i < H * W; i++) acc += x.data[(s * C + c) * H * W + i]!;
      out[s * C + c] = acc / (H * W);
    }
  return { data: out, shape: [C, 1, 1], n: x.n };
}

/** Batch statistics (biased variance) in train mode, running statistics in eval mode. */
function batchnorm(x: Batch, gamma: Float64Array, beta: Float64Array, eps: number, mode: Mode, running?: { mean: Float64Array; var: Float64Array }): Batch {
  const C = x.shape[0]!;
  const inner = product(x.shape.slice(1));
  const out = new Float64Array(x.data.length);
  for (let c = 0; c < C; c++) {
    let mean = 0;
    let variance = 0;
    const at = (s: number, i: number): number => (s * C + c) * inner + i;
    if (mode === 'train') {
      for (let s = 0; s < x.n; s++) for (let i = 0; i < inner; i++) mean += x.data[at(s, i)]!;
      mean /= x.n * inner;
      for (let s = 0; s < x.n; s++) for (let i = 0; i < inner; i++) variance += (x.data[at(s, i)]! - mean) ** 2;
      variance /= x.n * inner;
    } else {
      mean = running!.mean[c]!;
      variance = running!.var[c]!;
    }
    const inv = 1 / Math.sqrt(variance + eps);
    for (let s = 0; s < x.n; s++) for (let i = 0; i < inner; i++) out[at(s, i)] = (x.data[at(s, i)]! - mean) * inv * gamma[c]! + beta[c]!;
  }
  return { data: out, shape: x.shape, n: x.n };
}

function layerForward(layer: PlanLayer, xs: Batch[], params: Params, mode: Mode): Batch {
  const p = (role: string): Float64Array | undefined => params[`${layer.name}/${role}`];
  const x = xs[0]!;
  const op = layer.op;
  switch (op.kind) {
    case 'dense':
      return dense(x, p('weight')!, p('bias'), op.units);
    case 'conv2d':
      return conv2d(x, p('weight')!, p('bias'), op);
    case 'relu':
      return { ...x, data: x.data.map((v) => (v > 0 ? v : 0)) };
    case 'sigmoid':
      return { ...x, data: x.data.map((v) => 1 / (1 + Math.exp(-v))) };
    case 'tanh':
      return { ...x, data: x.data.map((v) => Math.tanh(v)) };
    case 'maxpool':
      return pool(x, op.kernel, op.stride, op.padding, (vals) => Math.max(...vals));
    case 'avgpool':
      return op.global ? globalAverage(x) : pool(x, op.kernel, op.stride, op.padding, (vals, size) => vals.reduce((a, b) => a + b, 0) / size);
    case 'batchnorm':
      return batchnorm(x, p('gamma')!, p('beta')!, op.epsilon, mode, { mean: p('running_mean')!, var: p('running_var')! });
    case 'flatten':
      return { ...x, shape: [product(x.shape)] };
    case 'add':
      return { data: x.data.map((v, i) => v + xs[1]!.data[i]!), shape: x.shape, n: x.n };
  }
}

/** Logits [n × classes] of a float64 forward pass. */
export function forwardRef(net: PlanNetwork, params: Params, x: Float64Array, n: number, mode: Mode = 'train'): Float64Array {
  return activationsRef(net, params, x, n, mode).get(net.layers[net.layers.length - 1]!.name)!;
}

/** Mean softmax cross-entropy over the batch. */
export function crossEntropyRef(logits: Float64Array, labels: ArrayLike<number>, classes: number): number {
  let total = 0;
  for (let s = 0; s < labels.length; s++) {
    const row = logits.subarray(s * classes, (s + 1) * classes);
    const max = Math.max(...row);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    total += Math.log(sum) + max - row[labels[s]!]!;
  }
  return total / labels.length;
}

export function lossRef(net: PlanNetwork, params: Params, x: Float64Array, labels: ArrayLike<number>, mode: Mode = 'train'): number {
  return crossEntropyRef(forwardRef(net, params, x, labels.length, mode), labels, net.classes);
}

/** Central finite differences of the mean loss wrt every element of the named parameters. */
export function finiteDifferenceGrads(net: PlanNetwork, params: Params, names: string[], x: Float64Array, labels: ArrayLike<number>, h = 1e-6): Params {
  const grads: Params = {};
  for (const name of names) {
    const p = params[name]!;
    const g = new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) {
      const keep = p[i]!;
      p[i] = keep + h;
      const up = lossRef(net, params, x, labels);
      p[i] = keep - h;
      const down = lossRef(net, params, x, labels);
      p[i] = keep;
      g[i] = (up - down) / (2 * h);
    }
    grads[name] = g;
  }
  return grads;
}

/** ‖a − b‖₂ / ‖b‖₂ (falls back to ‖a − b‖₂ when b is all zeros). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    norm += b[i]! ** 2;
  }
  return norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
}

export const toF64 = (a: Float32Array): Float64Array => Float64Array.from(a);

/** Every layer's output (and the input) of a float64 forward pass, by layer name. */
export function activationsRef(net: PlanNetwork, params: Params, x: Float64Array, n: number, mode: Mode = 'train'): Map<string, Float64Array> {
  const acts = new Map<string, Batch>([['input', { data: x, shape: net.inputShape, n }]]);
  for (const layer of net.layers)
    acts.set(
      layer.name,
      layerForward(
        layer,
        layer.inputs.map((i) => acts.get(i)!),
        params,
        mode,
      ),
    );
  return new Map([...acts].map(([k, v]) => [k, v.data]));
}

/** Σ_h w_h · mean cross-entropy of head h (a layer whose output is [n × classes]). */
export function headsLossRef(
  net: PlanNetwork,
  params: Params,
  x: Float64Array,
  labels: ArrayLike<number>,
  heads: { layer: string; weight: number }[],
  mode: Mode = 'train',
): number {
  const acts = activationsRef(net, params, x, labels.length, mode);
  return heads.reduce((s, h) => s + h.weight * crossEntropyRef(acts.get(h.layer)!, labels, net.classes), 0);
}

/** Central finite differences of `f` wrt every element of `p` (changed in place and restored). */
export function finiteDifference(f: () => number, p: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const keep = p[i]!;
    p[i] = keep + h;
    const up = f();
    p[i] = keep - h;
    const down = f();
    p[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}
