/**
 * Overrides: `--set path=value` from the command line and the assignments of a sweep point, each
 * parsed, routed to the declaration its path starts in (an experiment field, a device or a
 * crossbar) and handed to the evaluator, which applies them over the written values.
 */
import type { ConfigDecl, Declaration, Span } from '../ast.js';
import { Diagnostics, closest, didYouMean } from '../diagnostics.js';
import type { Override } from '../evaluate.js';
import { parseExpressionText } from '../parse.js';
import type { Module } from '../resolve.js';
import { declSchemas, familyConstructors, familyNames, type ObjectSchema } from '../schema.js';
import type { SweepAssignment } from '../check.js';

export const SET_FILE = '<--set>';

export function parseSets(sets: string[], diags: Diagnostics): SweepAssignment[] {
  const out: SweepAssignment[] = [];
  for (const text of sets) {
    const eq = text.indexOf('=');
    const path = eq > 0 ? text.slice(0, eq).trim() : '';
    if (!path || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(path)) {
      diags.add('set-invalid', SET_FILE, lineSpan(text), { text, detail: 'expected path=value, e.g. --set xb64.adc.bits=6' });
      continue;
    }
    const valueText = text.slice(eq + 1);
    const local = new Diagnostics();
    const expr = parseExpressionText(`${SET_FILE} ${path}`, valueText, local);
    if (!expr) {
      diags.add('set-invalid', SET_FILE, lineSpan(text), { text, detail: local.items[0]?.message ?? 'cannot parse the value' });
      continue;
    }
    out.push({ path: path.split('.'), expr, display: valueText.trim(), file: `${SET_FILE} ${path}` });
  }
  return out;
}

export function lineSpan(text: string): Span {
  return { start: 0, end: text.length, line: 1, col: 1, endLine: 1, endCol: text.length + 1 };
}

/** Route `path = value` to the declaration it changes: an experiment field or a device/crossbar. */
export function addOverride(module: Module, a: SweepAssignment, overrides: Map<Declaration, Override[]>, diags: Diagnostics): void {
  const fromSet = a.file.startsWith(SET_FILE);
  let target = overrideTarget(module, a.path);
  // A --set path is checked down to its last segment here (sweep axes are checked with their experiment).
  if (fromSet && typeof target !== 'string') target = schemaPathProblem(declSchemas[target.decls[0]?.kind ?? 'experiment'], target.rest) ?? target;
  if (typeof target === 'string') {
    diags.add('sweep-unknown-path', fromSet ? SET_FILE : a.file, fromSet ? lineSpan(a.path.join('.')) : a.expr.span, {
      source: fromSet ? '--set' : 'sweep',
      path: a.path.join('.'),
      detail: target,
    });
    return;
  }
  const decls = a.experiment !== undefined ? target.decls.filter((d) => d.kind !== 'experiment' || d.name.text === a.experiment) : target.decls;
  for (const decl of decls) {
    const list = overrides.get(decl) ?? [];
    list.push({ path: target.rest, expr: a.expr, file: a.file });
    overrides.set(decl, list);
  }
}

/** Why a path below a schema names no parameter (variant arguments: any constructor of the family may take it). */
function schemaPathProblem(schema: ObjectSchema, path: string[]): string | undefined {
  let current = schema;
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
    if (i === path.length - 1) return undefined;
    if (p.type.t === 'object') {
      current = p.type.schema;
      continue;
    }
    if (p.type.t === 'variant') {
      const arg = path[i + 1]!;
      const names = [...new Set(familyConstructors(p.type.family).flatMap((c) => c.params.map((x) => x.name)))];
      if (!names.includes(arg)) return `no ${familyNames[p.type.family]} takes an argument ${arg}${didYouMean(closest(arg, names))}`;
      return i + 1 === path.length - 1 ? undefined : `${arg} has no fields`;
    }
    return `${seg} has no fields`;
  }
  return undefined;
}

/** The declarations a path starts in, or a reason it names nothing. */
export function overrideTarget(module: Module, path: string[]): { decls: ConfigDecl[]; rest: string[] } | string {
  const head = path[0]!;
  const experiments = [...module.own.values()].filter((d): d is ConfigDecl => d.kind === 'experiment');
  if (declSchemas.experiment.params.some((p) => p.name === head)) return { decls: experiments, rest: path };
  const entry = module.scope.get(head);
  if (!entry) {
    const candidates = [...module.scope.keys(), ...declSchemas.experiment.params.map((p) => p.name)];
    return `no declaration or experiment field named ${head}${didYouMean(closest(head, candidates))}`;
  }
  if (entry.decl.kind === 'network') return `${head} is a network; sweep its arguments through model = ${head}(…)`;
  if (path.length < 2) return `name a field of ${entry.decl.kind} ${head}, e.g. ${head}.${declSchemas[entry.decl.kind].params[0]!.name}`;
  return { decls: [entry.decl], rest: path.slice(1) };
}
