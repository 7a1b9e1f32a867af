/**
 * The semantic index of a module: every name in the text with what it means (a declaration, a
 * parameter of the schema, a constructor, a unit, an enum option, a layer, a network parameter,
 * an imported file). Built by a walk that follows the parameter table, so `update = ideal` is the
 * update model while `device = ideal` is the device preset — the same typing the evaluator does.
 * Hover, definition and references read this index.
 */
import type { ConfigDecl, Declaration, Expr, Member, NetMember, NetworkDecl, Span } from '../../compiler/ast.js';
import { resolveImportPath, type Module, type Program } from '../../compiler/resolve.js';
import { constructors, declSchemas, findConstructor, type Constructor, type ObjectSchema, type ParamSpec, type ParamType } from '../../compiler/schema.js';
import { lookupUnit } from '../../compiler/units.js';

/** A reference into a declaration's evaluated values: `rram` → `update` → `c2c`. */
export interface ValueAccess {
  decl: ConfigDecl;
  module: Module;
  path: string[];
}

export type Target =
  | { kind: 'decl'; decl: Declaration; module: Module }
  | { kind: 'param'; param: ParamSpec; owner: string; access?: ValueAccess; valueExpr?: Expr }
  | { kind: 'ctor'; ctor: Constructor }
  | { kind: 'unit'; unit: string }
  | { kind: 'option'; param: ParamSpec | undefined; value: string }
  | { kind: 'layer'; network: NetworkDecl; module: Module; name: string; span: Span }
  | { kind: 'netParam'; network: NetworkDecl; module: Module; name: string; span: Span }
  | { kind: 'pattern'; experiment: ConfigDecl; pattern: string }
  | { kind: 'file'; path: string }
  | { kind: 'digital' };

export interface Occurrence {
  span: Span;
  target: Target;
  /** The name that declares the target (a declaration's or layer's own name). */
  isDefinition: boolean;
}

const numberType: ParamType = { t: 'number', dim: { V: 0, A: 0, s: 0, bit: 0, batch: 0 } };

interface WalkCtx {
  module: Module;
  program: Program;
  /** The configuration declaration being walked (its own fields are visible by bare name). */
  decl?: ConfigDecl;
  /** The network being walked (its parameters are visible by bare name). */
  network?: NetworkDecl | undefined;
}

const indexCache = new WeakMap<Module, Occurrence[]>();

/** All occurrences in a module, sorted by position. */
export function moduleOccurrences(module: Module, program: Program): Occurrence[] {
  const hit = indexCache.get(module);
  if (hit) return hit;
  const out: Occurrence[] = [];
  const ctx: WalkCtx = { module, program };
  for (const imp of module.parsed.ast.imports) {
    const path = resolveImportPath(imp.source.text, module.path);
    out.push({ span: imp.source.span, target: { kind: 'file', path }, isDefinition: false });
    const imported = program.modules.get(path);
    for (const { name, alias } of imp.names ?? []) {
      const decl = imported?.own.get(name.text);
      if (decl && imported) {
        out.push({ span: name.span, target: { kind: 'decl', decl, module: imported }, isDefinition: false });
        if (alias) out.push({ span: alias.span, target: { kind: 'decl', decl, module: imported }, isDefinition: false });
      }
    }
  }
  for (const decl of module.parsed.ast.declarations) {
    if (module.own.get(decl.name.text) === decl) out.push({ span: decl.name.span, target: { kind: 'decl', decl, module }, isDefinition: true });
    if (decl.kind === 'network') walkNetwork(decl, { ...ctx, network: decl }, out);
    else walkConfig(decl, { ...ctx, decl }, out);
  }
  out.sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
  indexCache.set(module, out);
  return out;
}

/** The innermost occurrence at an offset (the cursor may sit just after the name). */
export function occurrenceAt(occurrences: Occurrence[], offset: number): Occurrence | undefined {
  let best: Occurrence | undefined;
  for (const o of occurrences) {
    if (o.span.start > offset) break;
    if (offset <= o.span.end && (!best || o.span.end - o.span.start <= best.span.end - best.span.start)) best = o;
  }
  return best;
}

function lookupScope(ctx: WalkCtx, name: string): { decl: Declaration; module: Module } | undefined {
  const entry = ctx.module.scope.get(name);
  return entry ? { decl: entry.decl, module: entry.module } : undefined;
}

function declRef(ctx: WalkCtx, span: Span, name: string, out: Occurrence[]): { decl: Declaration; module: Module } | undefined {
  const found = lookupScope(ctx, name);
  if (found) out.push({ span, target: { kind: 'decl', decl: found.decl, module: found.module }, isDefinition: false });
  return found;
}

// ---- configuration declarations ----------------------------------------------------------------

function walkConfig(decl: ConfigDecl, ctx: WalkCtx, out: Occurrence[]): void {
  const head = decl.preset?.[0];
  if (head) declRef(ctx, head.span, head.text, out);
  walkMembers(decl.body, declSchemas[decl.kind], { decl, module: ctx.module, path: [] }, ctx, out);
}

function walkMembers(members: Member[], schema: ObjectSchema | undefined, access: ValueAccess | undefined, ctx: WalkCtx, out: Occurrence[]): void {
  for (const m of members) {
    if (m.kind === 'field') {
      const param = schema?.params.find((p) => p.name === m.name.text);
      const sub = access && param ? { ...access, path: [...access.path, param.name] } : undefined;
      if (param)
        out.push({
          span: m.name.span,
          target: { kind: 'param', param, owner: schema!.name, ...(sub ? { access: sub } : {}), valueExpr: m.value },
          isDefinition: false,
        });
      walkValue(m.value, param?.type, sub, ctx, out);
    } else if (m.kind === 'map') {
      for (const entry of m.entries) {
        if (ctx.decl)
          out.push({ span: entry.pattern.span, target: { kind: 'pattern', experiment: ctx.decl, pattern: entry.pattern.text }, isDefinition: false });
        if (entry.target.text === 'digital') out.push({ span: entry.target.span, target: { kind: 'digital' }, isDefinition: false });
        else declRef(ctx, entry.target.span, entry.target.text, out);
      }
    } else {
      for (const f of m.factors) {
        for (const axis of f.axes) {
          walkSweepPath(axis.path, ctx, out);
          walkValue(axis.values, undefined, undefined, ctx, out);
        }
      }
    }
  }
}

/** `xb64.adc.bits` or `epochs`: a declaration (or the experiment itself) and a path of fields. */
function walkSweepPath(path: { text: string; span: Span }[], ctx: WalkCtx, out: Occurrence[]): void {
  const head = path[0];
  if (!head) return;
  const experimentParam = declSchemas.experiment.params.find((p) => p.name === head.text);
  if (experimentParam && ctx.decl) {
    walkFieldPath(path, declSchemas.experiment, { decl: ctx.decl, module: ctx.module, path: [] }, out);
    return;
  }
  const found = declRef(ctx, head.span, head.text, out);
  if (found && found.decl.kind !== 'network')
    walkFieldPath(path.slice(1), declSchemas[found.decl.kind], { decl: found.decl, module: found.module, path: [] }, out);
}

/** Field names along a path below a schema (objects, then constructor arguments by name). */
function walkFieldPath(path: { text: string; span: Span }[], schema: ObjectSchema, access: ValueAccess, out: Occurrence[]): void {
  let params: ParamSpec[] | undefined = schema.params;
  let owner = schema.name;
  let acc = access;
  for (const seg of path) {
    const param: ParamSpec | undefined = params?.find((p) => p.name === seg.text);
    if (!param) return;
    acc = { ...acc, path: [...acc.path, param.name] };
    out.push({ span: seg.span, target: { kind: 'param', param, owner, access: acc }, isDefinition: false });
    if (param.type.t === 'object') {
      params = param.type.schema.params;
      owner = param.type.schema.name;
    } else if (param.type.t === 'variant') {
      // Arguments of whichever constructor is chosen: offer the union by name.
      const family: Constructor['family'] = param.type.family;
      params = constructors.filter((c) => c.family === family).flatMap((c) => c.params);
      owner = param.name;
    } else params = undefined;
  }
}

function walkValue(expr: Expr, type: ParamType | undefined, access: ValueAccess | undefined, ctx: WalkCtx, out: Occurrence[]): void {
  switch (expr.kind) {
    case 'number':
      if (expr.unit && lookupUnit(expr.unit.text)) out.push({ span: expr.unit.span, target: { kind: 'unit', unit: expr.unit.text }, isDefinition: false });
      return;
    case 'object':
      walkMembers(expr.members, type?.t === 'object' ? type.schema : undefined, type?.t === 'object' ? access : undefined, ctx, out);
      return;
    case 'list':
      for (const item of expr.items) walkValue(item, type?.t === 'list' ? type.of : undefined, undefined, ctx, out);
      return;
    case 'paren':
      walkValue(expr.inner, type, access, ctx, out);
      return;
    case 'unary':
      walkValue(expr.operand, numberType, undefined, ctx, out);
      return;
    case 'binary':
      walkValue(expr.left, numberType, undefined, ctx, out);
      walkValue(expr.right, numberType, undefined, ctx, out);
      return;
    case 'shape':
      for (const d of expr.dims) walkValue(d, numberType, undefined, ctx, out);
      return;
    case 'range':
      walkValue(expr.from, numberType, undefined, ctx, out);
      walkValue(expr.to, numberType, undefined, ctx, out);
      if (expr.by) walkValue(expr.by, numberType, undefined, ctx, out);
      return;
    case 'ref':
      walkRef(expr, type, ctx, out);
      return;
    case 'call':
      walkCall(expr, type, access, ctx, out);
      return;
    default:
      return;
  }
}

function walkRef(expr: Extract<Expr, { kind: 'ref' }>, type: ParamType | undefined, ctx: WalkCtx, out: Occurrence[]): void {
  const head = expr.path[0];
  if (!head) return;
  if (expr.path.length === 1) {
    if (type?.t === 'enum') {
      if (type.options.includes(head.text)) out.push({ span: head.span, target: { kind: 'option', param: undefined, value: head.text }, isDefinition: false });
      return;
    }
    if (type?.t === 'variant') {
      const ctor = findConstructor(type.family, head.text);
      if (ctor) {
        out.push({ span: head.span, target: { kind: 'ctor', ctor }, isDefinition: false });
        return;
      }
    }
  }
  const netParam = ctx.network?.params.find((p) => p.name.text === head.text);
  if (netParam && ctx.network) {
    out.push({
      span: head.span,
      target: { kind: 'netParam', network: ctx.network, module: ctx.module, name: head.text, span: netParam.name.span },
      isDefinition: false,
    });
    return;
  }
  // Own fields come first for bare names in expressions (`r_off = r_on * on_off`).
  const own = ctx.decl ? declSchemas[ctx.decl.kind].params.find((p) => p.name === head.text) : undefined;
  if (own && ctx.decl && type?.t !== 'ref' && type?.t !== 'model') {
    out.push({
      span: head.span,
      target: { kind: 'param', param: own, owner: declSchemas[ctx.decl.kind].name, access: { decl: ctx.decl, module: ctx.module, path: [own.name] } },
      isDefinition: false,
    });
    return;
  }
  const found = declRef(ctx, head.span, head.text, out);
  if (found && found.decl.kind !== 'network' && expr.path.length > 1) {
    walkFieldPath(expr.path.slice(1), declSchemas[found.decl.kind], { decl: found.decl, module: found.module, path: [] }, out);
  }
  if (!found && expr.path.length === 1 && !type) {
    // Untyped positions (network bodies): a bare layer constructor such as `relu`.
    const ctor = constructors.find((c) => c.name === head.text && c.family === 'layer');
    if (ctor) out.push({ span: head.span, target: { kind: 'ctor', ctor }, isDefinition: false });
  }
}

function walkCall(expr: Extract<Expr, { kind: 'call' }>, type: ParamType | undefined, access: ValueAccess | undefined, ctx: WalkCtx, out: Occurrence[]): void {
  const head = expr.callee[0];
  if (!head) return;
  let params: ParamSpec[] | undefined;
  let owner = head.text;
  let network: { decl: NetworkDecl; module: Module } | undefined;
  const ctor =
    type?.t === 'variant'
      ? findConstructor(type.family, head.text)
      : !type
        ? constructors.find((c) => c.name === head.text && c.family === 'layer')
        : undefined;
  if (ctor && expr.callee.length === 1) {
    out.push({ span: head.span, target: { kind: 'ctor', ctor }, isDefinition: false });
    params = ctor.params;
    owner = ctor.name;
  } else {
    const found = declRef(ctx, head.span, head.text, out);
    if (found?.decl.kind === 'network') network = { decl: found.decl, module: found.module };
  }
  expr.args.forEach((arg, i) => {
    if (network) {
      const p = arg.name ? network.decl.params.find((x) => x.name.text === arg.name!.text) : network.decl.params[i];
      if (p && arg.name)
        out.push({
          span: arg.name.span,
          target: { kind: 'netParam', network: network.decl, module: network.module, name: p.name.text, span: p.name.span },
          isDefinition: false,
        });
      walkValue(arg.value, undefined, undefined, ctx, out);
      return;
    }
    const param = arg.name ? params?.find((p) => p.name === arg.name!.text) : params?.[positionalIndex(expr.args, i)];
    const sub = access && param && ctor ? { ...access, path: [...access.path, param.name] } : undefined;
    if (param && arg.name)
      out.push({ span: arg.name.span, target: { kind: 'param', param, owner, ...(sub ? { access: sub } : {}), valueExpr: arg.value }, isDefinition: false });
    walkValue(arg.value, param?.type ?? (ctx.network ? undefined : numberType), sub, ctx, out);
  });
}

function positionalIndex(args: { name?: unknown }[], i: number): number {
  let n = 0;
  for (let j = 0; j < i; j++) if (!args[j]!.name) n++;
  return n;
}

// ---- networks -------------------------------------------------------------------------------

function walkNetwork(net: NetworkDecl, ctx: WalkCtx, out: Occurrence[]): void {
  for (const p of net.params) {
    out.push({ span: p.name.span, target: { kind: 'netParam', network: net, module: ctx.module, name: p.name.text, span: p.name.span }, isDefinition: true });
    if (p.default) walkValue(p.default, undefined, undefined, { ...ctx, network: undefined }, out);
  }
  walkNetMembers(net.body, net, ctx, out);
}

function walkNetMembers(members: NetMember[], net: NetworkDecl, ctx: WalkCtx, out: Occurrence[]): void {
  for (const m of members) {
    if (m.kind === 'layer') {
      if (m.name && m.name.text !== 'input')
        out.push({ span: m.name.span, target: { kind: 'layer', network: net, module: ctx.module, name: m.name.text, span: m.name.span }, isDefinition: true });
      walkValue(m.expr, m.name?.text === 'input' ? numberType : undefined, undefined, ctx, out);
    } else if (m.kind === 'block') {
      out.push({ span: m.name.span, target: { kind: 'layer', network: net, module: ctx.module, name: m.name.text, span: m.name.span }, isDefinition: true });
      walkNetMembers(m.body, net, ctx, out);
    } else walkNetMembers(m.body, net, ctx, out);
  }
}

/** A stable identity for "the same thing" across files (for references). */
export function targetKey(t: Target): string | undefined {
  switch (t.kind) {
    case 'decl':
      return `decl:${t.module.path}#${t.decl.name.text}`;
    case 'netParam':
      return `param:${t.module.path}#${t.network.name.text}.${t.name}`;
    case 'layer':
      return `layer:${t.module.path}#${t.network.name.text}.${t.name}`;
    case 'param':
      return `field:${t.owner}.${t.param.name}`;
    case 'ctor':
      return `ctor:${t.ctor.family}:${t.ctor.name}`;
    case 'unit':
      return `unit:${t.unit}`;
    case 'file':
      return `file:${t.path}`;
    default:
      return undefined;
  }
}
