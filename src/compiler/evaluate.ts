/**
 * Type-directed evaluation: each field's expression is evaluated against its parameter type from
 * the schema, so a bare name means an enum option, a constructor, or a declaration depending on
 * where it stands, and every mistake is reported at the span that caused it.
 *
 * Presets are late-bound: a preset's fields are evaluated in the context of the declaration that
 * uses it, so `r_off = r_on * on_off` in a preset sees the user's overridden `r_on`. Nested blocks
 * (adc, wires, train, …) merge field by field, so overriding `adc.bits` keeps the preset's range.
 */
import type { ConfigDecl, Declaration, Expr, Member, Name, Span } from './ast.js';
import { pathText } from './ast.js';
import { Diagnostics, closest, didYouMean } from './diagnostics.js';
import type { Module, Program } from './resolve.js';
import { shortName } from './resolve.js';
import {
  declSchemas,
  findConstructor,
  familyConstructors,
  familyNames,
  type Constructor,
  type ObjectSchema,
  type ParamSpec,
  type ParamType,
} from './schema.js';
import {
  Dim,
  type Dimension,
  dimName,
  exampleFor,
  formatQuantity,
  isCountingDim,
  isDimensionless,
  lookupUnit,
  mulDim,
  sameDim,
  unitNames,
  trimNumber,
} from './units.js';
import type { Value } from './values.js';
import { showValue } from './values.js';

/** A value injected from a sweep point or `--set`: `path` below a declaration. */
export interface Override {
  path: string[];
  expr: Expr;
  file: string;
}

/** Where an expression was written, and what its bare names can see. */
export interface EvalContext {
  module: Module;
  file: string;
  /** Fields of the enclosing declaration (for `r_off = r_on * on_off`). */
  fields?: DeclEval;
  /** Network parameters (for `dense(classes)`). */
  params?: Map<string, Value>;
}

interface FieldLayer {
  expr: Expr;
  ctx: EvalContext;
  nameSpan: Span;
}

interface Quantity {
  v: number;
  dim: Dimension;
  hasUnit: boolean;
  unit?: string;
}

export class Evaluator {
  private decls = new Map<Declaration, DeclEval>();

  constructor(
    readonly program: Program,
    readonly diags: Diagnostics,
    readonly overrides: Map<Declaration, Override[]> = new Map(),
  ) {}

  declEval(module: Module, decl: ConfigDecl): DeclEval {
    let de = this.decls.get(decl);
    if (!de) {
      de = new DeclEval(this, module, decl);
      this.decls.set(decl, de);
    }
    return de;
  }

  /** Declaration named in scope, marking its import as used. */
  lookupDecl(module: Module, name: string): { decl: Declaration; module: Module } | undefined {
    const entry = module.scope.get(name);
    if (!entry) return undefined;
    if (entry.via) entry.via.used = true;
    return { decl: entry.decl, module: entry.module };
  }

  // ---- typed evaluation ----------------------------------------------------------------------

  evalTyped(expr: Expr, type: ParamType, ctx: EvalContext, label: string): Value | undefined {
    if (expr.kind === 'error') return undefined;
    if (expr.kind === 'const' && type.t !== 'number') {
      const v = expr.value as Value;
      return v.k === 'num' ? this.typeMismatch(expr, ctx, label, 'a number here is not allowed') : v;
    }
    if (expr.kind === 'paren' && type.t !== 'number') return this.evalTyped(expr.inner, type, ctx, label);
    switch (type.t) {
      case 'number':
        return this.evalNumberParam(expr, type, ctx, label);
      case 'bool':
        return this.evalSimple(expr, ctx, label, 'bool', 'true or false');
      case 'string':
        return this.evalSimple(expr, ctx, label, 'str', 'a string');
      case 'enum':
        return this.evalEnum(expr, type.options, ctx, label);
      case 'list':
        return this.evalList(expr, type.of, ctx, label);
      case 'shape':
        return this.evalShape(expr, type, ctx, label);
      case 'ref':
        return this.evalDeclRef(expr, type.kind, ctx, label);
      case 'object':
        return this.evalObjectLayers(type.schema, [{ expr, ctx, nameSpan: expr.span }], label, ctx);
      case 'variant':
        return this.evalVariant(expr, type.family, ctx, label);
      case 'model':
        return this.evalModel(expr, ctx, label);
    }
  }

  private typeMismatch(expr: Expr, ctx: EvalContext, label: string, expected: string): undefined {
    this.diags.add('type-mismatch', ctx.file, expr.span, { context: label, expected, actual: describeExpr(expr) });
    return undefined;
  }

  private evalSimple(expr: Expr, ctx: EvalContext, label: string, kind: 'bool' | 'str', expected: string): Value | undefined {
    if (kind === 'bool' && expr.kind === 'bool') return { k: 'bool', v: expr.value, file: ctx.file, span: expr.span };
    if (kind === 'str' && expr.kind === 'string') return { k: 'str', v: expr.value, file: ctx.file, span: expr.span };
    if (expr.kind === 'ref') {
      const found = this.lookupValue(expr.path, ctx, expected);
      if (found === undefined) return undefined;
      if (found.k === kind) return found;
    }
    return this.typeMismatch(expr, ctx, label, expected);
  }

  private evalEnum(expr: Expr, options: string[], ctx: EvalContext, label: string): Value | undefined {
    if (expr.kind === 'ref' && expr.path.length === 1) {
      const word = expr.path[0]!.text;
      if (options.includes(word)) return { k: 'enum', v: word, file: ctx.file, span: expr.span };
      const fromScope = ctx.params?.get(word);
      if (fromScope?.k === 'enum' && options.includes(fromScope.v)) return fromScope;
      const suggestion = closest(word, options);
      this.diags.add(
        'unknown-option',
        ctx.file,
        expr.span,
        { value: word, name: label, options: options.join(', '), suggestion: didYouMean(suggestion) },
        suggestion ? { title: `Change to ${suggestion}`, span: expr.span, newText: suggestion } : undefined,
      );
      return undefined;
    }
    if (expr.kind === 'string' && options.includes(expr.value)) return { k: 'enum', v: expr.value, file: ctx.file, span: expr.span };
    return this.typeMismatch(expr, ctx, label, `one of ${options.join(', ')}`);
  }

  private evalList(expr: Expr, of: ParamType, ctx: EvalContext, label: string): Value | undefined {
    if (expr.kind !== 'list') return this.typeMismatch(expr, ctx, label, 'a list [ … ]');
    const items: Value[] = [];
    for (const item of expr.items) {
      const v = this.evalTyped(item, of, ctx, label);
      if (v) items.push(v);
    }
    return { k: 'list', items, file: ctx.file, span: expr.span };
  }

  private evalShape(expr: Expr, type: Extract<ParamType, { t: 'shape' }>, ctx: EvalContext, label: string): Value | undefined {
    const dimsExprs = expr.kind === 'shape' ? expr.dims : [expr];
    if (expr.kind !== 'shape' && !type.square) return this.typeMismatch(expr, ctx, label, `a shape like ${Array(type.rank).fill('4').join(' x ')}`);
    if (expr.kind === 'shape' && expr.dims.length !== type.rank) {
      return this.typeMismatch(expr, ctx, label, `a shape of ${type.rank} dimensions (${Array(type.rank).fill('n').join(' x ')})`);
    }
    const dims: number[] = [];
    for (const d of dimsExprs) {
      const q = this.evalQuantity(d, ctx);
      if (!q) return undefined;
      if (!isDimensionless(q.dim)) return this.diagDim(d, ctx, label, Dim.none, q.dim);
      if (!Number.isInteger(q.v)) {
        this.diags.add('not-an-integer', ctx.file, d.span, { name: label, value: trimNumber(q.v) });
        return undefined;
      }
      if ((type.min !== undefined && q.v < type.min) || (type.max !== undefined && q.v > type.max)) {
        this.diags.add('out-of-range', ctx.file, d.span, { name: label, value: trimNumber(q.v), range: describeRange(type.min, type.max) });
        return undefined;
      }
      dims.push(q.v);
    }
    const full = expr.kind === 'shape' ? dims : Array<number>(type.rank).fill(dims[0]!);
    return { k: 'shape', dims: full, file: ctx.file, span: expr.span };
  }

  private evalDeclRef(expr: Expr, kind: 'device' | 'crossbar' | 'network', ctx: EvalContext, label: string): Value | undefined {
    if (expr.kind !== 'ref' || expr.path.length !== 1) return this.typeMismatch(expr, ctx, label, `the name of a ${kind}`);
    const name = expr.path[0]!;
    const found = this.lookupDecl(ctx.module, name.text);
    if (!found) return this.unknownDecl(name, ctx, kind);
    if (found.decl.kind !== kind) {
      this.diags.add('wrong-kind', ctx.file, name.span, { name: name.text, actual: found.decl.kind, expected: kind });
      return undefined;
    }
    return { k: 'decl', kind, name: name.text, file: ctx.file, span: expr.span };
  }

  unknownDecl(name: Name, ctx: EvalContext, kind?: string): undefined {
    if (ctx.module.unresolved.has(name.text)) return undefined;
    const candidates = [...ctx.module.scope.entries()].filter(([, e]) => !kind || e.decl.kind === kind).map(([n]) => n);
    const suggestion = closest(name.text, candidates);
    this.diags.add(
      'unknown-name',
      ctx.file,
      name.span,
      { name: name.text, suggestion: kind && !suggestion ? ` (no ${kind} of that name is declared or imported)` : didYouMean(suggestion) },
      suggestion ? { title: `Change to ${suggestion}`, span: name.span, newText: suggestion } : undefined,
    );
    return undefined;
  }

  private evalVariant(expr: Expr, family: Constructor['family'], ctx: EvalContext, label: string): Value | undefined {
    let callee: Name[];
    let args: { name?: Name; value: Expr; span: Span }[] = [];
    if (expr.kind === 'call') {
      callee = expr.callee;
      args = expr.args;
    } else if (expr.kind === 'ref') {
      callee = expr.path;
      if (callee.length === 1 && !findConstructor(family, callee[0]!.text)) {
        // A reference to a field holding such a value (e.g. a network parameter).
        const fromParams = ctx.params?.get(callee[0]!.text);
        if (fromParams?.k === 'call' && fromParams.family === family) return fromParams;
      }
    } else {
      return this.typeMismatch(
        expr,
        ctx,
        label,
        `${/^[aeiouAEIOU]/.test(familyNames[family]) ? 'an' : 'a'} ${familyNames[family]} (${familyConstructors(family)
          .map((c) => c.name)
          .join(', ')})`,
      );
    }
    const head = callee[0]!;
    const ctor = callee.length === 1 ? findConstructor(family, head.text) : undefined;
    if (!ctor) {
      const names = familyConstructors(family).map((c) => c.name);
      const suggestion = closest(head.text, names);
      this.diags.add(
        'unknown-function',
        ctx.file,
        head.span,
        { what: familyNames[family], name: pathText(callee), suggestion: suggestion ? didYouMean(suggestion) : `; expected one of ${names.join(', ')}` },
        suggestion ? { title: `Change to ${suggestion}`, span: head.span, newText: suggestion } : undefined,
      );
      return undefined;
    }
    const bound = this.bindArgs(ctor.name, ctor.params, args, ctx);
    if (!bound) return undefined;
    const values: Record<string, Value> = {};
    let ok = true;
    for (const p of ctor.params) {
      const given = bound.get(p.name);
      const v = given ? this.evalTyped(given, p.type, ctx, `${ctor.name}.${p.name}`) : this.defaultFor(p, ctx.file, expr.span);
      if (given && !v) ok = false;
      if (v) values[p.name] = v;
      else if (!given && p.default.kind === 'required') {
        this.diags.add('missing-argument', ctx.file, expr.span, { callee: ctor.name, name: p.name });
        ok = false;
      }
    }
    if (!ok) return undefined;
    return { k: 'call', family, name: ctor.name, args: values, file: ctx.file, span: expr.span };
  }

  /** Match positional and named arguments to parameters; report unknown, duplicate, too many. */
  bindArgs(callee: string, params: { name: string }[], args: { name?: Name; value: Expr; span: Span }[], ctx: EvalContext): Map<string, Expr> | undefined {
    const bound = new Map<string, Expr>();
    let positional = 0;
    let ok = true;
    for (const arg of args) {
      if (arg.name) {
        const name = arg.name.text;
        if (!params.some((p) => p.name === name)) {
          const suggestion = closest(
            name,
            params.map((p) => p.name),
          );
          this.diags.add(
            'unknown-argument',
            ctx.file,
            arg.name.span,
            {
              callee,
              name,
              suggestion: suggestion
                ? didYouMean(suggestion)
                : params.length
                  ? `; it takes ${params.map((p) => p.name).join(', ')}`
                  : '; it takes no arguments',
            },
            suggestion ? { title: `Change to ${suggestion}`, span: arg.name.span, newText: suggestion } : undefined,
          );
          ok = false;
          continue;
        }
        if (bound.has(name)) {
          this.diags.add('duplicate-argument', ctx.file, arg.span, { name });
          ok = false;
          continue;
        }
        bound.set(name, arg.value);
      } else {
        const p = params[positional++];
        if (!p) {
          this.diags.add('too-many-arguments', ctx.file, arg.span, {
            callee,
            max: params.length,
            s: params.length === 1 ? '' : 's',
            count: args.filter((a) => !a.name).length,
          });
          ok = false;
          continue;
        }
        if (bound.has(p.name)) {
          this.diags.add('duplicate-argument', ctx.file, arg.span, { name: p.name });
          ok = false;
          continue;
        }
        bound.set(p.name, arg.value);
      }
    }
    return ok ? bound : undefined;
  }

  private evalModel(expr: Expr, ctx: EvalContext, label: string): Value | undefined {
    const callee = expr.kind === 'call' ? expr.callee : expr.kind === 'ref' ? expr.path : undefined;
    if (!callee) return this.typeMismatch(expr, ctx, label, 'a network, e.g. LeNet5(classes = 10)');
    const head = callee[0]!;
    const found = this.lookupDecl(ctx.module, head.text);
    if (!found || callee.length !== 1) return this.unknownDecl(head, ctx, 'network');
    if (found.decl.kind !== 'network') {
      this.diags.add('wrong-kind', ctx.file, head.span, { name: head.text, actual: found.decl.kind, expected: 'network' });
      return undefined;
    }
    const net = found.decl;
    const args = expr.kind === 'call' ? expr.args : [];
    const bound = this.bindArgs(
      head.text,
      net.params.map((p) => ({ name: p.name.text })),
      args,
      ctx,
    );
    if (!bound) return undefined;
    const values: Record<string, Value> = {};
    for (const [name, e] of bound) {
      const v = this.evalAny(e, ctx, `${head.text}.${name}`);
      if (!v) return undefined;
      values[name] = v;
    }
    return { k: 'model', network: head.text, args: values, file: ctx.file, span: expr.span };
  }

  /** Untyped evaluation (network arguments): numbers, booleans, strings, shapes, lists. */
  evalAny(expr: Expr, ctx: EvalContext, label: string): Value | undefined {
    switch (expr.kind) {
      case 'bool':
        return { k: 'bool', v: expr.value, file: ctx.file, span: expr.span };
      case 'string':
        return { k: 'str', v: expr.value, file: ctx.file, span: expr.span };
      case 'shape':
        return this.evalShape(expr, { t: 'shape', rank: expr.dims.length, min: 0 }, ctx, label);
      case 'list': {
        const items = expr.items.map((i) => this.evalAny(i, ctx, label)).filter((x): x is Value => x !== undefined);
        return items.length === expr.items.length ? { k: 'list', items, file: ctx.file, span: expr.span } : undefined;
      }
      case 'ref': {
        if (expr.path.length === 1 && (ctx.params?.has(expr.path[0]!.text) || ctx.fields?.has(expr.path[0]!.text)))
          return this.lookupValue(expr.path, ctx, 'a value');
        if (expr.path.length === 1 && !ctx.module.scope.has(expr.path[0]!.text)) return { k: 'enum', v: expr.path[0]!.text, file: ctx.file, span: expr.span };
        return this.lookupValue(expr.path, ctx, 'a value');
      }
      default: {
        const q = this.evalQuantity(expr, ctx);
        return q ? { k: 'num', v: q.v, dim: q.dim, ...(q.unit ? { unit: q.unit } : {}), file: ctx.file, span: expr.span } : undefined;
      }
    }
  }

  // ---- numbers and units --------------------------------------------------------------------

  private evalNumberParam(expr: Expr, type: Extract<ParamType, { t: 'number' }>, ctx: EvalContext, label: string): Value | undefined {
    const inner = expr.kind === 'paren' ? expr.inner : expr;
    if (!['number', 'const', 'unary', 'binary', 'ref', 'paren', 'error'].includes(inner.kind)) return this.typeMismatch(expr, ctx, label, 'a number');
    const q = this.evalQuantity(expr, ctx);
    if (!q) return undefined;
    if (!sameDim(q.dim, type.dim)) {
      const bareOk = isDimensionless(q.dim) && !q.hasUnit && isCountingDim(type.dim);
      if (!bareOk) {
        if (isDimensionless(q.dim) && !q.hasUnit && !isDimensionless(type.dim)) {
          this.diags.add('missing-unit', ctx.file, expr.span, { name: label, dimension: dimName(type.dim), example: exampleFor(type.dim) });
          return undefined;
        }
        return this.diagDim(expr, ctx, label, type.dim, q.dim);
      }
    }
    return this.checkNumber(q.v, type, expr, ctx, label, q.unit);
  }

  checkNumber(value: number, type: Extract<ParamType, { t: 'number' }>, expr: Expr, ctx: EvalContext, label: string, unit?: string): Value | undefined {
    if (!Number.isFinite(value)) {
      this.diags.add('invalid-expression', ctx.file, expr.span, { detail: `${label} is not a finite number` });
      return undefined;
    }
    if (type.int && Math.abs(value - Math.round(value)) > 1e-9) {
      this.diags.add('not-an-integer', ctx.file, expr.span, { name: label, value: trimNumber(value) });
      return undefined;
    }
    const v = type.int ? Math.round(value) : value;
    const below = type.min !== undefined && (type.minExclusive ? v <= type.min : v < type.min);
    const above = type.max !== undefined && (type.maxExclusive ? v >= type.max : v > type.max);
    if (below || above) {
      const shown = unit === '%' ? `${trimNumber(v * 100)} %` : unit && !isDimensionless(type.dim) ? formatQuantity(v, type.dim) : trimNumber(v);
      this.diags.add('out-of-range', ctx.file, expr.span, {
        name: label,
        value: shown,
        range: describeRange(type.min, type.max, type.minExclusive, type.maxExclusive, unit === '%'),
      });
      return undefined;
    }
    return { k: 'num', v, dim: type.dim, ...(unit ? { unit } : {}), file: ctx.file, span: expr.span };
  }

  private diagDim(expr: Expr, ctx: EvalContext, label: string, expected: Dimension, actual: Dimension): undefined {
    this.diags.add('dimension-mismatch', ctx.file, expr.span, { context: label, expected: dimName(expected), actual: dimName(actual) });
    return undefined;
  }

  /** Arithmetic with dimensions. Returns undefined after reporting. */
  evalQuantity(expr: Expr, ctx: EvalContext): Quantity | undefined {
    switch (expr.kind) {
      case 'number': {
        if (!expr.unit) return { v: expr.value, dim: Dim.none, hasUnit: false };
        const unitName = expr.unit.text;
        const unit = lookupUnit(unitName);
        if (!unit) {
          const suggestion = closest(unitName, unitNames);
          this.diags.add(
            'unknown-unit',
            ctx.file,
            expr.unit.span,
            { unit: unitName, suggestion: didYouMean(suggestion) },
            suggestion ? { title: `Change to ${suggestion}`, span: expr.unit.span, newText: suggestion } : undefined,
          );
          return undefined;
        }
        return { v: expr.value * unit.scale, dim: unit.dim, hasUnit: true, unit: unitName };
      }
      case 'paren':
        return this.evalQuantity(expr.inner, ctx);
      case 'const': {
        const v = expr.value as Value;
        if (v.k !== 'num') return this.typeMismatch(expr, ctx, 'arithmetic', 'a number');
        return { v: v.v, dim: v.dim, hasUnit: !isDimensionless(v.dim) || v.unit !== undefined, ...(v.unit ? { unit: v.unit } : {}) };
      }
      case 'unary': {
        const q = this.evalQuantity(expr.operand, ctx);
        return q ? { ...q, v: expr.op === '-' ? -q.v : q.v } : undefined;
      }
      case 'binary': {
        const l = this.evalQuantity(expr.left, ctx);
        const r = this.evalQuantity(expr.right, ctx);
        if (!l || !r) return undefined;
        const hasUnit = l.hasUnit || r.hasUnit;
        if (expr.op === '+' || expr.op === '-') {
          if (!sameDim(l.dim, r.dim)) {
            this.diags.add('dimension-mismatch', ctx.file, expr.span, {
              context: `cannot ${expr.op === '+' ? 'add' : 'subtract'} ${dimName(r.dim)} ${expr.op === '+' ? 'to' : 'from'} ${dimName(l.dim)}`,
              expected: dimName(l.dim),
              actual: dimName(r.dim),
            });
            return undefined;
          }
          return { v: expr.op === '+' ? l.v + r.v : l.v - r.v, dim: l.dim, hasUnit };
        }
        if (expr.op === '/' && r.v === 0) {
          this.diags.add('division-by-zero', ctx.file, expr.right.span);
          return undefined;
        }
        return { v: expr.op === '*' ? l.v * r.v : l.v / r.v, dim: mulDim(l.dim, r.dim, expr.op === '*' ? 1 : -1), hasUnit };
      }
      case 'ref': {
        const v = this.lookupValue(expr.path, ctx, 'a number');
        if (!v) return undefined;
        if (v.k !== 'num') {
          this.diags.add('type-mismatch', ctx.file, expr.span, { context: pathText(expr.path), expected: 'a number', actual: `${showValue(v)}` });
          return undefined;
        }
        return { v: v.v, dim: v.dim, hasUnit: !isDimensionless(v.dim), ...(v.unit ? { unit: v.unit } : {}) };
      }
      case 'error':
        return undefined;
      default:
        this.diags.add('type-mismatch', ctx.file, expr.span, { context: 'arithmetic', expected: 'a number', actual: describeExpr(expr) });
        return undefined;
    }
  }

  /** Resolve `name` or `decl.field.sub` to a value: network params, own fields, then declarations. */
  lookupValue(path: Name[], ctx: EvalContext, expected: string): Value | undefined {
    const head = path[0]!;
    let current: Value | undefined;
    let rest = path.slice(1);
    if (ctx.params?.has(head.text)) current = ctx.params.get(head.text);
    else if (ctx.fields?.has(head.text)) current = ctx.fields.get(head.text, head.span, ctx.file);
    else {
      const found = this.lookupDecl(ctx.module, head.text);
      if (!found) {
        if (ctx.module.unresolved.has(head.text)) return undefined;
        const candidates = [...(ctx.params?.keys() ?? []), ...(ctx.fields?.fieldNames() ?? []), ...ctx.module.scope.keys()];
        const suggestion = closest(head.text, candidates);
        this.diags.add(
          'unknown-name',
          ctx.file,
          head.span,
          { name: head.text, suggestion: didYouMean(suggestion) },
          suggestion ? { title: `Change to ${suggestion}`, span: head.span, newText: suggestion } : undefined,
        );
        return undefined;
      }
      if (found.decl.kind === 'network' || rest.length === 0) {
        this.diags.add('wrong-kind', ctx.file, head.span, { name: head.text, actual: found.decl.kind, expected: expected });
        return undefined;
      }
      const de = this.declEval(found.module, found.decl);
      const field = rest[0]!;
      if (!de.has(field.text)) {
        const suggestion = closest(field.text, de.fieldNames());
        this.diags.add(
          'unknown-field',
          ctx.file,
          field.span,
          { owner: `${found.decl.kind} ${head.text}`, name: field.text, suggestion: didYouMean(suggestion) },
          suggestion ? { title: `Change to ${suggestion}`, span: field.span, newText: suggestion } : undefined,
        );
        return undefined;
      }
      current = de.get(field.text, field.span, ctx.file);
      rest = rest.slice(1);
    }
    for (const seg of rest) {
      if (!current) return undefined;
      const next: Value | undefined =
        current.k === 'object'
          ? current.fields[seg.text]
          : current.k === 'call'
            ? current.args[seg.text]
            : current.k === 'decl' && current.kind !== 'network'
              ? this.fieldOfDecl(ctx.module, current.name, seg.text)
              : undefined;
      if (!next) {
        this.diags.add('unknown-field', ctx.file, seg.span, { owner: showValue(current), name: seg.text, suggestion: '' });
        return undefined;
      }
      current = next;
    }
    return current;
  }

  private fieldOfDecl(module: Module, name: string, field: string): Value | undefined {
    const found = this.lookupDecl(module, name);
    if (!found || found.decl.kind === 'network') return undefined;
    const de = this.declEval(found.module, found.decl);
    return de.has(field) ? de.get(field) : undefined;
  }

  // ---- objects and defaults -----------------------------------------------------------------

  /** Evaluate layered object literals (preset first, overrides last) against a schema. */
  evalObjectLayers(schema: ObjectSchema, layers: FieldLayer[], label: string, ctxForDefaults: EvalContext): Value | undefined {
    const perField = new Map<string, FieldLayer[]>();
    for (const layer of layers) {
      const e = layer.expr.kind === 'paren' ? layer.expr.inner : layer.expr;
      if (e.kind === 'error') continue;
      if (e.kind !== 'object') {
        this.typeMismatch(e, layer.ctx, label, `a block { … } of ${schema.name} settings`);
        continue;
      }
      const seen = new Set<string>();
      for (const m of e.members) {
        if (m.kind !== 'field') {
          this.diags.add('misplaced-layer', layer.ctx.file, m.span, { detail: `${m.kind} is only allowed in an experiment` });
          continue;
        }
        if (!schema.params.some((p) => p.name === m.name.text)) {
          this.unknownField(schema, m.name, layer.ctx.file, label);
          continue;
        }
        if (seen.has(m.name.text)) {
          this.diags.add('duplicate-field', layer.ctx.file, m.name.span, { name: m.name.text, owner: label });
          continue;
        }
        seen.add(m.name.text);
        const list = perField.get(m.name.text) ?? [];
        list.push({ expr: m.value, ctx: layer.ctx, nameSpan: m.name.span });
        perField.set(m.name.text, list);
      }
    }
    const last = layers[layers.length - 1];
    const file = last?.ctx.file ?? ctxForDefaults.file;
    const span = last?.expr.span ?? ctxForDefaults.module.parsed.ast.span;
    const fields: Record<string, Value> = {};
    for (const p of schema.params) {
      const fl = perField.get(p.name);
      let v: Value | undefined;
      if (fl && p.type.t === 'object') v = this.evalObjectLayers(p.type.schema, fl, `${label}.${p.name}`, fl[fl.length - 1]!.ctx);
      else if (fl && p.type.t === 'variant') v = this.evalVariantLayers(p, fl, `${label}.${p.name}`, file, span);
      else if (fl) {
        const top = fl[fl.length - 1]!;
        v = this.evalTyped(top.expr, p.type, top.ctx, `${label}.${p.name}`);
      } else v = this.defaultFor(p, file, span);
      if (v) fields[p.name] = v;
    }
    return { k: 'object', fields, file, span };
  }

  /** A variant field: the last written constructor (or the default), with override blocks applied to its arguments. */
  evalVariantLayers(p: ParamSpec, layers: FieldLayer[], label: string, file: string, span: Span): Value | undefined {
    let baseIndex = -1;
    for (let i = layers.length - 1; i >= 0; i--) {
      // Blocks built from override paths (`fromOverride`) change arguments of the call below them.
      const e = layers[i]!.expr;
      if (!(e.kind === 'object' && e.fromOverride)) {
        baseIndex = i;
        break;
      }
    }
    const baseLayer = layers[baseIndex];
    const base = baseLayer ? this.evalTyped(baseLayer.expr, p.type, baseLayer.ctx, label) : this.defaultFor(p, file, span);
    if (base?.k !== 'call') return base;
    const ctor = findConstructor(base.family, base.name);
    if (!ctor) return base;
    const args = { ...base.args };
    for (const layer of layers.slice(baseIndex + 1)) {
      if (layer.expr.kind !== 'object') continue;
      for (const m of layer.expr.members) {
        if (m.kind !== 'field') continue;
        const ap = ctor.params.find((x) => x.name === m.name.text);
        if (!ap) {
          const suggestion = closest(
            m.name.text,
            ctor.params.map((x) => x.name),
          );
          this.diags.add('unknown-argument', layer.ctx.file, m.name.span, {
            callee: ctor.name,
            name: m.name.text,
            suggestion: suggestion
              ? didYouMean(suggestion)
              : ctor.params.length
                ? `; it takes ${ctor.params.map((x) => x.name).join(', ')}`
                : '; it takes no arguments',
          });
          return undefined;
        }
        const v = this.evalTyped(m.value, ap.type, layer.ctx, `${label}.${m.name.text}`);
        if (!v) return undefined;
        args[m.name.text] = v;
      }
    }
    return { ...base, args };
  }

  unknownField(schema: ObjectSchema, name: Name, file: string, owner: string): void {
    const suggestion = closest(
      name.text,
      schema.params.map((p) => p.name),
    );
    this.diags.add(
      'unknown-field',
      file,
      name.span,
      { owner, name: name.text, suggestion: didYouMean(suggestion) },
      suggestion ? { title: `Change to ${suggestion}`, span: name.span, newText: suggestion } : undefined,
    );
  }

  /** The default value of a parameter, or undefined for required/computed/optional ones. */
  defaultFor(p: ParamSpec, file: string, span: Span): Value | undefined {
    if (p.optional) return undefined;
    const origin = { file, span, isDefault: true };
    const d = p.default;
    const t = p.type;
    if (d.kind === 'value') {
      const val = d.value;
      if (typeof val === 'number') return t.t === 'number' ? { k: 'num', v: val, dim: t.dim, ...origin } : { k: 'num', v: val, dim: Dim.none, ...origin };
      if (typeof val === 'boolean') return { k: 'bool', v: val, ...origin };
      if (typeof val === 'string') return t.t === 'enum' ? { k: 'enum', v: val, ...origin } : { k: 'str', v: val, ...origin };
      if (t.t === 'shape') return { k: 'shape', dims: val as number[], ...origin };
      return {
        k: 'list',
        items: (val as (string | number)[]).map((x) =>
          typeof x === 'string' ? { k: 'enum' as const, v: x, ...origin } : { k: 'num' as const, v: x, dim: Dim.none, ...origin },
        ),
        ...origin,
      };
    }
    if (d.kind === 'call' && t.t === 'variant') {
      const ctor = findConstructor(t.family, d.name)!;
      const args: Record<string, Value> = {};
      for (const cp of ctor.params) {
        const given = d.args?.[cp.name];
        const v = given !== undefined ? this.defaultFor({ ...cp, default: { kind: 'value', value: given } }, file, span) : this.defaultFor(cp, file, span);
        if (v) args[cp.name] = v;
      }
      return { k: 'call', family: t.family, name: ctor.name, args, ...origin };
    }
    if (d.kind === 'none' && t.t === 'object') {
      const fields: Record<string, Value> = {};
      for (const cp of t.schema.params) {
        const v = this.defaultFor(cp, file, span);
        if (v) fields[cp.name] = v;
      }
      return { k: 'object', fields, ...origin };
    }
    return undefined;
  }
}

/**
 * One configuration declaration (device, crossbar, experiment) being evaluated: its effective
 * fields (preset chain, own members, overrides), evaluated lazily with cycle detection.
 */
export class DeclEval {
  readonly schema: ObjectSchema;
  private layers = new Map<string, FieldLayer[]>();
  private cache = new Map<string, Value | undefined>();
  private inProgress: string[] = [];
  /** Fields written in this declaration's own body or by an override (not inherited from a preset). */
  private ownFields = new Set<string>();
  /** map and sweep statements (experiments only), in source order. */
  readonly statements: Member[] = [];
  presetChain: string[] = [];

  constructor(
    readonly ev: Evaluator,
    readonly module: Module,
    readonly decl: ConfigDecl,
  ) {
    this.schema = declSchemas[decl.kind];
    this.collectPreset();
    this.collectOwn();
    this.collectOverrides();
  }

  private get ctx(): EvalContext {
    return { module: this.module, file: this.module.path, fields: this };
  }

  private collectPreset(): void {
    const preset = this.decl.preset;
    if (!preset || preset.length === 0) return;
    const head = preset[0]!;
    const found = this.ev.lookupDecl(this.module, head.text);
    if (!found) {
      this.ev.unknownDecl(head, { module: this.module, file: this.module.path }, this.decl.kind);
      return;
    }
    if (found.decl.kind !== this.decl.kind) {
      this.ev.diags.add('wrong-kind', this.module.path, head.span, { name: head.text, actual: found.decl.kind, expected: `${this.decl.kind} preset` });
      return;
    }
    const cycle = found.decl === this.decl ? [] : this.presetCycle(found.decl as ConfigDecl, found.module);
    if (cycle) {
      this.ev.diags.add('cyclic-definition', this.module.path, head.span, {
        name: this.decl.name.text,
        cycle: [this.decl.name.text, ...cycle, this.decl.name.text].join(' = '),
      });
      return;
    }
    const base = this.ev.declEval(found.module, found.decl as ConfigDecl);
    this.presetChain = [head.text, ...base.presetChain];
    for (const [name, ls] of base.layers) {
      // Preset fields keep their own module for name lookup but see this declaration's fields.
      this.layers.set(
        name,
        ls.map((l) => ({ ...l, ctx: { ...l.ctx, fields: this } })),
      );
    }
  }

  /** The preset chain from `start` back to this declaration (names between), if it loops back. */
  private presetCycle(start: ConfigDecl, module: Module): string[] | undefined {
    const seen = new Set<ConfigDecl>([this.decl]);
    const chain: string[] = [start.name.text];
    let current: ConfigDecl | undefined = start;
    let mod = module;
    while (current?.preset?.[0]) {
      // A loop that does not come back here is reported on its own members.
      if (seen.has(current)) return undefined;
      seen.add(current);
      const next = this.ev.lookupDecl(mod, current.preset[0].text);
      if (!next || next.decl.kind === 'network') return undefined;
      if (next.decl === this.decl) return chain;
      current = next.decl as ConfigDecl;
      chain.push(current.name.text);
      mod = next.module;
    }
    return undefined;
  }

  private collectOwn(): void {
    const seen = new Set<string>();
    for (const m of this.decl.body) {
      if (m.kind !== 'field') {
        if (this.decl.kind === 'experiment') this.statements.push(m);
        else this.ev.diags.add('misplaced-layer', this.module.path, m.span, { detail: `${m.kind} is only allowed in an experiment` });
        continue;
      }
      const name = m.name.text;
      if (!this.schema.params.some((p) => p.name === name)) {
        this.ev.unknownField(this.schema, m.name, this.module.path, `${this.decl.kind} ${this.decl.name.text}`);
        continue;
      }
      if (seen.has(name)) {
        this.ev.diags.add('duplicate-field', this.module.path, m.name.span, { name, owner: this.decl.kind });
        continue;
      }
      seen.add(name);
      this.ownFields.add(name);
      this.addLayer(name, { expr: m.value, ctx: this.ctx, nameSpan: m.name.span });
    }
  }

  private collectOverrides(): void {
    for (const o of this.ev.overrides.get(this.decl) ?? []) {
      const [field, ...sub] = o.path;
      if (!field) continue;
      // `adc.bits = 4` becomes the layer `adc = { bits = 4 }`.
      let expr = o.expr;
      for (let i = sub.length - 1; i >= 0; i--) {
        const name: Name = { text: sub[i]!, span: o.expr.span };
        expr = { kind: 'object', members: [{ kind: 'field', name, value: expr, span: o.expr.span }], span: o.expr.span, fromOverride: true };
      }
      this.ownFields.add(field);
      this.addLayer(field, { expr, ctx: { ...this.ctx, file: o.file }, nameSpan: o.expr.span });
    }
  }

  private addLayer(name: string, layer: FieldLayer): void {
    const spec = this.schema.params.find((p) => p.name === name);
    const list = spec?.type.t === 'object' || spec?.type.t === 'variant' ? [...(this.layers.get(name) ?? [])] : [];
    list.push(layer);
    this.layers.set(name, list);
  }

  has(name: string): boolean {
    return this.schema.params.some((p) => p.name === name);
  }

  fieldNames(): string[] {
    return this.schema.params.map((p) => p.name);
  }

  /** Where a field was written (own body, preset or override), if anywhere. */
  written(name: string): { file: string; span: Span } | undefined {
    const ls = this.layers.get(name);
    const top = ls?.[ls.length - 1];
    return top ? { file: top.ctx.file, span: top.nameSpan } : undefined;
  }

  get(name: string, refSpan?: Span, refFile?: string): Value | undefined {
    if (this.cache.has(name)) return this.cache.get(name);
    const spec = this.schema.params.find((p) => p.name === name);
    if (!spec) return undefined;
    if (this.inProgress.includes(name)) {
      const cycle = [...this.inProgress.slice(this.inProgress.indexOf(name)), name].join(' → ');
      const where = this.written(name);
      this.ev.diags.add('cyclic-definition', refFile ?? where?.file ?? this.module.path, refSpan ?? where?.span ?? this.decl.name.span, { name, cycle });
      return undefined;
    }
    this.inProgress.push(name);
    const value = this.evaluateField(spec);
    this.inProgress.pop();
    this.cache.set(name, value);
    return value;
  }

  private evaluateField(spec: ParamSpec): Value | undefined {
    const label = spec.name;
    const ls = this.layers.get(spec.name);
    if (ls && ls.length > 0) {
      if (spec.type.t === 'object') return this.ev.evalObjectLayers(spec.type.schema, ls, label, this.ctx);
      if (spec.type.t === 'variant') return this.ev.evalVariantLayers(spec, ls, label, this.module.path, this.decl.name.span);
      const top = ls[ls.length - 1]!;
      return this.ev.evalTyped(top.expr, spec.type, top.ctx, label);
    }
    return this.ev.defaultFor(spec, this.module.path, this.decl.name.span);
  }

  /** Every field, evaluated. */
  all(): Record<string, Value> {
    const out: Record<string, Value> = {};
    for (const p of this.schema.params) {
      const v = this.get(p.name);
      if (v) out[p.name] = v;
    }
    return out;
  }

  /** Written here (own body or override), as opposed to only inherited from a preset. */
  isWrittenHere(name: string): boolean {
    return this.ownFields.has(name);
  }

  isWritten(name: string): boolean {
    return (this.layers.get(name)?.length ?? 0) > 0;
  }

  describe(): string {
    return `${this.decl.kind} ${this.decl.name.text}${this.module.isStdlib ? ` (${shortName(this.module.path)})` : ''}`;
  }
}

export function describeRange(min?: number, max?: number, minExclusive = false, maxExclusive = false, percent = false): string {
  const f = (x: number) => (percent ? `${trimNumber(x * 100)} %` : trimNumber(x));
  if (min !== undefined && max !== undefined) return `${minExclusive ? '>' : '≥'} ${f(min)} and ${maxExclusive ? '<' : '≤'} ${f(max)}`;
  if (min !== undefined) return `${minExclusive ? '>' : '≥'} ${f(min)}`;
  if (max !== undefined) return `${maxExclusive ? '<' : '≤'} ${f(max)}`;
  return 'any number';
}

export function describeExpr(expr: Expr): string {
  switch (expr.kind) {
    case 'number':
      return expr.unit ? `${expr.raw} ${expr.unit.text}` : expr.raw;
    case 'string':
      return `the string ${JSON.stringify(expr.value)}`;
    case 'bool':
      return String(expr.value);
    case 'list':
      return 'a list';
    case 'object':
      return 'a block { … }';
    case 'ref':
      return pathText(expr.path);
    case 'call':
      return `${pathText(expr.callee)}(…)`;
    case 'shape':
      return 'a shape';
    case 'range':
      return 'a range';
    case 'binary':
    case 'unary':
    case 'paren':
      return 'an expression';
    case 'const':
      return expr.display;
    case 'error':
      return 'an incomplete expression';
  }
}
