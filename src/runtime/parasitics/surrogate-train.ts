/**
 * Training the parasitics surrogate on xbarc's own engine: the MLP is a plan network
 * (dense rows + rows·cols → hidden, relu, dense → cols), its training step the engine's graph
 * builder (graphs.ts) with an `mse` head and the plan's Adam, run by onnxruntime like any
 * experiment's training step. Targets are y = (f − 1)/fScale (surrogate-model.ts).
 *
 * Reproducible: weights He-normal from streams `surrogate/init/fc1`, `surrogate/init/fc2` (biases
 * zero), the sample order of epoch e from `surrogate/order/<e>`, all under the given seed; with the
 * same threads the bits are the same.
 */

import ort from 'onnxruntime-node';
import { XbarcRuntimeError } from '../../model/errors.js';
import type { Optimizer, PlanLayer, PlanNetwork } from '../../model/plan.js';
import { buildGraph, declareState, INPUT_LR, INPUT_STEP, INPUT_TARGETS, INPUT_X, optimizerSlots, OUT_LOSS, type GraphSpec } from '../engine/graphs.js';
import { openSession, type EngineOptions } from '../engine/session.js';
import { Rng } from '../rng.js';
import { featureCount, type SurrogateData } from './surrogate-data.js';
import type { SurrogateMeta, SurrogateModel, SurrogateNormalization } from './surrogate-model.js';

export interface SurrogateTrainOptions {
  hidden: number;
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
  engine?: EngineOptions;
  /** Called after every epoch with its mean training loss (progress lines). */
  onEpoch?: (epoch: number, loss: number) => void;
}

/** The surrogate MLP as a plan network: fc1 (features → hidden), relu, fc2 (hidden → cols). */
export function surrogateNetwork(rows: number, cols: number, hidden: number): PlanNetwork {
  const F = featureCount(rows, cols);
  const layer = (name: string, op: PlanLayer['op'], inputs: string[], inShape: number[], outShape: number[], params: number, flops: number): PlanLayer => ({
    name,
    op,
    inputs,
    inputShape: inShape,
    outputShape: outShape,
    params,
    flopsPerSample: flops,
    activationBytesPerSample: 4 * outShape.reduce((a, b) => a * b, 1),
  });
  return {
    name: 'surrogate',
    inputShape: [F],
    classes: cols,
    layers: [
      layer('fc1', { kind: 'dense', units: hidden, bias: true }, ['input'], [F], [hidden], F * hidden + hidden, 2 * F * hidden),
      layer('relu1', { kind: 'relu' }, ['fc1'], [hidden], [hidden], 0, 0),
      layer('fc2', { kind: 'dense', units: cols, bias: true }, ['relu1'], [hidden], [cols], hidden * cols + cols, 2 * hidden * cols),
    ],
  };
}

/** RMS of f − 1 over the targets: the output scale (never 0, so a wire-free tile still trains). */
export function targetScale(f: Float64Array): number {
  let s = 0;
  for (let i = 0; i < f.length; i++) s += (f[i]! - 1) ** 2;
  return Math.max(Math.sqrt(s / Math.max(1, f.length)), 1e-12);
}

/** Mean of V/V_read over the training vectors (the per-tile reference drive). */
export function meanDrive(data: SurrogateData, vRead: number): number {
  let s = 0;
  for (let i = 0; i < data.v.length; i++) s += data.v[i]! / vRead;
  return data.v.length ? Math.min(1, Math.max(s / data.v.length, 1e-6)) : 1;
}

/** Train the surrogate on `data`; returns the model (meta to be completed by the caller) and the loss per epoch. */
export async function trainSurrogate(
  data: SurrogateData,
  rows: number,
  cols: number,
  norm: SurrogateNormalization,
  meta: SurrogateMeta,
  o: SurrogateTrainOptions,
): Promise<{ model: SurrogateModel; losses: number[] }> {
  for (const [name, v] of [
    ['hidden', o.hidden],
    ['epochs', o.epochs],
    ['batch', o.batch],
  ] as const)
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be an integer ≥ 1, got ${v}`);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) throw new RangeError(`the learning rate must be > 0, got ${o.lr}`);
  const F = featureCount(rows, cols);
  const net = surrogateNetwork(rows, cols, o.hidden);
  const opt: Optimizer = { kind: 'adam', lr: o.lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };
  const spec: GraphSpec = {
    purpose: 'train',
    statistics: 'batch',
    differentiate: { params: true, input: false },
    heads: [{ weight: 1, loss: 'mse' }],
    reduction: 'mean',
    update: opt,
    outputs: { loss: true },
  };
  const graph = buildGraph(net, spec);
  const session = await openSession(graph.bytes, o.engine);
  const decl = declareState(net);
  const state = new Map<string, { data: Float32Array; dims: number[] }>();
  for (const p of decl.params) {
    const n = p.dims.reduce((a, b) => a * b, 1);
    const data =
      p.role === 'weight' ? new Rng(o.seed, `surrogate/init/${p.layer}`).fillNormal(new Float32Array(n), 0, Math.sqrt(2 / p.dims[0]!)) : new Float32Array(n);
    state.set(p.name, { data, dims: p.dims });
  }
  for (const s of optimizerSlots(opt, decl.params)) state.set(s.name, { data: new Float32Array(s.dims.reduce((a, b) => a * b, 1)), dims: s.dims });

  const fScale = targetScale(data.f);
  const targets = new Float32Array(data.f.length);
  for (let i = 0; i < targets.length; i++) targets[i] = (data.f[i]! - 1) / fScale;
  const losses: number[] = [];
  let step = 0;
  try {
    for (let e = 0; e < o.epochs; e++) {
      const order = new Rng(o.seed, `surrogate/order/${e}`).permutation(data.samples);
      let sum = 0;
      let batches = 0;
      for (let start = 0; start < data.samples; start += o.batch) {
        const B = Math.min(o.batch, data.samples - start);
        const xb = new Float32Array(B * F);
        const tb = new Float32Array(B * cols);
        for (let b = 0; b < B; b++) {
          const s = order[start + b]!;
          xb.set(data.x.subarray(s * F, (s + 1) * F), b * F);
          tb.set(targets.subarray(s * cols, (s + 1) * cols), b * cols);
        }
        const feeds: Record<string, ort.Tensor> = {
          [INPUT_X]: new ort.Tensor('float32', xb, [B, F]),
          [INPUT_TARGETS]: new ort.Tensor('float32', tb, [B, cols]),
          [INPUT_LR]: new ort.Tensor('float32', Float32Array.of(o.lr), []),
          [INPUT_STEP]: new ort.Tensor('float32', Float32Array.of(++step), []),
        };
        for (const name of graph.stateInputs) {
          const s = state.get(name)!;
          feeds[name] = new ort.Tensor('float32', s.data, s.dims);
        }
        const out = await session.run(feeds);
        const loss = (out[OUT_LOSS]!.data as Float32Array)[0]!;
        if (!Number.isFinite(loss))
          throw new XbarcRuntimeError('surrogate/diverged', `surrogate training diverged at epoch ${e + 1} (loss ${loss}); lower --lr`);
        for (const [outName, stateName] of Object.entries(graph.next)) state.get(stateName)!.data = out[outName]!.data as Float32Array;
        sum += loss;
        batches++;
      }
      losses.push(sum / batches);
      o.onEpoch?.(e + 1, sum / batches);
    }
  } finally {
    await session.release();
  }
  const get = (n: string): Float32Array => Float32Array.from(state.get(n)!.data);
  const model: SurrogateModel = {
    rows,
    cols,
    hidden: o.hidden,
    norm,
    fScale,
    referenceDrive: meanDrive(data, norm.vRead),
    w1: get('fc1/weight'),
    b1: get('fc1/bias'),
    w2: get('fc2/weight'),
    b2: get('fc2/bias'),
    meta,
  };
  return { model, losses };
}
