/**
 * A small typed builder for ONNX graphs (opset 18, IR version 8), serialized with `onnx-proto`.
 *
 * Tensor names are plain strings; `op()` returns the name of a fresh output. `toBytes()` prunes
 * every node that no graph output depends on (ENGINE.md rule 1: ORT runs every node it is given).
 */

import onnxProto from 'onnx-proto';

const onnx = onnxProto.onnx;
const AttrType = onnx.AttributeProto.AttributeType;

/**
 * ONNX element types by name (onnx.proto `TensorProto.DataType`, IR version 8): Cast's `to`, the
 * `dtype` of EyeLike / Random*, a tensor's `dataType` and a value's `elemType`. Never write the
 * numbers: `{ to: DataType.FLOAT }`.
 */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;
export type DataTypeId = (typeof DataType)[keyof typeof DataType];

export const OPSET = 18;
export const IR_VERSION = 8;

export type ElemType = 'float' | 'int64' | 'int32' | 'uint32' | 'uint8' | 'int8' | 'bool';
/** A dimension: a fixed size or a symbolic name (dynamic, e.g. the batch "N"). */
export type Dim = number | string;

/** Attribute values: integers and integer lists by default; floats must be wrapped. */
export type AttrValue =
  number | number[] | string | { f: number } | { floats: number[] } | { tensor: onnxProto.onnx.ITensorProto } | { graph: onnxProto.onnx.IGraphProto };

/** Wrap a float attribute (a bare number is an INT attribute). */
export const f = (value: number): { f: number } => ({ f: value });

const ELEM: Record<ElemType, DataTypeId> = {
  float: DataType.FLOAT,
  int64: DataType.INT64,
  int32: DataType.INT32,
  uint32: DataType.UINT32,
  uint8: DataType.UINT8,
  int8: DataType.INT8,
  bool: DataType.BOOL,
};

interface NodeSpec {
  opType: string;
  /** The operator set of a contributed op (onnxruntime's 'com.microsoft', 'com.microsoft.nchwc'); absent: the ONNX domain. */
  domain?: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  name: string;
  /** Tensors of the enclosing graph that the node's subgraphs read (If): live with the node. */
  implicit?: string[];
}

/**
 * A graph input that an emitter declares and the runtime feeds on every run (device state, ADC
 * ranges, noise, masks): a typed record, so that feeders never parse names back.
 */
export interface SideInput {
  /** The graph input's name. */
  name: string;
  /** Which emitter declared it: its feeder recognizes its own inputs by this. */
  owner: 'crossbar' | 'transform';
  /** The layer it belongs to. */
  layer: string;
  /** What it holds, in the owner's vocabulary (crossbar: A, B, Wf, lsb, noise, …; transform: mask). */
  kind: string;
  dims: Dim[];
}

const ORDER_PREFIX = 'order/';

/**
 * Execution-order hints (`sideBranch`, `early`) on or off for graphs serialized from now on.
 * Off: side branches stay in emission order and nothing is anchored. For tests, which check that
 * the hints change the memory and never a number.
 */
export const executionOrderHints = { enabled: true };

/** Whether a graph output only anchors the execution order (`GraphBuilder.early`): no result. */
export const isOrderOutput = (name: string): boolean => name.startsWith(ORDER_PREFIX);

/** onnxruntime's contributed operator sets the runtime emits (CPU kernels; onnxruntime_c_api `kMSDomain`, `kMSNchwcDomain`). */
export type ContribDomain = 'com.microsoft' | 'com.microsoft.nchwc';

export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  /** Side branches (`sideBranch`), in emission order: serialized after every other node, the latest first. */
  private readonly branches: NodeSpec[][] = [];
  private readonly anchored = new Set<string>();
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly constCache = new Map<string, string>();
  private readonly sides = new Map<string, SideInput>();
  private readonly contexts = new Map<abstract new () => unknown, unknown>();
  private counter = 0;
  private parent: GraphBuilder | null = null;
  /** Prefix of the node names emitted now ("conv1/fwd"): profiles attribute kernel time to layers by it. */
  private scopeName = '';

  constructor(readonly name: string) {}

  /** A unique tensor name with a readable prefix (unique across a graph and its branches). */
  fresh(prefix: string): string {
    return this.parent ? this.parent.fresh(prefix) : `${prefix}#${this.counter++}`;
  }

  /**
   * A subgraph for `ifElse`: its ops may read this graph's tensors by name; declare its results
   * with `output`. Its constants are its own initializers.
   */
  branch(name: string): GraphBuilder {
    const b = new GraphBuilder(name);
    b.parent = this;
    return b;
  }

  /** ONNX If: the outputs of `then` where the bool scalar `cond` holds, else of `otherwise` (same count and types). */
  ifElse(cond: string, then: GraphBuilder, otherwise: GraphBuilder): string[] {
    const t = then.subgraph();
    const e = otherwise.subgraph();
    const outputs = Array.from({ length: t.graph.output!.length }, () => this.fresh('If'));
    this.nodes.push({
      opType: 'If',
      inputs: [cond],
      outputs,
      attrs: { then_branch: { graph: t.graph }, else_branch: { graph: e.graph } },
      name: this.nodeName(outputs[0]!),
      implicit: [...t.outer, ...e.outer],
    });
    return outputs;
  }

  /** This builder as a subgraph: its live nodes, and the enclosing-scope tensors they read. */
  private subgraph(): { graph: onnxProto.onnx.IGraphProto; outer: string[] } {
    const nodes = this.liveNodes();
    const inner = new Set([...nodes.flatMap((n) => n.outputs), ...this.initializers.map((t) => t.name!)]);
    const reads = nodes.flatMap((n) => [...n.inputs, ...(n.implicit ?? [])]);
    const used = new Set(reads);
    return {
      graph: { name: this.name, node: nodes.map(nodeProto), input: [], output: this.outputs, initializer: this.initializers.filter((t) => used.has(t.name!)) },
      outer: [...new Set(reads.filter((i) => i !== '' && !inner.has(i)))],
    };
  }

  input(name: string, elem: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  /**
   * Turn a declared float input into an initializer holding `values` (exported models carry their
   * weights; a frozen mask or constant no longer needs feeding).
   */
  freeze(name: string, values: Float32Array, dims: number[]): void {
    const at = this.inputs.findIndex((i) => i.name === name);
    if (at < 0) throw new RangeError(`cannot freeze ${name}: the graph has no such input`);
    this.inputs.splice(at, 1);
    this.initializers.push(tensorProto(name, 'float', dims, values));
  }

  /** Declare a side input once per graph (a second declaration of the same name returns it). */
  sideInput(decl: SideInput): string {
    if (!this.sides.has(decl.name)) {
      this.sides.set(decl.name, decl);
      this.input(decl.name, 'float', decl.dims);
    }
    return decl.name;
  }

  /** The declared side inputs, in declaration order. */
  sideInputs(): SideInput[] {
    return [...this.sides.values()];
  }

  /**
   * Per-graph state of an emitter (caches shared by its layers, tensors tests may fetch): one
   * instance of `kind` per graph, made on first use. The graph owns it, so nothing outlives it.
   */
  context<T>(kind: new () => T): T {
    let c = this.contexts.get(kind) as T | undefined;
    if (c === undefined) {
      c = new kind();
      this.contexts.set(kind, c);
    }
    return c;
  }

  /** Names of the declared graph inputs, in declaration order. */
  inputNames(): string[] {
    return this.inputs.map((i) => i.name!);
  }

  /** Declare `tensor` as a graph output called `name` (an Identity renames when they differ). */
  output(name: string, tensor: string, elem: ElemType = 'float', dims?: Dim[]): void {
    if (tensor !== name) this.nodes.push({ opType: 'Identity', inputs: [tensor], outputs: [name], attrs: {}, name: `out/${name}` });
    this.outputs.push(valueInfo(name, elem, dims));
  }

  /**
   * Emit the nodes `emit` creates as a side branch: a computation that only graph outputs read
   * (statistics of a layer). onnxruntime executes the nodes in the post-order of a depth-first
   * walk from the graph's leaves, taking the leaf of the highest node index (the proto's node
   * order) first, so a branch written in emission order would run after the whole network and
   * keep every tensor it reads alive until then (measured: the statistics graph of ResNet-20
   * held every layer's input and output, +740 MiB at 250 samples). Serialized after every other
   * node, the branch reading the earliest tensors last (`liveNodes`), each branch runs as soon as
   * the tensors it reads exist. Execution order only: the values are the same.
   */
  sideBranch<T>(emit: () => T): T {
    if (!executionOrderHints.enabled) return emit();
    const start = this.nodes.length;
    const result = emit();
    this.branches.push(this.nodes.splice(start));
    return result;
  }

  /**
   * Compute `tensor` as soon as its inputs exist, not when its first consumer runs: a small mask
   * that backward reads (a straight-through clip mask) would otherwise be computed in the backward
   * pass and keep the two full-size float tensors it compares alive through the whole forward
   * (+196 MiB of 486 on fast ResNet-20 at batch 128). A side branch reads its shape (no pass over
   * the data) into a graph output `order/…` of 4-byte floats, which callers ignore.
   */
  early(tensor: string): void {
    if (!executionOrderHints.enabled || this.anchored.has(tensor)) return;
    this.anchored.add(tensor);
    this.sideBranch(() => this.output(`${ORDER_PREFIX}${tensor}`, this.op('Cast', [this.op('Shape', [tensor])], { to: DataType.FLOAT }), 'float'));
  }

  /**
   * Run `emit` with node names prefixed by `scope` ("conv1/fwd/Conv#12"): onnxruntime's profile
   * names kernels by node, so a profile can be summed per layer and phase. Tensor names are not
   * changed. Scopes do not nest: the inner one replaces the outer while it lasts.
   */
  scoped<T>(scope: string, emit: () => T): T {
    const root = this.root();
    const outer = root.scopeName;
    root.scopeName = scope;
    try {
      return emit();
    } finally {
      root.scopeName = outer;
    }
  }

  private root(): GraphBuilder {
    return this.parent ? this.parent.root() : this;
  }

  private nodeName(firstOutput: string): string {
    const scope = this.root().scopeName;
    return scope ? `${scope}/${firstOutput}` : firstOutput;
  }

  /** Emit one node with `nOut` outputs; returns their names. */
  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, nOut = 1, prefix = opType): string[] {
    const outputs = Array.from({ length: nOut }, () => this.fresh(prefix));
    this.nodes.push({ opType, inputs, outputs, attrs, name: this.nodeName(outputs[0]!) });
    return outputs;
  }

  /** The node that emits `tensor` (its type, inputs and attributes), if this builder emitted one: for emitters that recognize a computation's form. */
  producer(tensor: string): { opType: string; inputs: readonly string[]; attrs: Readonly<Record<string, AttrValue>> } | undefined {
    const n = this.nodes.find((m) => m.outputs.includes(tensor));
    return n && { opType: n.opType, inputs: n.inputs, attrs: n.attrs };
  }

  /** Emit a single-output node; returns its output name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, prefix = opType): string {
    return this.node(opType, inputs, attrs, 1, prefix)[0]!;
  }

  /** A single-output node of onnxruntime's contributed operator set `domain` (version 1, imported by the model). */
  contribOp(domain: ContribDomain, opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    const output = this.fresh(opType);
    this.nodes.push({ opType, domain, inputs, outputs: [output], attrs, name: this.nodeName(output) });
    return output;
  }

  /** A float32 constant stored as an initializer (for small tensors; see `zeros` for big ones). */
  constFloat(values: ArrayLike<number>, dims: number[] = [values.length]): string {
    return this.cachedConst('f', values, dims, () => tensorProto(this.fresh('cf'), 'float', dims, Float32Array.from(values)));
  }

  /** A float32 scalar constant (rank 0). */
  scalar(value: number): string {
    return this.constFloat([value], []);
  }

  constInt64(values: ArrayLike<number>, dims: number[] = [values.length]): string {
    return this.cachedConst('i', values, dims, () => tensorProto(this.fresh('ci'), 'int64', dims, BigInt64Array.from(Array.from(values, BigInt))));
  }

  constUint32(values: ArrayLike<number>, dims: number[] = [values.length]): string {
    return this.cachedConst('u32', values, dims, () => tensorProto(this.fresh('cu32'), 'uint32', dims, Uint32Array.from(values)));
  }

  constUint8(values: ArrayLike<number>, dims: number[] = [values.length]): string {
    return this.cachedConst('u8', values, dims, () => tensorProto(this.fresh('cu8'), 'uint8', dims, Uint8Array.from(values)));
  }

  constInt8(values: ArrayLike<number>, dims: number[] = [values.length]): string {
    return this.cachedConst('i8', values, dims, () => tensorProto(this.fresh('ci8'), 'int8', dims, Int8Array.from(values)));
  }

  constInt32(values: ArrayLike<number>, dims: number[] = [values.length]): string {
    return this.cachedConst('i32', values, dims, () => tensorProto(this.fresh('ci32'), 'int32', dims, Int32Array.from(values)));
  }

  /** A float32 tensor of zeros via ConstantOfShape (rule 6: no megabyte initializers). */
  zeros(dims: number[]): string {
    return this.zerosOfShape(this.constInt64(dims));
  }

  /** A float32 zero tensor whose shape is the runtime value of an int64 shape tensor. */
  zerosOfShape(shape: string): string {
    return this.op('ConstantOfShape', [shape], { value: { tensor: tensorProto('zero', 'float', [1], new Float32Array(1)) } });
  }

  /** Serialize to ModelProto bytes, dropping nodes no output depends on. */
  toBytes(): Uint8Array {
    const nodes = this.liveNodes();
    const used = new Set(nodes.flatMap((n) => [...n.inputs, ...(n.implicit ?? [])]));
    const domains = [...new Set(nodes.flatMap((n) => (n.domain ? [n.domain] : [])))].sort();
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }, ...domains.map((domain) => ({ domain, version: 1 }))],
      producerName: 'xbarc',
      graph: {
        name: this.name,
        node: nodes.map(nodeProto),
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers.filter((t) => used.has(t.name!)),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  /** Number of nodes that survive pruning (for tests and benchmarks). */
  liveNodeCount(): number {
    return this.liveNodes().length;
  }

  private liveNodes(): NodeSpec[] {
    const producer = new Map<string, NodeSpec>();
    const all = [...this.nodes, ...this.orderedBranches().flat()];
    for (const n of all) for (const o of n.outputs) producer.set(o, n);
    const live = new Set<NodeSpec>();
    const stack = this.outputs.map((o) => o.name!);
    while (stack.length > 0) {
      const n = producer.get(stack.pop()!);
      if (!n || live.has(n)) continue;
      live.add(n);
      stack.push(...n.inputs.filter((i) => i !== ''), ...(n.implicit ?? []));
    }
    return all.filter((n) => live.has(n)); // the emission (topological) order, side branches last
  }

  /**
   * Side branches in serialization order: by the main-path position of the latest tensor each
   * reads, descending, so that the branch reading the earliest tensors has the highest node
   * indices and onnxruntime's walk (`sideBranch`) reaches it first.
   */
  private orderedBranches(): NodeSpec[][] {
    const at = new Map<string, number>();
    this.nodes.forEach((n, i) => n.outputs.forEach((o) => at.set(o, i)));
    const reads = (b: NodeSpec[]): number => Math.max(-1, ...b.flatMap((n) => [...n.inputs, ...(n.implicit ?? [])].map((i) => at.get(i) ?? -1)));
    return this.branches
      .map((b, i) => ({ b, i, r: reads(b) }))
      .sort((p, q) => q.r - p.r || q.i - p.i)
      .map((e) => e.b);
  }

  private cachedConst(kind: string, values: ArrayLike<number>, dims: number[], make: () => onnxProto.onnx.ITensorProto): string {
    const key = `${kind}|${dims.join(',')}|${Array.from(values).join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const t = make();
    this.initializers.push(t);
    this.constCache.set(key, t.name!);
    return t.name!;
  }
}

function valueInfo(name: string, elem: ElemType, dims?: Dim[]): onnxProto.onnx.IValueInfoProto {
  const tensorType: onnxProto.onnx.TypeProto.ITensor = { elemType: ELEM[elem] };
  if (dims) tensorType.shape = { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType } };
}

function tensorProto(
  name: string,
  elem: ElemType,
  dims: number[],
  data: Float32Array | BigInt64Array | Int32Array | Uint32Array | Uint8Array | Int8Array,
): onnxProto.onnx.ITensorProto {
  return {
    name,
    dataType: ELEM[elem],
    dims,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

function nodeProto(n: NodeSpec): onnxProto.onnx.INodeProto {
  return {
    opType: n.opType,
    ...(n.domain ? { domain: n.domain } : {}),
    input: n.inputs,
    output: n.outputs,
    name: n.name,
    attribute: Object.entries(n.attrs).map(([name, v]) => attributeProto(name, v)),
  };
}

function attributeProto(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new TypeError(`attribute ${name}: ${v} is not an integer (wrap floats with f())`);
    return { name, type: AttrType.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v };
  if ('f' in v) return { name, type: AttrType.FLOAT, f: v.f };
  if ('floats' in v) return { name, type: AttrType.FLOATS, floats: v.floats };
  if ('graph' in v) return { name, type: AttrType.GRAPH, g: v.graph };
  return { name, type: AttrType.TENSOR, t: v.tensor };
}
