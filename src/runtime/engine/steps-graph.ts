/**
 * K training steps in one `run()`: the train graph of one step (graphs.ts, `trainGraphSpec`)
 * rewritten as the body of an ONNX `Loop` whose loop-carried values are the state tensors
 * (parameters, batchnorm statistics, optimizer slots). Iteration k takes batch k of a chunk
 * `xs` [K, B, ...input] / `ys` [K, B] and emits its loss and #correct as scan outputs [K].
 *
 * Why: at batch 1 a step of a small network is a few hundred microseconds of work, and each
 * `run()` adds a fixed cost (feeds, output tensors, the N-API crossing, JS bookkeeping) that a
 * chunk pays once (docs/running.md, "Online learning (batch 1)"). The body is the one-step graph
 * node for node — same ops, same shapes, same kernels — so K iterations give the bits of K plain
 * steps (test/runtime/online.test.ts).
 *
 * Only graphs without side inputs qualify: those (crossbar device state, noise) are fed per run by
 * the runtime and would have to change between the steps of a chunk.
 */

import onnxProto from 'onnx-proto';
import { XbarcRuntimeError } from '../../model/errors.js';
import { INPUT_LABELS, INPUT_LR, INPUT_STEP, INPUT_X, OUT_CORRECT, OUT_LOSS, type BuiltGraph } from './graphs.js';
import { DataType } from './onnx.js';

const onnx = onnxProto.onnx;
type Graph = onnxProto.onnx.IGraphProto;
type Node = onnxProto.onnx.INodeProto;
type ValueInfo = onnxProto.onnx.IValueInfoProto;

/** Inputs of a chunk graph: the K batches, their labels, and (Adam) the 1-based step of the first. */
export const INPUT_XS = 'xs';
export const INPUT_YS = 'ys';
export const INPUT_FIRST_STEP = 'first_step';
/** Outputs: each step's mean loss and #correct, [K]. */
export const OUT_LOSSES = 'losses';
export const OUT_CORRECTS = 'corrects';

export interface StepsGraph {
  bytes: Uint8Array;
  /** State inputs, fed by their state names as in the one-step graph. */
  stateInputs: string[];
  /** Output name → the state tensor it replaces (the one-step graph's `next`). */
  next: Record<string, string>;
}

/** Body-scope name of a one-step graph tensor. */
const inBody = (name: string): string => `step/${name}`;

/**
 * The chunk graph of a one-step train graph. Names read from the enclosing scope (the learning
 * rate, the chunk inputs) stay as they are; every tensor the step defines gets a body-scope name.
 */
export function buildStepsGraph(step: BuiltGraph): StepsGraph {
  if (step.purpose !== 'train') throw new XbarcRuntimeError('engine/bad-spec', `a steps graph repeats a training step, not a ${step.purpose} graph`);
  if (step.sideInputs.length > 0)
    throw new XbarcRuntimeError('engine/bad-spec', `a graph with side inputs (${step.sideInputs[0]!.name}, …) runs one step per run`);
  const model = onnx.ModelProto.decode(step.bytes);
  const g = model.graph!;
  const inputs = new Map((g.input ?? []).map((i) => [i.name!, i]));
  const adam = inputs.has(INPUT_STEP);
  const outerNames = new Set([INPUT_LR]);
  const rename = new Map<string, string>();
  for (const name of inputs.keys()) if (!outerNames.has(name)) rename.set(name, inBody(name));
  for (const n of g.node ?? []) for (const o of n.output ?? []) if (o !== '') rename.set(o, inBody(o));
  for (const out of [OUT_LOSS, OUT_CORRECT]) if (!rename.has(out)) throw new XbarcRuntimeError('engine/bad-spec', `the step graph has no ${out} output`);
  const carried = step.stateInputs;
  const nextOf = new Map(Object.entries(step.next).map(([out, state]) => [state, out]));

  const body: Node[] = [
    node('Gather', [INPUT_XS, 'iter'], [inBody(INPUT_X)], { axis: 0 }),
    node('Gather', [INPUT_YS, 'iter'], [inBody(INPUT_LABELS)], { axis: 0 }),
    ...(adam ? [node('Cast', ['iter'], ['iter_float'], { to: DataType.FLOAT }), node('Add', [INPUT_FIRST_STEP, 'iter_float'], [inBody(INPUT_STEP)])] : []),
    ...(g.node ?? []).map((n) => renamed(n, rename)),
    node('Identity', ['cond_in'], ['cond_out']),
    // A state the step does not replace is carried unchanged.
    ...carried.filter((s) => !nextOf.has(s)).map((s) => node('Identity', [inBody(s)], [inBody(`keep:${s}`)])),
  ];
  const carriedOut = carried.map((s) => (nextOf.has(s) ? inBody(nextOf.get(s)!) : inBody(`keep:${s}`)));
  const scalar = (name: string, elem: number): ValueInfo => ({ name, type: { tensorType: { elemType: elem, shape: { dim: [] } } } });
  const bodyGraph: Graph = {
    name: `${g.name}.step`,
    node: body,
    initializer: g.initializer ?? [],
    input: [scalar('iter', DataType.INT64), scalar('cond_in', DataType.BOOL), ...carried.map((s) => ({ ...inputs.get(s)!, name: inBody(s) }))],
    output: [
      scalar('cond_out', DataType.BOOL),
      ...carried.map((s, i) => ({ ...inputs.get(s)!, name: carriedOut[i]! })),
      scalar(inBody(OUT_LOSS), DataType.FLOAT),
      scalar(inBody(OUT_CORRECT), DataType.FLOAT),
    ],
  };

  const x = inputs.get(INPUT_X)!;
  const xDims = x.type!.tensorType!.shape!.dim!;
  const outerInputs: ValueInfo[] = [
    { name: INPUT_XS, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'K' }, ...xDims] } } } },
    { name: INPUT_YS, type: { tensorType: { elemType: DataType.INT32, shape: { dim: [{ dimParam: 'K' }, { dimParam: 'N' }] } } } },
    ...carried.map((s) => inputs.get(s)!),
    inputs.get(INPUT_LR)!,
    ...(adam ? [scalar(INPUT_FIRST_STEP, DataType.FLOAT)] : []),
  ];
  const finalNames = carried.map((s) => nextOf.get(s) ?? `unchanged:${s}`);
  const outer: Node[] = [
    node('Shape', [INPUT_YS], ['trips1'], { start: 0, end: 1 }),
    node('Squeeze', ['trips1'], ['trips']),
    node('Loop', ['trips', '', ...carried], [...finalNames, OUT_LOSSES, OUT_CORRECTS], { body: bodyGraph }),
  ];
  const next: Record<string, string> = {};
  for (const [s, out] of nextOf) next[out] = s;
  const outputs: ValueInfo[] = [
    ...carried.filter((s) => nextOf.has(s)).map((s) => ({ ...inputs.get(s)!, name: nextOf.get(s)! })),
    { name: OUT_LOSSES, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'K' }] } } } },
    { name: OUT_CORRECTS, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'K' }] } } } },
  ];
  const chunk = onnx.ModelProto.create({ ...model, graph: { name: `${g.name}.steps`, node: outer, input: outerInputs, output: outputs, initializer: [] } });
  return { bytes: onnx.ModelProto.encode(chunk).finish(), stateInputs: carried, next };
}

function node(opType: string, input: string[], output: string[], attrs: Record<string, number | Graph> = {}): Node {
  const attribute = Object.entries(attrs).map(([name, v]) =>
    typeof v === 'number' ? { name, type: onnx.AttributeProto.AttributeType.INT, i: v } : { name, type: onnx.AttributeProto.AttributeType.GRAPH, g: v },
  );
  return { opType, input, output, name: output[0]!, attribute };
}

/** A node with its tensor names mapped, into nested subgraphs (If branches read the step's tensors by name). */
function renamed(n: Node, rename: ReadonlyMap<string, string>): Node {
  const map = (s: string): string => rename.get(s) ?? s;
  return {
    ...n,
    input: (n.input ?? []).map(map),
    output: (n.output ?? []).map(map),
    attribute: (n.attribute ?? []).map((a) => (a.g ? { ...a, g: renamedGraph(a.g, rename) } : a)),
  };
}

function renamedGraph(g: Graph, rename: ReadonlyMap<string, string>): Graph {
  const map = (s: string): string => rename.get(s) ?? s;
  return { ...g, node: (g.node ?? []).map((n) => renamed(n, rename)), output: (g.output ?? []).map((o) => ({ ...o, name: map(o.name!) })) };
}
