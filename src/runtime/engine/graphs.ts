/**
 * Whole-network graphs, one per purpose (ENGINE.md rule 1):
 *   train  forward + loss + backward + optimizer update in one run(); outputs the next state
 *   eval   forward only (running statistics); outputs the loss sum and #correct (+ logits)
 *   grads  forward + loss + backward in train mode; outputs the raw gradients (tests, tools)
 *
 * State tensors (parameters, batchnorm running statistics, optimizer slots) are graph inputs named
 * after the state; the train graph returns their next values as `next:<name>`, which the caller
 * feeds back on the following step (ping-pong).
 */

import type { Optimizer, PlanLayer, PlanNetwork } from '../../model/plan.js';
import { XbarcRuntimeError } from '../../model/errors.js';
import { batchSizeFloat, layerEmitter, type BufferDecl, type LayerCtx, type LayerForward, type Mode, type ParamDecl } from './layers.js';
import { idealSelector, type MvmSelector } from './mvm.js';
import { GraphBuilder } from './onnx.js';

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

export type Purpose = 'train' | 'eval' | 'grads';

export interface BuiltGraph {
  purpose: Purpose;
  bytes: Uint8Array;
  /** State tensors the graph reads, in feed order. */
  stateInputs: string[];
  /** Graph output name → the state tensor it replaces (train only). */
  next: Record<string, string>;
  /** Live node count after dead-code removal. */
  nodes: number;
  /** Inputs declared by MVM emitters (crossbar device state, ADC ranges, noise), fed by `TrainerOptions.sideFeeds`. */
  sideInputs: string[];
}

export const INPUT_X = 'x';
export const INPUT_LABELS = 'labels';
export const INPUT_LR = 'lr';
export const INPUT_STEP = 'step';
export const OUT_LOSS = 'loss';
export const OUT_LOSS_SUM = 'loss_sum';
export const OUT_CORRECT = 'correct';
export const OUT_LOGITS = 'logits';
export const nextName = (state: string): string => `next:${state}`;
export const gradName = (param: string): string => `grad:${param}`;

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
  logits: string;
  records: Map<string, { fwd: LayerForward; xs: string[]; ctx: LayerCtx }>;
}

function declareInputs(g: GraphBuilder, net: PlanNetwork, state: NetworkState): string[] {
  g.input(INPUT_X, 'float', ['N', ...net.inputShape]);
  g.input(INPUT_LABELS, 'int32', ['N']);
  const names: string[] = [];
  for (const p of state.params) names.push(g.input(p.name, 'float', p.dims));
  // Batchnorm running statistics are read in eval mode and updated in train mode.
  for (const b of state.buffers) names.push(g.input(b.name, 'float', b.dims));
  return names;
}

function emitForward(g: GraphBuilder, net: PlanNetwork, mode: Mode, select: MvmSelector): Emitted {
  const acts = new Map<string, string>([['input', INPUT_X]]);
  const records: Emitted['records'] = new Map();
  for (const layer of net.layers) {
    const xs = layer.inputs.map((name) => {
      const t = acts.get(name);
      if (!t) throw new XbarcRuntimeError('engine/bad-network', `layer "${layer.name}": input "${name}" is not produced by an earlier layer`);
      return t;
    });
    const ctx = layerCtx(g, layer, mode, select);
    const fwd = layerEmitter(layer).forward(ctx, xs);
    acts.set(layer.name, fwd.y);
    records.set(layer.name, { fwd, xs, ctx });
  }
  const last = net.layers[net.layers.length - 1];
  if (!last) throw new XbarcRuntimeError('engine/bad-network', `network "${net.name}" has no layers`);
  return { g, logits: acts.get(last.name)!, records };
}

function layerCtx(g: GraphBuilder, layer: PlanLayer, mode: Mode, select: MvmSelector): LayerCtx {
  return {
    g,
    layer,
    mode,
    param: (role) => `${layer.name}/${role}`,
    buffer: (role) => `${layer.name}/${role}`,
    mvm: (spec) => select(layer.name, spec),
  };
}

/**
 * Reverse-mode sweep. A layer output consumed by several layers (residual fan-out) receives the
 * sum of their gradient contributions before its own backward runs.
 */
function emitBackward(em: Emitted, net: PlanNetwork, dLogits: string): Map<string, string> {
  const { g } = em;
  const pending = new Map<string, string[]>([[net.layers[net.layers.length - 1]!.name, [dLogits]]]);
  const paramGrads = new Map<string, string>();
  for (const layer of [...net.layers].reverse()) {
    const contribs = pending.get(layer.name);
    if (!contribs) continue; // does not influence the loss
    const dy = contribs.length === 1 ? contribs[0]! : g.op('Sum', contribs);
    const rec = em.records.get(layer.name)!;
    const back = layerEmitter(layer).backward(rec.ctx, dy, rec.xs, rec.fwd);
    layer.inputs.forEach((name, i) => {
      const d = back.dInputs[i];
      if (name === 'input' || !d) return;
      pending.set(name, [...(pending.get(name) ?? []), d]);
    });
    for (const [role, grad] of Object.entries(back.dParams)) paramGrads.set(`${layer.name}/${role}`, grad);
  }
  return paramGrads;
}

/** Log-softmax cross-entropy pieces shared by all purposes. */
function emitLossTerms(g: GraphBuilder, logits: string, classes: number): { logp: string; onehot: string; correct: string } {
  const logp = g.op('LogSoftmax', [logits], { axis: 1 });
  // One-hot as labels[:, None] == [0 .. classes-1] (no OneHot kernel for int32 labels in ORT).
  const column = g.op('Unsqueeze', [INPUT_LABELS, g.constInt64([1])]);
  const classIds = g.constInt32(Array.from({ length: classes }, (_, i) => i));
  const onehot = g.op('Cast', [g.op('Equal', [column, classIds])], { to: 1 });
  const predicted = g.op('ArgMax', [logits], { axis: 1, keepdims: 0 });
  const hits = g.op('Cast', [g.op('Equal', [predicted, g.op('Cast', [INPUT_LABELS], { to: 7 })])], { to: 1 });
  const correct = g.op('ReduceSum', [hits], { keepdims: 0 });
  return { logp, onehot, correct };
}

/** Mean cross-entropy and its gradient wrt the logits: (softmax − onehot) / B. */
function emitMeanLoss(g: GraphBuilder, logits: string, classes: number): { loss: string; dLogits: string; correct: string } {
  const { logp, onehot, correct } = emitLossTerms(g, logits, classes);
  const perSample = g.op('ReduceSum', [g.op('Mul', [onehot, logp]), g.constInt64([1])], { keepdims: 0 });
  const loss = g.op('Neg', [g.op('ReduceMean', [perSample], { keepdims: 0 })]);
  const dLogits = g.op('Div', [g.op('Sub', [g.op('Exp', [logp]), onehot]), batchSizeFloat(g, logits)]);
  return { loss, dLogits, correct };
}

export function buildTrainGraph(net: PlanNetwork, opt: Optimizer, select: MvmSelector = idealSelector): BuiltGraph {
  const g = new GraphBuilder(`${net.name}.train`);
  const state = declareState(net);
  const stateInputs = declareInputs(g, net, state);
  const slots = optimizerSlots(opt, state.params);
  for (const s of slots) stateInputs.push(g.input(s.name, 'float', s.dims));
  g.input(INPUT_LR, 'float', []);
  if (opt.kind === 'adam') g.input(INPUT_STEP, 'float', []);

  const em = emitForward(g, net, 'train', select);
  const { loss, dLogits, correct } = emitMeanLoss(g, em.logits, net.classes);
  const grads = emitBackward(em, net, dLogits);
  const next: Record<string, string> = {};
  const emitNext = (stateName: string, tensor: string, dims: number[]): void => {
    g.output(nextName(stateName), tensor, 'float', dims);
    next[nextName(stateName)] = stateName;
  };
  for (const p of state.params) {
    const grad = grads.get(p.name);
    if (!grad) throw new XbarcRuntimeError('engine/no-gradient', `parameter "${p.name}" does not influence the loss`);
    const upd = emitUpdate(g, opt, p, grad);
    emitNext(p.name, upd.param, p.dims);
    for (const [kind, t] of Object.entries(upd.slots)) emitNext(`${p.name}/${kind}`, t, p.dims);
  }
  for (const b of state.buffers) {
    const t = em.records.get(b.layer)!.fwd.bufferUpdates?.[b.role];
    if (t) emitNext(b.name, t, b.dims);
  }
  g.output(OUT_LOSS, loss, 'float', []);
  g.output(OUT_CORRECT, correct, 'float', []);
  return finish(g, 'train', stateInputs, next);
}

export function buildEvalGraph(net: PlanNetwork, select: MvmSelector = idealSelector, withLogits = false): BuiltGraph {
  const g = new GraphBuilder(`${net.name}.eval`);
  const state = declareState(net);
  const stateInputs = declareInputs(g, net, state);
  const em = emitForward(g, net, 'eval', select);
  const { logp, onehot, correct } = emitLossTerms(g, em.logits, net.classes);
  g.output(OUT_LOSS_SUM, g.op('Neg', [g.op('ReduceSum', [g.op('Mul', [onehot, logp])], { keepdims: 0 })]), 'float', []);
  g.output(OUT_CORRECT, correct, 'float', []);
  if (withLogits) g.output(OUT_LOGITS, em.logits, 'float', ['N', net.classes]);
  return finish(g, 'eval', stateInputs, {});
}

export function buildGradsGraph(net: PlanNetwork, select: MvmSelector = idealSelector): BuiltGraph {
  const g = new GraphBuilder(`${net.name}.grads`);
  const state = declareState(net);
  const stateInputs = declareInputs(g, net, state);
  const em = emitForward(g, net, 'train', select);
  const { loss, dLogits, correct } = emitMeanLoss(g, em.logits, net.classes);
  const grads = emitBackward(em, net, dLogits);
  for (const p of state.params) {
    const grad = grads.get(p.name);
    if (grad) g.output(gradName(p.name), grad, 'float', p.dims);
  }
  g.output(OUT_LOSS, loss, 'float', []);
  g.output(OUT_CORRECT, correct, 'float', []);
  return finish(g, 'grads', stateInputs, {});
}

function finish(g: GraphBuilder, purpose: Purpose, stateInputs: string[], next: Record<string, string>): BuiltGraph {
  const known = new Set([INPUT_X, INPUT_LABELS, INPUT_LR, INPUT_STEP, ...stateInputs]);
  const sideInputs = g.inputNames().filter((n) => !known.has(n));
  return { purpose, bytes: g.toBytes(), stateInputs, next, nodes: g.liveNodeCount(), sideInputs };
}

// ---------------------------------------------------------------------------------------------
// Optimizers (PyTorch semantics; weight decay is L2 added to the gradient of weights only).

interface Update {
  param: string;
  slots: Record<string, string>;
}

function emitUpdate(g: GraphBuilder, opt: Optimizer, p: ParamEntry, rawGrad: string): Update {
  const w = p.name;
  const grad = p.decay && opt.weightDecay !== 0 ? g.op('Add', [rawGrad, g.op('Mul', [w, g.scalar(opt.weightDecay)])]) : rawGrad;
  if (opt.kind === 'adam') return adamUpdate(g, opt, w, grad);
  if (opt.momentum === 0) return { param: g.op('Sub', [w, g.op('Mul', [grad, INPUT_LR])]), slots: {} };
  // v ← μ·v + g;  step = nesterov ? g + μ·v : v
  const mu = g.scalar(opt.momentum);
  const v = g.op('Add', [g.op('Mul', [`${w}/m`, mu]), grad]);
  const dir = opt.nesterov ? g.op('Add', [grad, g.op('Mul', [v, mu])]) : v;
  return { param: g.op('Sub', [w, g.op('Mul', [dir, INPUT_LR])]), slots: { m: v } };
}

/** Bias-corrected Adam; the step counter t (1-based) is a graph input. */
function adamUpdate(g: GraphBuilder, opt: Extract<Optimizer, { kind: 'adam' }>, w: string, grad: string): Update {
  const m = g.op('Add', [g.op('Mul', [`${w}/m`, g.scalar(opt.beta1)]), g.op('Mul', [grad, g.scalar(1 - opt.beta1)])]);
  const v = g.op('Add', [g.op('Mul', [`${w}/v`, g.scalar(opt.beta2)]), g.op('Mul', [g.op('Mul', [grad, grad]), g.scalar(1 - opt.beta2)])]);
  const one = g.scalar(1);
  const c1 = g.op('Sub', [one, g.op('Pow', [g.scalar(opt.beta1), INPUT_STEP])]);
  const c2 = g.op('Sub', [one, g.op('Pow', [g.scalar(opt.beta2), INPUT_STEP])]);
  const denom = g.op('Add', [g.op('Div', [g.op('Sqrt', [v]), g.op('Sqrt', [c2])]), g.scalar(opt.epsilon)]);
  const stepSize = g.op('Div', [INPUT_LR, c1]);
  return { param: g.op('Sub', [w, g.op('Mul', [g.op('Div', [m, denom]), stepSize])]), slots: { m, v } };
}
