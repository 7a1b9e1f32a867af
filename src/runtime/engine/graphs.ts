/**
 * Whole-network graphs from one builder driven by a `GraphSpec` (ENGINE.md rule 1: one graph per
 * purpose, nothing computed that no output needs). A spec names:
 *   - the heads: layers whose outputs are logits, each with a cross-entropy loss and a weight
 *     (or outputs with a mean-squared-error loss against float targets: regression);
 *   - extra loss terms over named views of parameters (the weight matrix, or its crossbar tile
 *     view [rowTiles, rows, colTiles, cols] as the layer's mapping cuts it), each supplying its
 *     value and its gradient subgraph (src/runtime/engine/terms.ts);
 *   - weight transforms applied before a layer's MVM (masks, quantizers, binarizers with a
 *     straight-through backward);
 *   - what to differentiate (parameters, the input, both) and, independently, whether batch
 *     normalization uses batch or running statistics;
 *   - an optimizer to apply (the training step), and which inputs to freeze into initializers.
 * The training step, evaluation and raw-gradient graphs are three such specs (`trainGraphSpec`,
 * `evalGraphSpec`, `gradsGraphSpec`).
 *
 * State tensors (parameters, batchnorm running statistics, optimizer slots) are graph inputs named
 * after the state; a spec with an optimizer returns their next values as `next:<name>`, which the
 * caller feeds back on the following step (ping-pong).
 */

import type { Optimizer, PlanLayer, PlanNetwork } from '../../model/plan.js';
import { XbarcRuntimeError } from '../../model/errors.js';
import { batchSizeFloat, layerEmitter, type BufferDecl, type LayerCtx, type LayerForward, type ParamDecl, type Statistics } from './layers.js';
import { emitTerm, viewOf, type LossTerm } from './terms.js';
import { emitTransform, type WeightTransform } from './transforms.js';
import { idealSelector, type MvmSelector } from './mvm.js';
import { DataType, GraphBuilder, type SideInput } from './onnx.js';

export interface ParamEntry extends ParamDecl {
  name: string;
  layer: string;
}

export interface BufferEntry extends BufferDecl {
  name: string;
  layer: string;
}

export interface SlotEntry {
  name: string;
  param: string;
  layer: string;
  dims: number[];
}

export interface NetworkState {
  params: ParamEntry[];
  buffers: BufferEntry[];
}

export type Purpose = 'train' | 'eval' | 'grads' | 'custom';

/** A logits output with its cross-entropy loss, or a regression output with its squared error. */
export interface HeadSpec {
  /** The layer whose output is the head's logits [B, classes] (default: the network's last layer). */
  layer?: string;
  /** Weight of this head's loss in the total. */
  weight: number;
  /**
   * Classification: softmax cross-entropy (default) or NeuroSim's squared error Σ_j (y_j − σ(z_j))²
   * (train.loss), against the int32 `labels`. Regression: `mse` against the float input `targets`
   * [B, classes]: mean (or sum) over the batch of Σ_j (y_j − t_j)² / classes (no `correct`).
   */
  loss?: HeadLoss | 'mse';
}

export type HeadLoss = 'cross_entropy' | 'squared_error';

export interface GraphSpec {
  purpose: Purpose;
  /** Batch statistics (normalize by the batch, emit running-statistics updates) or running statistics. */
  statistics: Statistics;
  /** What the backward pass differentiates; nothing → forward only. */
  differentiate: { params: boolean; input: boolean };
  heads: HeadSpec[];
  /** How each head's loss reduces over the batch: the mean (training) or the sum (evaluation). */
  reduction: 'mean' | 'sum';
  /** Extra loss terms (regularizers) added to the heads' weighted loss. */
  terms?: LossTerm[];
  /** Weight transforms by layer name, applied to the weight before the layer's MVM. */
  transforms?: Record<string, WeightTransform>;
  /** Apply this optimizer and output the next state (a training step). */
  update?: Optimizer;
  /** Learning-rate factor per layer name (train.lr_scale); absent layers take 1. */
  lrScale?: Record<string, number>;
  outputs: {
    loss?: boolean;
    correct?: boolean;
    logits?: boolean;
    paramGrads?: boolean;
    inputGrad?: boolean;
    /** These layers' inputs, flattened to [B, features] (`layerInputName`): what a device updater needs to skip the zero rows of a dense layer's ΔW. */
    layerInputs?: string[];
    /**
     * Dense layers whose weight update the caller applies itself (a device updater, at batch 1):
     * where the weight gradient is the plain rank-one product Gemm(x, δ, transA) — x the layer's
     * input, δ the error at its output (after a crossbar's straight-through mask) — the graph
     * outputs x (`layerInputName`) and δ (`layerErrorName`) instead of the weight's update and its
     * `next:` tensor (`BuiltGraph.external` lists the layers that qualified). With a plain SGD
     * update, fl(W − fl(fl(x_i·δ_j)·lr)) at batch 1 is that update, bit for bit.
     */
    external?: string[];
  };
  /** Graph inputs turned into initializers with these values (export; constant masks). */
  freeze?: Record<string, { data: Float32Array; dims: number[] }>;
}

export interface BuiltGraph {
  purpose: Purpose;
  bytes: Uint8Array;
  /** State tensors the graph reads, in feed order. */
  stateInputs: string[];
  /** Graph output name → the state tensor it replaces (train only). */
  next: Record<string, string>;
  /** Live node count after dead-code removal. */
  nodes: number;
  /** Inputs declared by emitters (crossbar device state, ADC ranges, noise; masks), as typed records; fed by `TrainerOptions.sideFeeds` or by the caller. */
  sideInputs: SideInput[];
  /** Whether the graph evaluates a trained network (running statistics, no update): device state at evaluation time. */
  evaluation: boolean;
  /** Layers of `outputs.external` whose weight the graph does not update (it outputs their input and error). */
  external?: string[];
}

export const INPUT_X = 'x';
export const INPUT_LABELS = 'labels';
/** Regression targets [N, classes] of `mse` heads. */
export const INPUT_TARGETS = 'targets';
export const INPUT_LR = 'lr';
export const INPUT_STEP = 'step';
export const OUT_LOSS = 'loss';
export const OUT_LOSS_SUM = 'loss_sum';
export const OUT_CORRECT = 'correct';
export const OUT_LOGITS = 'logits';
/** Gradient of the loss with respect to the input batch. */
export const OUT_INPUT_GRAD = 'grad:x';
/** Extra outputs of multi-head graphs: each head's logits. */
export const headLogitsName = (layer: string): string => `logits:${layer}`;
/** A loss term's value, output by every graph that has the term. */
export const termName = (term: string): string => `term:${term}`;
export const nextName = (state: string): string => `next:${state}`;
export const gradName = (param: string): string => `grad:${param}`;
/** A layer's input as a graph output (`GraphSpec.outputs.layerInputs`). */
export const layerInputName = (layer: string): string => `input:${layer}`;
/** The error δ at a layer's output that its weight gradient xᵀ·δ uses, as a graph output (`GraphSpec.outputs.external`). */
export const layerErrorName = (layer: string): string => `error:${layer}`;

/** Every parameter and buffer of the network, in layer order. */
export function declareState(net: PlanNetwork): NetworkState {
  const params: ParamEntry[] = [];
  const buffers: BufferEntry[] = [];
  for (const layer of net.layers) {
    const e = layerEmitter(layer);
    for (const p of e.params(layer)) params.push({ ...p, name: `${layer.name}/${p.role}`, layer: layer.name });
    for (const b of e.buffers(layer)) buffers.push({ ...b, name: `${layer.name}/${b.role}`, layer: layer.name });
  }
  return { params, buffers };
}

/** Optimizer state per parameter: velocity for momentum SGD, first/second moments for Adam. */
export function optimizerSlots(opt: Optimizer, params: ParamEntry[]): SlotEntry[] {
  const kinds = opt.kind === 'adam' ? ['m', 'v'] : opt.momentum !== 0 ? ['m'] : [];
  return params.flatMap((p) => kinds.map((k) => ({ name: `${p.name}/${k}`, param: p.name, layer: p.layer, dims: p.dims })));
}

interface Emitted {
  g: GraphBuilder;
  acts: Map<string, string>;
  records: Map<string, { fwd: LayerForward; xs: string[]; ctx: LayerCtx }>;
  /** Weight transforms' backward, by parameter name: gradient wrt the transformed weight → wrt the raw one. */
  transformBackward: Map<string, (dw: string) => string>;
}

function declareInputs(g: GraphBuilder, net: PlanNetwork, state: NetworkState, withLabels: boolean, withTargets = false): string[] {
  g.input(INPUT_X, 'float', ['N', ...net.inputShape]);
  if (withLabels) g.input(INPUT_LABELS, 'int32', ['N']);
  if (withTargets) g.input(INPUT_TARGETS, 'float', ['N', net.classes]);
  const names: string[] = [];
  for (const p of state.params) names.push(g.input(p.name, 'float', p.dims));
  // Batchnorm running statistics are read with running statistics and updated with batch statistics.
  for (const b of state.buffers) names.push(g.input(b.name, 'float', b.dims));
  return names;
}

function emitForward(g: GraphBuilder, net: PlanNetwork, spec: GraphSpec, select: MvmSelector): Emitted {
  const acts = new Map<string, string>([['input', INPUT_X]]);
  const records: Emitted['records'] = new Map();
  const transformBackward = new Map<string, (dw: string) => string>();
  const differentiable = spec.differentiate.params || spec.differentiate.input;
  for (const layer of net.layers) {
    const xs = layer.inputs.map((name) => {
      const t = acts.get(name);
      if (!t) throw new XbarcRuntimeError('engine/bad-network', `layer "${layer.name}": input "${name}" is not produced by an earlier layer`);
      return t;
    });
    const transform = spec.transforms?.[layer.name];
    g.scoped(`${layer.name}/fwd`, () => {
      let weight = `${layer.name}/weight`;
      if (transform) {
        const dims = layerEmitter(layer)
          .params(layer)
          .find((p) => p.role === 'weight')?.dims;
        if (!dims) throw new XbarcRuntimeError('engine/bad-transform', `layer "${layer.name}" has no weight to transform`);
        const t = emitTransform(g, transform, weight, layer.name, dims);
        transformBackward.set(weight, t.backward);
        weight = t.w;
      }
      const ctx = layerCtx(g, layer, spec.statistics, differentiable, select, weight);
      const fwd = layerEmitter(layer).forward(ctx, xs);
      acts.set(layer.name, fwd.y);
      records.set(layer.name, { fwd, xs, ctx });
    });
  }
  if (net.layers.length === 0) throw new XbarcRuntimeError('engine/bad-network', `network "${net.name}" has no layers`);
  return { g, acts, records, transformBackward };
}

function layerCtx(g: GraphBuilder, layer: PlanLayer, statistics: Statistics, differentiable: boolean, select: MvmSelector, weight: string): LayerCtx {
  return {
    g,
    layer,
    statistics,
    differentiable,
    param: (role) => (role === 'weight' ? weight : `${layer.name}/${role}`),
    buffer: (role) => `${layer.name}/${role}`,
    mvm: (spec) => select(layer.name, spec),
  };
}

/**
 * Reverse-mode sweep from the gradients of the head outputs. A layer output consumed by several
 * layers (residual fan-out) receives the sum of their gradient contributions before its own
 * backward runs. Returns the parameter gradients (wrt the raw, untransformed weights) and, when
 * asked, the input's.
 */
function emitBackward(em: Emitted, net: PlanNetwork, seeds: Map<string, string[]>): { params: Map<string, string>; input: string | null } {
  const { g } = em;
  const pending = new Map<string, string[]>(seeds);
  const paramGrads = new Map<string, string>();
  for (const layer of [...net.layers].reverse()) {
    const contribs = pending.get(layer.name);
    if (!contribs) continue; // does not influence the loss
    const rec = em.records.get(layer.name)!;
    const back = g.scoped(`${layer.name}/bwd`, () => {
      const dy = contribs.length === 1 ? contribs[0]! : g.op('Sum', contribs);
      return layerEmitter(layer).backward(rec.ctx, dy, rec.xs, rec.fwd);
    });
    layer.inputs.forEach((name, i) => {
      const d = back.dInputs[i];
      if (d) pending.set(name, [...(pending.get(name) ?? []), d]);
    });
    for (const [role, grad] of Object.entries(back.dParams)) {
      const name = `${layer.name}/${role}`;
      const untransform = em.transformBackward.get(name);
      paramGrads.set(name, untransform ? untransform(grad) : grad);
    }
  }
  const dx = pending.get('input');
  return { params: paramGrads, input: dx ? (dx.length === 1 ? dx[0]! : g.op('Sum', dx)) : null };
}

/** Log-softmax cross-entropy pieces of one head. */
function emitLossTerms(g: GraphBuilder, logits: string, classes: number): { logp: string; onehot: string; correct: string } {
  const logp = g.op('LogSoftmax', [logits], { axis: 1 });
  // One-hot as labels[:, None] == [0 .. classes-1] (no OneHot kernel for int32 labels in ORT).
  const column = g.op('Unsqueeze', [INPUT_LABELS, g.constInt64([1])]);
  const classIds = g.constInt32(Array.from({ length: classes }, (_, i) => i));
  const onehot = g.op('Cast', [g.op('Equal', [column, classIds])], { to: DataType.FLOAT });
  const predicted = g.op('ArgMax', [logits], { axis: 1, keepdims: 0 });
  const hits = g.op('Cast', [g.op('Equal', [predicted, g.op('Cast', [INPUT_LABELS], { to: DataType.INT64 })])], { to: DataType.FLOAT });
  const correct = g.op('ReduceSum', [hits], { keepdims: 0 });
  return { logp, onehot, correct };
}

/**
 * One head's loss (`kind`; cross-entropy below): the batch mean (and its gradient wrt the logits, (softmax − onehot)/B)
 * or the batch sum (evaluation, no gradient).
 */
function emitHeadLoss(
  g: GraphBuilder,
  logits: string,
  classes: number,
  reduction: GraphSpec['reduction'],
  withGradient: boolean,
  kind: HeadLoss = 'cross_entropy',
): { loss: string; dLogits: string | null; correct: string } {
  const { logp, onehot, correct } = emitLossTerms(g, logits, classes);
  if (kind === 'squared_error') return squaredError(g, logits, onehot, correct, reduction, withGradient);
  if (reduction === 'sum') {
    const loss = g.op('Neg', [g.op('ReduceSum', [g.op('Mul', [onehot, logp])], { keepdims: 0 })]);
    const dLogits = withGradient ? g.op('Sub', [g.op('Exp', [logp]), onehot]) : null;
    return { loss, dLogits, correct };
  }
  const perSample = g.op('ReduceSum', [g.op('Mul', [onehot, logp]), g.constInt64([1])], { keepdims: 0 });
  const loss = g.op('Neg', [g.op('ReduceMean', [perSample], { keepdims: 0 })]);
  const dLogits = withGradient ? g.op('Div', [g.op('Sub', [g.op('Exp', [logp]), onehot]), batchSizeFloat(g, logits)]) : null;
  return { loss, dLogits, correct };
}

/**
 * NeuroSim's output loss (Train.cpp: a2 = sigmoid(outN2), s2 = −2·a2·(1 − a2)·(y − a2)): per sample
 * Σ_j (y_j − a_j)², a = σ(z); its gradient wrt the logits 2·a·(1 − a)·(a − y), over B for the mean.
 */
function squaredError(
  g: GraphBuilder,
  logits: string,
  onehot: string,
  correct: string,
  reduction: GraphSpec['reduction'],
  withGradient: boolean,
): { loss: string; dLogits: string | null; correct: string } {
  const a = g.op('Sigmoid', [logits]);
  const diff = g.op('Sub', [a, onehot]);
  const perSample = g.op('ReduceSum', [g.op('Mul', [diff, diff]), g.constInt64([1])], { keepdims: 0 });
  const loss = g.op(reduction === 'sum' ? 'ReduceSum' : 'ReduceMean', [perSample], { keepdims: 0 });
  if (!withGradient) return { loss, dLogits: null, correct };
  const batch = batchSizeFloat(g, logits);
  const slope = g.op('Mul', [a, g.op('Sub', [g.scalar(1), a])]);
  const d = g.op('Mul', [g.op('Mul', [slope, diff]), g.scalar(2)]);
  return { loss, dLogits: reduction === 'sum' ? d : g.op('Div', [d, batch]), correct };
}

/**
 * One regression head's squared error per output, (y − t)²/classes summed over outputs, then the
 * batch mean (gradient 2(y − t)/(B·classes)) or sum (evaluation, no gradient).
 */
function emitMseLoss(
  g: GraphBuilder,
  y: string,
  classes: number,
  reduction: GraphSpec['reduction'],
  withGradient: boolean,
): { loss: string; dLogits: string | null } {
  const diff = g.op('Sub', [y, INPUT_TARGETS]);
  const perSample = g.op('ReduceSum', [g.op('Mul', [diff, diff]), g.constInt64([1])], { keepdims: 0 });
  const reduced = g.op(reduction === 'sum' ? 'ReduceSum' : 'ReduceMean', [perSample], { keepdims: 0 });
  const loss = g.op('Div', [reduced, g.scalar(classes)]);
  if (!withGradient) return { loss, dLogits: null };
  const denom = reduction === 'sum' ? g.scalar(classes / 2) : g.op('Mul', [batchSizeFloat(g, y), g.scalar(classes / 2)]);
  return { loss, dLogits: g.op('Div', [diff, denom]) };
}

const scaled = (g: GraphBuilder, t: string, weight: number): string => (weight === 1 ? t : g.op('Mul', [t, g.scalar(weight)]));

/** The whole graph of a spec. */
export function buildGraph(net: PlanNetwork, spec: GraphSpec, select: MvmSelector = idealSelector): BuiltGraph {
  const g = new GraphBuilder(`${net.name}.${spec.purpose}`);
  const state = declareState(net);
  const isMse = (h: HeadSpec): boolean => h.loss === 'mse';
  const withLabels = spec.heads.some((h) => !isMse(h));
  const stateInputs = declareInputs(g, net, state, withLabels, spec.heads.some(isMse));
  const opt = spec.update;
  if (opt) {
    for (const s of optimizerSlots(opt, state.params)) stateInputs.push(g.input(s.name, 'float', s.dims));
    g.input(INPUT_LR, 'float', []);
    if (opt.kind === 'adam') g.input(INPUT_STEP, 'float', []);
  }
  const differentiate = spec.differentiate.params || spec.differentiate.input || !!opt;
  const em = emitForward(g, net, { ...spec, differentiate: { params: spec.differentiate.params || !!opt, input: spec.differentiate.input } }, select);
  const lastLayer = net.layers[net.layers.length - 1]!.name;

  // Heads: weighted cross-entropies; their logits gradients seed the backward sweep.
  const seeds = new Map<string, string[]>();
  const losses: string[] = [];
  let correct: string | null = null;
  for (const head of spec.heads) {
    const layer = head.layer ?? lastLayer;
    const logits = em.acts.get(layer);
    if (!logits) throw new XbarcRuntimeError('engine/bad-head', `head "${layer}" is not a layer of network "${net.name}"`);
    const h: { loss: string; dLogits: string | null; correct?: string } = g.scoped(`${layer}/loss`, () =>
      head.loss === 'mse'
        ? emitMseLoss(g, logits, net.classes, spec.reduction, differentiate)
        : emitHeadLoss(g, logits, net.classes, spec.reduction, differentiate, head.loss),
    );
    losses.push(scaled(g, h.loss, head.weight));
    if (h.correct) correct ??= h.correct;
    if (h.dLogits) seeds.set(layer, [...(seeds.get(layer) ?? []), scaled(g, h.dLogits, head.weight)]);
    if (spec.outputs.logits && spec.heads.length > 1) g.output(headLogitsName(layer), logits, 'float', ['N', net.classes]);
  }
  const grads = differentiate ? emitBackward(em, net, seeds) : { params: new Map<string, string>(), input: null };

  // Extra terms over views of parameters: value into the loss, gradient into the parameter's.
  for (const term of spec.terms ?? []) {
    const views = term.views.map((v) => viewOf(g, net, v));
    const t = emitTerm(
      g,
      term,
      views.map((v) => v.tensor),
    );
    losses.push(scaled(g, t.value, term.weight));
    g.output(termName(term.name), t.value, 'float', []);
    if (!differentiate) continue;
    views.forEach((v, i) => {
      const dParam = v.toParam(scaled(g, t.grads[i]!, term.weight));
      const prev = grads.params.get(v.param);
      grads.params.set(v.param, prev ? g.op('Add', [prev, dParam]) : dParam);
    });
  }
  const loss = losses.length === 0 ? null : losses.length === 1 ? losses[0]! : g.op('Sum', losses);

  const next: Record<string, string> = {};
  const external = opt ? externalUpdates(g, net, opt, spec.outputs.external ?? [], grads.params) : new Map<string, RankOne>();
  if (opt) emitOptimizerStep(g, opt, state, em, grads.params, next, spec.lrScale ?? {}, external);
  if (spec.outputs.paramGrads) {
    for (const p of state.params) {
      const grad = grads.params.get(p.name);
      if (grad) g.output(gradName(p.name), grad, 'float', p.dims);
    }
  }
  if (spec.outputs.inputGrad) {
    if (!grads.input) throw new XbarcRuntimeError('engine/no-gradient', `the input of network "${net.name}" does not influence the loss`);
    g.output(OUT_INPUT_GRAD, grads.input, 'float', ['N', ...net.inputShape]);
  }
  for (const name of spec.outputs.layerInputs ?? []) if (!external.has(name)) emitLayerInput(g, net, em, name);
  for (const [name, r] of external) emitRankOne(g, net, name, r);
  if (spec.outputs.loss && loss) g.output(spec.reduction === 'sum' ? OUT_LOSS_SUM : OUT_LOSS, loss, 'float', []);
  if (spec.outputs.correct && correct) g.output(OUT_CORRECT, correct, 'float', []);
  if (spec.outputs.logits && spec.heads.length <= 1) g.output(OUT_LOGITS, em.acts.get(spec.heads[0]?.layer ?? lastLayer)!, 'float', ['N', net.classes]);
  for (const [name, v] of Object.entries(spec.freeze ?? {})) g.freeze(name, v.data, v.dims);
  return finish(
    g,
    spec,
    stateInputs.filter((n) => !spec.freeze?.[n]),
    next,
    [...external.keys()],
  );
}

/** The two factors of a rank-one weight gradient xᵀ·δ. */
interface RankOne {
  x: string;
  delta: string;
}

/**
 * The layers of `names` whose weight update the caller can apply itself: dense layers under plain
 * SGD (no momentum, no weight decay on the weight) whose weight gradient is exactly the node
 * Gemm(x, δ, transA = 1) — no transform, loss term or alpha in between. Others keep the in-graph update.
 */
function externalUpdates(g: GraphBuilder, net: PlanNetwork, opt: Optimizer, names: string[], grads: Map<string, string>): Map<string, RankOne> {
  const out = new Map<string, RankOne>();
  if (opt.kind !== 'sgd' || opt.momentum !== 0 || opt.weightDecay !== 0) return out;
  for (const name of names) {
    const layer = net.layers.find((l) => l.name === name);
    if (!layer || layer.op.kind !== 'dense') continue;
    const grad = grads.get(`${name}/weight`);
    const factors = grad === undefined ? null : rankOneFactors(g, grad);
    if (factors) out.set(name, factors);
  }
  return out;
}

/** x and δ of a weight gradient that is exactly the node Gemm(x, δ, transA = 1) (no alpha, no C), else null. */
function rankOneFactors(g: GraphBuilder, grad: string): RankOne | null {
  const node = g.producer(grad);
  const attrs = Object.entries(node?.attrs ?? {});
  if (node?.opType !== 'Gemm' || node.inputs.length !== 2 || attrs.length !== 1 || attrs[0]![0] !== 'transA' || attrs[0]![1] !== 1) return null;
  return { x: node.inputs[0]!, delta: node.inputs[1]! };
}

/** A rank-one layer's input and error as graph outputs. */
function emitRankOne(g: GraphBuilder, net: PlanNetwork, name: string, r: RankOne): void {
  const layer = net.layers.find((l) => l.name === name)!;
  const features = layer.inputShape.reduce((a, b) => a * b, 1);
  g.output(layerInputName(name), r.x, 'float', ['N', features]);
  g.output(layerErrorName(name), r.delta, 'float', ['N', (layer.op as { units: number }).units]);
}

/** A layer's (first) input as the output `input:<layer>`, flattened to [B, features]. */
function emitLayerInput(g: GraphBuilder, net: PlanNetwork, em: Emitted, name: string): void {
  const layer = net.layers.find((l) => l.name === name);
  if (!layer) throw new XbarcRuntimeError('engine/bad-spec', `no layer "${name}" in network "${net.name}" to output the input of`);
  const x = em.acts.get(layer.inputs[0]!)!;
  const features = layer.inputShape.reduce((a, b) => a * b, 1);
  g.output(layerInputName(name), layer.inputShape.length > 1 ? g.op('Flatten', [x], { axis: 1 }) : x, 'float', ['N', features]);
}

/** The optimizer update of every parameter and the batchnorm running statistics, as `next:*` outputs. */
function emitOptimizerStep(
  g: GraphBuilder,
  opt: Optimizer,
  state: NetworkState,
  em: Emitted,
  grads: Map<string, string>,
  next: Record<string, string>,
  lrScale: Record<string, number>,
  external: ReadonlyMap<string, RankOne>,
): void {
  const emitNext = (stateName: string, tensor: string, dims: number[]): void => {
    g.output(nextName(stateName), tensor, 'float', dims);
    next[nextName(stateName)] = stateName;
  };
  for (const p of state.params) {
    if (p.role === 'weight' && external.has(p.layer)) continue; // the caller updates it
    const grad = grads.get(p.name);
    if (!grad) throw new XbarcRuntimeError('engine/no-gradient', `parameter "${p.name}" does not influence the loss`);
    const factor = lrScale[p.layer] ?? 1;
    const lr = (): string => (factor === 1 ? INPUT_LR : g.op('Mul', [INPUT_LR, g.scalar(factor)]));
    const fused = fusableSgd(g, opt, p, em, grad);
    const upd = g.scoped(`${p.layer}/update`, () => (fused ? { param: fusedSgdStep(g, p, fused, lr()), slots: {} } : emitUpdate(g, opt, p, grad, lr())));
    emitNext(p.name, upd.param, p.dims);
    for (const [kind, t] of Object.entries(upd.slots)) emitNext(`${p.name}/${kind}`, t, p.dims);
  }
  for (const b of state.buffers) {
    const t = em.records.get(b.layer)!.fwd.bufferUpdates?.[b.role];
    if (t) emitNext(b.name, t, b.dims);
  }
}

/**
 * The factors of a weight gradient that a plain SGD step can take in one GEMM: a dense layer's
 * weight on the ideal MVM and mapped to digital hardware (no device update model ever reads the
 * step's bits, at any fidelity: a crossbar layer keeps the step a device updater also forms,
 * DeviceUpdater.update) whose gradient is the node Gemm(x, δ, transA = 1), at SGD without
 * momentum or weight decay on it.
 */
function fusableSgd(g: GraphBuilder, opt: Optimizer, p: ParamEntry, em: Emitted, grad: string): RankOne | null {
  if (opt.kind !== 'sgd' || opt.momentum !== 0 || (p.decay && opt.weightDecay !== 0) || p.role !== 'weight' || p.dims.length !== 2) return null;
  const rec = em.records.get(p.layer);
  if (!rec || rec.ctx.layer.op.kind !== 'dense' || rec.ctx.layer.mapping?.target === 'crossbar') return null;
  if (rec.ctx.mvm({ kind: 'dense', layer: p.layer, K: p.dims[0]!, N: p.dims[1]! }).name !== 'ideal') return null;
  return rankOneFactors(g, grad);
}

/**
 * W ← W + xᵀ·(−lr·δ) as one Gemm with C = W: one pass over the weight instead of three (the
 * gradient, its product with lr, the difference). The float32 rounding differs from
 * W − (xᵀ·δ)·lr: lr multiplies δ before the sum over the batch (docs/running.md, "Training arithmetic").
 */
function fusedSgdStep(g: GraphBuilder, p: ParamEntry, r: RankOne, lr: string): string {
  const scaled = g.op('Mul', [r.delta, g.op('Neg', [lr])]);
  return g.op('Gemm', [r.x, scaled, p.name], { transA: 1 });
}

/** How a training protocol shapes its graphs (train.loss, train.lr_scale). */
export interface TrainingLoss {
  loss?: HeadLoss;
  lrScale?: Record<string, number>;
}

/** One SGD/Adam step on batch statistics: forward, mean loss, backward, update. */
export function trainGraphSpec(opt: Optimizer, t: TrainingLoss = {}): GraphSpec {
  return {
    purpose: 'train',
    statistics: 'batch',
    differentiate: { params: true, input: false },
    heads: [{ weight: 1, ...(t.loss ? { loss: t.loss } : {}) }],
    reduction: 'mean',
    update: opt,
    ...(t.lrScale ? { lrScale: t.lrScale } : {}),
    outputs: { loss: true, correct: true },
  };
}

/** Evaluation on running statistics: the loss summed over the batch, #correct, optionally the logits. */
export function evalGraphSpec(withLogits = false, loss?: HeadLoss): GraphSpec {
  return {
    purpose: 'eval',
    statistics: 'running',
    differentiate: { params: false, input: false },
    heads: [{ weight: 1, ...(loss ? { loss } : {}) }],
    reduction: 'sum',
    outputs: { loss: true, correct: true, logits: withLogits },
  };
}

/** The raw gradients of the mean loss on batch statistics (tests, tools). */
export function gradsGraphSpec(loss?: HeadLoss): GraphSpec {
  return {
    purpose: 'grads',
    statistics: 'batch',
    differentiate: { params: true, input: false },
    heads: [{ weight: 1, ...(loss ? { loss } : {}) }],
    reduction: 'mean',
    outputs: { loss: true, correct: true, paramGrads: true },
  };
}

/**
 * The gradient of the mean loss with respect to the input batch, on running statistics (a trained
 * network, as an attacker sees it): adversarial examples, saliency.
 */
export function inputGradSpec(): GraphSpec {
  return {
    purpose: 'custom',
    statistics: 'running',
    differentiate: { params: false, input: true },
    heads: [{ weight: 1 }],
    reduction: 'mean',
    outputs: { loss: true, correct: true, inputGrad: true },
  };
}

export const buildTrainGraph = (net: PlanNetwork, opt: Optimizer, select: MvmSelector = idealSelector, t: TrainingLoss = {}): BuiltGraph =>
  buildGraph(net, trainGraphSpec(opt, t), select);
export const buildEvalGraph = (net: PlanNetwork, select: MvmSelector = idealSelector, withLogits = false, loss?: HeadLoss): BuiltGraph =>
  buildGraph(net, evalGraphSpec(withLogits, loss), select);
export const buildGradsGraph = (net: PlanNetwork, select: MvmSelector = idealSelector, loss?: HeadLoss): BuiltGraph =>
  buildGraph(net, gradsGraphSpec(loss), select);

function finish(g: GraphBuilder, spec: GraphSpec, stateInputs: string[], next: Record<string, string>, external: string[] = []): BuiltGraph {
  const sideInputs = g.sideInputs().filter((s) => !spec.freeze?.[s.name]);
  const evaluation = spec.statistics === 'running' && !spec.update;
  return { purpose: spec.purpose, bytes: g.toBytes(), stateInputs, next, nodes: g.liveNodeCount(), sideInputs, evaluation, external };
}

// ---------------------------------------------------------------------------------------------
// Optimizers (PyTorch semantics; weight decay is L2 added to the gradient of weights only).

interface Update {
  param: string;
  slots: Record<string, string>;
}

/** `lr`: the tensor of this parameter's learning rate (the step's lr, times its layer's lr_scale). */
function emitUpdate(g: GraphBuilder, opt: Optimizer, p: ParamEntry, rawGrad: string, lr: string): Update {
  const w = p.name;
  const grad = p.decay && opt.weightDecay !== 0 ? g.op('Add', [rawGrad, g.op('Mul', [w, g.scalar(opt.weightDecay)])]) : rawGrad;
  if (opt.kind === 'adam') return adamUpdate(g, opt, w, grad, lr);
  if (opt.momentum === 0) return { param: g.op('Sub', [w, g.op('Mul', [grad, lr])]), slots: {} };
  // v ← μ·v + g;  step = nesterov ? g + μ·v : v
  const mu = g.scalar(opt.momentum);
  const v = g.op('Add', [g.op('Mul', [`${w}/m`, mu]), grad]);
  const dir = opt.nesterov ? g.op('Add', [grad, g.op('Mul', [v, mu])]) : v;
  return { param: g.op('Sub', [w, g.op('Mul', [dir, lr])]), slots: { m: v } };
}

/** Bias-corrected Adam; the step counter t (1-based) is a graph input. */
function adamUpdate(g: GraphBuilder, opt: Extract<Optimizer, { kind: 'adam' }>, w: string, grad: string, lr: string): Update {
  const m = g.op('Add', [g.op('Mul', [`${w}/m`, g.scalar(opt.beta1)]), g.op('Mul', [grad, g.scalar(1 - opt.beta1)])]);
  const v = g.op('Add', [g.op('Mul', [`${w}/v`, g.scalar(opt.beta2)]), g.op('Mul', [g.op('Mul', [grad, grad]), g.scalar(1 - opt.beta2)])]);
  const one = g.scalar(1);
  const c1 = g.op('Sub', [one, g.op('Pow', [g.scalar(opt.beta1), INPUT_STEP])]);
  const c2 = g.op('Sub', [one, g.op('Pow', [g.scalar(opt.beta2), INPUT_STEP])]);
  const denom = g.op('Add', [g.op('Div', [g.op('Sqrt', [v]), g.op('Sqrt', [c2])]), g.scalar(opt.epsilon)]);
  const stepSize = g.op('Div', [lr, c1]);
  return { param: g.op('Sub', [w, g.op('Mul', [g.op('Div', [m, denom]), stepSize])]), slots: { m, v } };
}
