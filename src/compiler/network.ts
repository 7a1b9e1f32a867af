/**
 * Network expansion and shape inference: a network declaration plus arguments becomes a
 * topologically ordered layer list with shapes, parameter counts and FLOPs. The first layer whose
 * input does not fit is reported with the shapes named; later layers are skipped (their shapes
 * would only repeat the same error).
 */
import type { Expr, NetMember, NetworkDecl, Span } from './ast.js';
import { pathText } from './ast.js';
import { closest, didYouMean } from './diagnostics.js';
import type { EvalContext, Evaluator } from './evaluate.js';
import type { Module } from './resolve.js';
import { findConstructor, familyConstructors } from './schema.js';
import type { LayerOp, PlanLayer, Shape } from '../model/plan.js';
import type { Value } from './values.js';

export interface CheckedLayer extends Omit<PlanLayer, 'mapping'> {
  file: string;
  span: Span;
  /** True for dense and conv2d: layers with a weight matrix that can be mapped to crossbars. */
  weighted: boolean;
}

export interface ExpandedNetwork {
  name: string;
  inputShape: Shape;
  /** Declared with `input = …` in the network (else taken from the data). */
  declaredInput?: { shape: Shape; file: string; span: Span };
  layers: CheckedLayer[];
  /** False when an error stopped shape inference. */
  complete: boolean;
}

interface Cursor {
  name: string;
  shape: Shape;
}

interface BlockFrame {
  input: Cursor;
  shortcut?: Cursor;
  sawAdd: boolean;
  prefix: string;
}

class Expander {
  readonly layers: CheckedLayer[] = [];
  private names = new Set<string>();
  private counters = new Map<string, number>();
  failed = false;
  /** Networks being inlined, outermost first (to report recursion). */
  readonly stack: string[] = [];

  /** `callSite`: the `model = …` that instantiated the network; errors inside the stdlib are reported there. */
  constructor(
    readonly ev: Evaluator,
    readonly networkName: string,
    readonly rootFile: string,
    readonly callSite?: { file: string; span: Span },
  ) {
    this.stack.push(networkName);
  }

  /** Where to report a problem with a layer: the user's call site when the layer is in the standard library. */
  private at(ctx: EvalContext, span: Span): { file: string; span: Span } {
    return ctx.module.isStdlib && this.callSite && this.callSite.file !== ctx.file ? this.callSite : { file: ctx.file, span };
  }

  private uniqueAutoName(prefix: string, op: string): string {
    for (;;) {
      const n = (this.counters.get(prefix + op) ?? 0) + 1;
      this.counters.set(prefix + op, n);
      const name = `${prefix}${op}${n}`;
      if (!this.names.has(name)) return name;
    }
  }

  private claimName(name: string, file: string, span: Span): boolean {
    if (this.names.has(name)) {
      this.ev.diags.add('duplicate-layer', file, span, { name, network: this.networkName });
      return false;
    }
    this.names.add(name);
    return true;
  }

  /** Expand a member list; returns the cursor after it (undefined once shapes are unknown). */
  expand(members: NetMember[], cursor: Cursor, ctx: EvalContext, prefix: string, block: BlockFrame | undefined, depth: number): Cursor | undefined {
    let cur: Cursor | undefined = cursor;
    for (const m of members) {
      if (m.kind === 'layer' && m.name?.text === 'input') continue; // handled by the caller
      if (m.kind === 'shortcut') {
        if (!block) {
          this.ev.diags.add('misplaced-layer', ctx.file, m.span, { detail: 'shortcut { … } is only allowed inside a block' });
          continue;
        }
        if (block.sawAdd) {
          this.ev.diags.add('misplaced-layer', ctx.file, m.span, { detail: 'shortcut must come before the add that uses it' });
          continue;
        }
        if (block.shortcut) {
          this.ev.diags.add('misplaced-layer', ctx.file, m.span, { detail: 'a block has at most one shortcut' });
          continue;
        }
        const sc = this.expand(m.body, block.input, ctx, `${block.prefix}shortcut.`, undefined, depth);
        if (sc) block.shortcut = sc;
        else this.failed = true;
        continue;
      }
      if (m.kind === 'block') {
        const blockPrefix = `${prefix}${m.name.text}.`;
        // A duplicate name is reported; keep expanding so later shape errors still show.
        if (!this.claimName(`${prefix}${m.name.text}`, ctx.file, m.name.span)) this.failed = true;
        if (!cur) continue;
        const frame: BlockFrame = { input: cur, sawAdd: false, prefix: blockPrefix };
        const after = this.expand(m.body, cur, ctx, blockPrefix, frame, depth);
        cur = after;
        continue;
      }
      cur = this.expandLayer(m, cur, ctx, prefix, block, depth);
    }
    return cur;
  }

  private expandLayer(
    m: Extract<NetMember, { kind: 'layer' }>,
    cur: Cursor | undefined,
    ctx: EvalContext,
    prefix: string,
    block: BlockFrame | undefined,
    depth: number,
  ): Cursor | undefined {
    const expr = m.expr;
    const callee = expr.kind === 'call' ? expr.callee : expr.kind === 'ref' ? expr.path : undefined;
    if (!callee) {
      if (expr.kind !== 'error')
        this.ev.diags.add('type-mismatch', ctx.file, expr.span, {
          context: 'network member',
          expected: 'a layer such as conv2d(…), dense(…), relu',
          actual: 'an expression',
        });
      return cur;
    }
    const head = callee[0]!;
    const ctor = callee.length === 1 ? findConstructor('layer', head.text) : undefined;
    if (!ctor) {
      // A network used as a layer: inline it under this member's name.
      const found = callee.length === 1 ? this.ev.lookupDecl(ctx.module, head.text) : undefined;
      if (found?.decl.kind === 'network') return this.inlineNetwork(found.decl, found.module, m, expr, cur, ctx, prefix, depth);
      this.failed = true;
      if (ctx.module.unresolved.has(head.text)) return undefined; // its import is already reported
      const names = [
        ...familyConstructors('layer').map((c) => c.name),
        ...[...ctx.module.scope.entries()].filter(([, e]) => e.decl.kind === 'network').map(([n]) => n),
      ];
      const suggestion = closest(head.text, names);
      this.ev.diags.add(
        'unknown-function',
        ctx.file,
        head.span,
        { what: 'layer', name: pathText(callee), suggestion: didYouMean(suggestion) },
        suggestion ? { title: `Change to ${suggestion}`, span: head.span, newText: suggestion } : undefined,
      );
      return undefined;
    }
    const args = expr.kind === 'call' ? expr.args : [];
    const bound = this.ev.bindArgs(ctor.name, ctor.params, args, ctx);
    const name = m.name ? `${prefix}${m.name.text}` : this.uniqueAutoName(prefix, ctor.name);
    if (m.name && !this.claimName(name, ctx.file, m.name.span)) this.failed = true;
    if (!m.name) this.names.add(name);
    if (!bound) {
      this.failed = true;
      return undefined;
    }
    const values: Record<string, Value> = {};
    for (const p of ctor.params) {
      const given = bound.get(p.name);
      const v = given ? this.ev.evalTyped(given, p.type, ctx, `${ctor.name}.${p.name}`) : this.ev.defaultFor(p, ctx.file, expr.span);
      if (given && !v) {
        this.failed = true;
        return undefined;
      }
      if (!given && p.default.kind === 'required') {
        this.ev.diags.add('missing-argument', ctx.file, expr.span, { callee: ctor.name, name: p.name });
        this.failed = true;
        return undefined;
      }
      if (v) values[p.name] = v;
    }
    if (!cur) return undefined;
    if (ctor.name === 'add') return this.addLayer(name, values, cur, ctx, expr, block);
    return this.shapeLayer(name, ctor.name, values, cur, ctx, expr.span);
  }

  private inlineNetwork(
    net: NetworkDecl,
    module: Module,
    m: Extract<NetMember, { kind: 'layer' }>,
    expr: Expr,
    cur: Cursor | undefined,
    ctx: EvalContext,
    prefix: string,
    depth: number,
  ): Cursor | undefined {
    const loop = this.stack.indexOf(net.name.text);
    if (loop >= 0) {
      this.ev.diags.add('cyclic-definition', ctx.file, expr.span, { name: net.name.text, cycle: [...this.stack.slice(loop), net.name.text].join(' → ') });
      this.failed = true;
      return undefined;
    }
    if (depth > 16) {
      this.ev.diags.add('cyclic-definition', ctx.file, expr.span, {
        name: net.name.text,
        cycle: 'networks include each other too deeply (recursive network?)',
      });
      this.failed = true;
      return undefined;
    }
    const args = expr.kind === 'call' ? expr.args : [];
    const bound = this.ev.bindArgs(
      net.name.text,
      net.params.map((p) => ({ name: p.name.text })),
      args,
      ctx,
    );
    if (!bound) return undefined;
    const argValues = new Map<string, Value>();
    for (const [k, e] of bound) {
      const v = this.ev.evalAny(e, ctx, `${net.name.text}.${k}`);
      if (!v) return undefined;
      argValues.set(k, v);
    }
    const params = bindNetworkParams(this.ev, net, module, argValues, expr.span, ctx.file);
    if (!params) return undefined;
    const innerName = m.name?.text ?? this.uniqueAutoName(prefix, net.name.text.toLowerCase());
    if (m.name && !this.claimName(`${prefix}${innerName}`, ctx.file, m.name.span)) this.failed = true;
    if (!cur) return undefined;
    // A network used as a layer is a block: its input is what `add` and `shortcut` refer to.
    const innerPrefix = `${prefix}${innerName}.`;
    const frame: BlockFrame = { input: cur, sawAdd: false, prefix: innerPrefix };
    this.stack.push(net.name.text);
    const after = this.expand(net.body, cur, { module, file: module.path, params }, innerPrefix, frame, depth + 1);
    this.stack.pop();
    return after;
  }

  private addLayer(name: string, _values: Record<string, Value>, cur: Cursor, ctx: EvalContext, expr: Expr, block: BlockFrame | undefined): Cursor | undefined {
    if (!block) {
      this.ev.diags.add('misplaced-layer', ctx.file, expr.span, {
        detail: "add is only allowed inside a block: it adds the block's input (or its shortcut) to the current value",
      });
      this.failed = true;
      return undefined;
    }
    block.sawAdd = true;
    const other = block.shortcut ?? block.input;
    if (!sameShape(other.shape, cur.shape)) {
      const at = this.at(ctx, expr.span);
      this.ev.diags.add('shape-mismatch', at.file, at.span, {
        layer: name,
        op: 'add',
        shape: showShape(cur.shape),
        detail: `the ${block.shortcut ? 'shortcut' : 'block input'} has shape ${showShape(other.shape)}; add a projection in shortcut { … }`,
      });
      this.failed = true;
      return undefined;
    }
    return this.push({
      name,
      op: { kind: 'add' },
      inputs: [cur.name, other.name],
      inputShape: cur.shape,
      outputShape: cur.shape,
      params: 0,
      flopsPerSample: prod(cur.shape),
      activationBytesPerSample: 4 * prod(cur.shape),
      file: ctx.file,
      span: expr.span,
      weighted: false,
    });
  }

  private shapeLayer(name: string, op: string, values: Record<string, Value>, cur: Cursor, ctx: EvalContext, span: Span): Cursor | undefined {
    const shape = cur.shape;
    const fail = (detail: string): undefined => {
      const at = this.at(ctx, span);
      this.ev.diags.add('shape-mismatch', at.file, at.span, { layer: name, op, shape: showShape(shape), detail });
      this.failed = true;
      return undefined;
    };
    const pair = (k: string, fallback?: [number, number]): [number, number] => {
      const v = values[k];
      return v?.k === 'shape' ? [v.dims[0]!, v.dims[1]!] : (fallback ?? [1, 1]);
    };
    const base = { name, inputs: [cur.name], inputShape: shape, file: ctx.file, span };
    switch (op) {
      case 'conv2d': {
        if (shape.length !== 3) return fail(`conv2d needs an image [channels, height, width], got a vector of ${shape[0]}`);
        const [c, h, w] = shape as [number, number, number];
        const out = numArg(values['out']);
        const k = pair('kernel');
        const s = pair('stride');
        const p = pair('padding', [0, 0]);
        const oh = Math.floor((h + 2 * p[0] - k[0]) / s[0]) + 1;
        const ow = Math.floor((w + 2 * p[1] - k[1]) / s[1]) + 1;
        if (oh < 1 || ow < 1) return fail(`the ${k[0]}x${k[1]} kernel is larger than the padded ${h + 2 * p[0]}x${w + 2 * p[1]} input`);
        const bias = values['bias']?.k === 'bool' ? values['bias'].v : true;
        const op2: LayerOp = { kind: 'conv2d', outChannels: out, kernel: k, stride: s, padding: [p[0], p[1], p[0], p[1]], bias };
        const outShape = [out, oh, ow];
        return this.push({
          ...base,
          op: op2,
          outputShape: outShape,
          params: out * c * k[0] * k[1] + (bias ? out : 0),
          flopsPerSample: 2 * out * oh * ow * c * k[0] * k[1],
          activationBytesPerSample: 4 * prod(outShape),
          weighted: true,
        });
      }
      case 'dense': {
        if (shape.length !== 1) return fail(`dense needs a vector; insert flatten before it (input has ${prod(shape)} values)`);
        const units = numArg(values['units']);
        const bias = values['bias']?.k === 'bool' ? values['bias'].v : true;
        return this.push({
          ...base,
          op: { kind: 'dense', units, bias },
          outputShape: [units],
          params: shape[0]! * units + (bias ? units : 0),
          flopsPerSample: 2 * shape[0]! * units,
          activationBytesPerSample: 4 * units,
          weighted: true,
        });
      }
      case 'maxpool':
      case 'avgpool': {
        if (shape.length !== 3) return fail(`${op} needs an image [channels, height, width], got a vector of ${shape[0]}`);
        const [c, h, w] = shape as [number, number, number];
        if (op === 'avgpool' && values['global']?.k === 'bool' && values['global'].v) {
          return this.push({
            ...base,
            op: { kind: 'avgpool', kernel: [h, w], stride: [1, 1], padding: [0, 0, 0, 0], global: true },
            outputShape: [c, 1, 1],
            params: 0,
            flopsPerSample: c * h * w,
            activationBytesPerSample: 4 * c,
            weighted: false,
          });
        }
        const k = pair('kernel');
        const s = values['stride'] ? pair('stride') : k;
        const p = pair('padding', [0, 0]);
        if (p[0] * 2 > k[0] || p[1] * 2 > k[1]) return fail(`padding ${p[0]}x${p[1]} must be at most half the ${k[0]}x${k[1]} window`);
        const oh = Math.floor((h + 2 * p[0] - k[0]) / s[0]) + 1;
        const ow = Math.floor((w + 2 * p[1] - k[1]) / s[1]) + 1;
        if (oh < 1 || ow < 1) return fail(`the ${k[0]}x${k[1]} window is larger than the ${h}x${w} input`);
        const outShape = [c, oh, ow];
        const pool = { kernel: k, stride: s, padding: [p[0], p[1], p[0], p[1]] as [number, number, number, number] };
        const opv: LayerOp = op === 'maxpool' ? { kind: 'maxpool', ...pool } : { kind: 'avgpool', ...pool, global: false };
        return this.push({
          ...base,
          op: opv,
          outputShape: outShape,
          params: 0,
          flopsPerSample: prod(outShape) * k[0] * k[1],
          activationBytesPerSample: 4 * prod(outShape),
          weighted: false,
        });
      }
      case 'batchnorm': {
        const channels = shape[0]!;
        const epsilon = numArg(values['epsilon'], 1e-5);
        const momentum = numArg(values['momentum'], 0.1);
        return this.push({
          ...base,
          op: { kind: 'batchnorm', epsilon, momentum },
          outputShape: shape,
          params: 2 * channels,
          flopsPerSample: 2 * prod(shape),
          activationBytesPerSample: 4 * prod(shape),
          weighted: false,
        });
      }
      case 'relu':
      case 'sigmoid':
      case 'tanh':
        return this.push({
          ...base,
          op: { kind: op },
          outputShape: shape,
          params: 0,
          flopsPerSample: prod(shape),
          activationBytesPerSample: 4 * prod(shape),
          weighted: false,
        });
      case 'flatten':
        return this.push({
          ...base,
          op: { kind: 'flatten' },
          outputShape: [prod(shape)],
          params: 0,
          flopsPerSample: 0,
          activationBytesPerSample: 0,
          weighted: false,
        });
      default:
        return fail(`unsupported layer ${op}`);
    }
  }

  private push(layer: CheckedLayer): Cursor {
    this.layers.push(layer);
    return { name: layer.name, shape: layer.outputShape };
  }
}

function numArg(v: Value | undefined, fallback = 0): number {
  return v?.k === 'num' ? v.v : fallback;
}

export function prod(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function showShape(shape: Shape): string {
  return shape.join('x');
}

/** Evaluate a network's parameter defaults and bind arguments; report missing ones. */
export function bindNetworkParams(
  ev: Evaluator,
  net: NetworkDecl,
  module: Module,
  args: Map<string, Value>,
  callSpan: Span,
  callFile: string,
): Map<string, Value> | undefined {
  const params = new Map<string, Value>();
  for (const p of net.params) {
    const given = args.get(p.name.text);
    if (given) {
      params.set(p.name.text, given);
      continue;
    }
    if (!p.default) {
      ev.diags.add('missing-argument', callFile, callSpan, { callee: net.name.text, name: p.name.text });
      return undefined;
    }
    const v = ev.evalAny(p.default, { module, file: module.path, params }, `${net.name.text}.${p.name.text}`);
    if (!v) return undefined;
    params.set(p.name.text, v);
  }
  return params;
}

/** Find `input = …` in a network body, evaluated with its parameters. */
function declaredInput(ev: Evaluator, net: NetworkDecl, ctx: EvalContext): ExpandedNetwork['declaredInput'] | null {
  const members = net.body.filter((m): m is Extract<NetMember, { kind: 'layer' }> => m.kind === 'layer' && m.name?.text === 'input');
  const first = members[0];
  if (!first) return undefined;
  for (const extra of members.slice(1)) ev.diags.add('misplaced-layer', ctx.file, extra.span, { detail: 'a network declares its input once' });
  if (net.body[0] !== first) ev.diags.add('misplaced-layer', ctx.file, first.span, { detail: 'input = … must be the first member of the network' });
  const e = first.expr;
  const v =
    e.kind === 'shape'
      ? ev.evalTyped(e, { t: 'shape', rank: e.dims.length, min: 1 }, ctx, 'input')
      : ev.evalTyped(e, { t: 'shape', rank: 1, square: true, min: 1 }, ctx, 'input');
  if (!v || v.k !== 'shape') return null;
  const shape = e.kind === 'shape' ? v.dims : [v.dims[0]!];
  if (shape.length !== 1 && shape.length !== 3) {
    ev.diags.add('type-mismatch', ctx.file, e.span, {
      context: 'input',
      expected: 'a vector size n or an image channels x height x width',
      actual: `a ${shape.length}-dimensional shape`,
    });
    return null;
  }
  return { shape, file: ctx.file, span: e.span };
}

/**
 * Expand `model = Net(args)` into layers. `dataShape` is the sample shape of the data set, used
 * when the network declares no input of its own.
 */
export function expandNetwork(
  ev: Evaluator,
  net: NetworkDecl,
  module: Module,
  args: Map<string, Value>,
  call: { file: string; span: Span },
  dataShape: Shape | undefined,
): ExpandedNetwork | undefined {
  const params = bindNetworkParams(ev, net, module, args, call.span, call.file);
  if (!params) return undefined;
  const ctx: EvalContext = { module, file: module.path, params };
  const declared = declaredInput(ev, net, ctx);
  if (declared === null) return undefined;
  const inputShape = declared?.shape ?? dataShape;
  if (!inputShape) return undefined;
  const expander = new Expander(ev, net.name.text, module.path, call);
  expander.expand(net.body, { name: 'input', shape: inputShape }, ctx, '', undefined, 0);
  return { name: net.name.text, inputShape, ...(declared ? { declaredInput: declared } : {}), layers: expander.layers, complete: !expander.failed };
}
