/**
 * Sweeps: each axis checked (its path names a parameter, every value fits it), zip factors
 * checked for equal lengths, and the grid expanded to its points (the cartesian product, capped).
 * Each point is checked again with its assignments applied (compile.ts), as overrides.
 */
import type { Expr, Span, SweepAxis } from '../ast.js';
import { pathText } from '../ast.js';
import { closest, didYouMean } from '../diagnostics.js';
import type { DeclEval, EvalContext } from '../evaluate.js';
import { declSchemas, findConstructor, type ObjectSchema, type ParamType } from '../schema.js';
import { Dim } from '../units.js';
import { showValue, type Value } from '../values.js';
import { checkCounters, type CheckedExperiment, type CheckedSweep, type SweepAssignment, type SweepPoint } from '../check.js';
import type { ConfigDecl } from '../ast.js';
import type { CheckContext } from './context.js';
import { lineSpan, overrideTarget, SET_FILE } from './overrides.js';

/** The most points one experiment's sweep may expand to. */
const MAX_SWEEP_POINTS = 100000;

/** Check the experiment's sweep axes and expand them to its points. */
export function checkSweeps(ctx: CheckContext, de: DeclEval, result: CheckedExperiment): void {
  const sweeps = de.statements.filter((s) => s.kind === 'sweep');
  if (sweeps.length === 0) return;
  const factors: SweepAssignment[][][] = [];
  const axesOut: CheckedSweep['axes'] = [];
  let ok = true;
  for (const s of sweeps) {
    if (s.kind !== 'sweep') continue;
    for (const f of s.factors) {
      const perAxis: SweepAssignment[][] = [];
      for (const axis of f.axes) {
        const values = sweepAxis(ctx, axis, de, result);
        if (!values) {
          ok = false;
          continue;
        }
        axesOut.push({ path: pathText(axis.path), values: values.map((v) => v.display) });
        perAxis.push(values);
      }
      if (f.zip) {
        const lengths = perAxis.map((a) => a.length);
        if (new Set(lengths).size > 1) {
          ctx.diags.add('sweep-length-mismatch', result.file, f.span, {
            lengths: f.axes.map((a, i) => `${pathText(a.path)}: ${lengths[i] ?? '?'}`).join(', '),
          });
          ok = false;
          continue;
        }
        const n = lengths[0] ?? 0;
        // One choice per position: the i-th value of every zipped axis together.
        factors.push(Array.from({ length: n }, (_, i) => perAxis.map((a) => a[i]!)));
      } else {
        for (const a of perAxis) factors.push(a.map((v) => [v]));
      }
    }
  }
  if (!ok) return;
  // The cartesian product is materialized: refuse sizes that would exhaust memory.
  const total = factors.reduce((n, f) => n * f.length, 1);
  if (total > MAX_SWEEP_POINTS) {
    ctx.diags.add('sweep-too-large', result.file, sweeps[0]!.span, {
      count: Number.isSafeInteger(total) ? String(total) : total.toExponential(1),
      max: MAX_SWEEP_POINTS,
    });
    return;
  }
  const points: SweepPoint[] = [];
  const walk = (i: number, acc: SweepAssignment[]) => {
    if (i === factors.length) {
      points.push({ index: points.length, assignments: acc });
      return;
    }
    for (const choice of factors[i]!) walk(i + 1, [...acc, ...choice]);
  };
  walk(0, []);
  checkCounters.sweepPointsExpanded += points.length;
  result.sweep = { axes: axesOut, points };
}

/**
 * A --set of a swept path (or of a path inside it) would be replaced by every point's value and
 * silently do nothing: an error naming both. A --set around it (the optimizer, while its lr is
 * swept) still applies to the rest, so it stays allowed.
 */
function setsOnSweptPath(ctx: CheckContext, decl: ConfigDecl, rest: string[], where: string, result: CheckedExperiment): void {
  for (const set of ctx.sets) {
    const target = overrideTarget(ctx.module, set.path);
    if (typeof target === 'string' || !target.decls.includes(decl)) continue;
    if (target.rest.length < rest.length || rest.some((seg, i) => target.rest[i] !== seg)) continue;
    const path = set.path.join('.');
    ctx.diags.add('set-swept', SET_FILE, lineSpan(`${path}=${set.display}`), { path, axis: where, experiment: result.name });
  }
}

/** Validate one axis: the path exists, and every value fits its parameter. */
function sweepAxis(ctx: CheckContext, axis: SweepAxis, de: DeclEval, result: CheckedExperiment): SweepAssignment[] | undefined {
  const path = axis.path.map((n) => n.text);
  const where = pathText(axis.path);
  const target = overrideTarget(ctx.module, path);
  if (typeof target === 'string') {
    ctx.diags.add('sweep-unknown-path', result.file, spanOfPath(axis), { source: 'sweep', path: where, detail: target });
    return undefined;
  }
  // Experiment-level paths sweep this experiment, not every experiment of the file.
  const decl = target.decls.find((d) => d === de.decl) ?? target.decls[0]!;
  setsOnSweptPath(ctx, decl, target.rest, where, result);
  const found = decl === de.decl ? { module: ctx.module } : ctx.ev.lookupDecl(ctx.module, path[0]!);
  const owner = decl === de.decl ? de : ctx.ev.declEval(found!.module, decl);
  const type = paramTypeAt(declSchemas[decl.kind], target.rest, owner);
  if (typeof type === 'string') {
    ctx.diags.add('sweep-unknown-path', result.file, spanOfPath(axis), { source: 'sweep', path: where, detail: type });
    return undefined;
  }
  const scope: EvalContext = { module: ctx.module, file: result.file };
  const items = axisItems(ctx, axis, scope, where);
  if (!items) return undefined;
  if (items.length === 0) {
    ctx.diags.add('sweep-empty', result.file, axis.values.span, { path: where });
    return undefined;
  }
  let ok = true;
  for (const item of items) {
    const before = ctx.diags.items.length;
    const v = ctx.ev.evalTyped(item, type, scope, where);
    if (!v) {
      ok = false;
      // Re-label generic errors as sweep errors so the cause is clear.
      if (ctx.diags.items.length === before)
        ctx.diags.add('sweep-type-mismatch', result.file, item.span, { path: where, detail: 'value does not fit the parameter' });
    }
  }
  if (!ok) return undefined;
  return items.map((expr) => ({ path, expr, display: exprDisplay(expr, result.eval.module.parsed.text), file: result.file, experiment: result.name }));
}

function axisItems(ctx: CheckContext, axis: SweepAxis, scope: EvalContext, where: string): Expr[] | undefined {
  const e = axis.values;
  if (e.kind === 'list') return e.items;
  if (e.kind === 'range') {
    const from = ctx.ev.evalQuantity(e.from, scope);
    const to = ctx.ev.evalQuantity(e.to, scope);
    const by = e.by ? ctx.ev.evalQuantity(e.by, scope) : { v: 1, dim: from?.dim ?? Dim.none, hasUnit: false };
    if (!from || !to || !by) return undefined;
    if (!(by.v > 0)) {
      ctx.diags.add('sweep-type-mismatch', scope.file, e.by?.span ?? e.span, { path: where, detail: 'the step after `by` must be positive' });
      return undefined;
    }
    const count = Math.floor((to.v - from.v) / by.v + 1e-9) + 1;
    if (count > 100000) {
      ctx.diags.add('sweep-type-mismatch', scope.file, e.span, { path: where, detail: `the range has ${count} values; at most 100,000` });
      return undefined;
    }
    const out: Expr[] = [];
    for (let i = 0; i < count; i++) {
      const v = from.v + i * by.v;
      const value: Value = { k: 'num', v, dim: from.dim, ...(from.unit ? { unit: from.unit } : {}), file: scope.file, span: e.span };
      out.push({ kind: 'const', value, display: showValue(value), span: e.span });
    }
    return out;
  }
  if (e.kind === 'error') return undefined;
  ctx.diags.add('sweep-type-mismatch', scope.file, e.span, { path: where, detail: 'sweep values are a list [a, b, …] or a range a .. b (by step)' });
  return undefined;
}

function spanOfPath(axis: SweepAxis): Span {
  const first = axis.path[0]!.span;
  const last = axis.path[axis.path.length - 1]!.span;
  return { start: first.start, line: first.line, col: first.col, end: last.end, endLine: last.endLine, endCol: last.endCol };
}

function exprDisplay(expr: Expr, text: string): string {
  if (expr.kind === 'const') return expr.display;
  return text.slice(expr.span.start, expr.span.end).trim() || '?';
}

/** The parameter type at a path below a schema; variant arguments follow the current constructor. */
function paramTypeAt(schema: ObjectSchema, path: string[], owner: DeclEval): ParamType | string {
  let current: ObjectSchema = schema;
  let value: Value | undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const p = current.params.find((x) => x.name === seg);
    if (!p)
      return `${current.name} has no parameter ${seg}${didYouMean(
        closest(
          seg,
          current.params.map((x) => x.name),
        ),
      )}`;
    value = i === 0 ? owner.get(seg) : value?.k === 'object' ? value.fields[seg] : undefined;
    if (i === path.length - 1) return p.type;
    if (p.type.t === 'object') {
      current = p.type.schema;
      continue;
    }
    if (p.type.t === 'variant') {
      const ctorName = value?.k === 'call' ? value.name : p.default.kind === 'call' ? p.default.name : undefined;
      const ctor = ctorName ? findConstructor(p.type.family, ctorName) : undefined;
      if (!ctor) return `${seg} has no value to take arguments from`;
      const arg = path[i + 1]!;
      const ap = ctor.params.find((x) => x.name === arg);
      if (!ap)
        return `${ctor.name}(…) has no argument ${arg}${didYouMean(
          closest(
            arg,
            ctor.params.map((x) => x.name),
          ),
        )}`;
      if (i + 1 !== path.length - 1) return `${arg} has no fields`;
      return ap.type;
    }
    return `${seg} has no fields`;
  }
  return 'empty path';
}
