/** Go-to-definition and find-references, across imports and into the standard library. */
import type { Span } from '../../compiler/ast.js';
import { globToRegex } from '../../compiler/check/mapping.js';
import type { Module, Program } from '../../compiler/resolve.js';
import { analyze, normalizePath, type Analysis, type ServiceOptions } from './analysis.js';
import { valueAt } from './hover.js';
import { lineIndex } from './positions.js';
import { moduleOccurrences, occurrenceAt, targetKey, type Occurrence, type Target } from './semantic.js';
import type { Location, Position } from './types.js';

function locationIn(program: Program, path: string, span: Span): Location {
  const text = program.modules.get(path)?.parsed.text;
  const range =
    text !== undefined
      ? lineIndex(text).spanRange(span)
      : { start: { line: span.line - 1, character: span.col - 1 }, end: { line: span.endLine - 1, character: span.endCol - 1 } };
  return { path, range };
}

function targetAt(a: Analysis, position: Position): Occurrence | undefined {
  if (!a.module) return undefined;
  return occurrenceAt(moduleOccurrences(a.module, a.result.program), a.lines.offsetAt(position));
}

/** Where the thing under the cursor is declared (several places for a glob map pattern). */
export function definition(text: string, path: string, position: Position, options: ServiceOptions = {}): Location[] {
  const a = analyze(text, path, options);
  const occ = targetAt(a, position);
  return occ ? definitionsOf(occ, a) : [];
}

function definitionsOf(occ: Occurrence, a: Analysis): Location[] {
  const t: Target = occ.target;
  const program = a.result.program;
  switch (t.kind) {
    case 'decl':
      return [locationIn(program, t.module.path, t.decl.name.span)];
    case 'netParam':
      return [locationIn(program, t.module.path, t.span)];
    case 'layer':
      return [locationIn(program, t.module.path, t.span)];
    case 'file':
      return [{ path: t.path, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } }];
    case 'param': {
      // The place the value was written (here, in a preset, …), when that is somewhere else.
      const v = t.access ? valueAt(a, t.access) : undefined;
      if (!v || v.isDefault || (v.file === a.path && v.span.start <= occ.span.start && occ.span.end <= v.span.end)) return [];
      const written = t.access && t.access.path.length === 1 ? declEvalWritten(a, t.access) : undefined;
      return [locationIn(program, written?.file ?? v.file, written?.span ?? v.span)];
    }
    case 'pattern': {
      const exp = a.result.model?.experiments.find((e) => e.name === t.experiment.name.text);
      const regex = globToRegex(t.pattern);
      return (exp?.network?.layers ?? []).filter((l) => l.weighted && regex.test(l.name)).map((l) => locationIn(program, l.file, l.span));
    }
    default:
      return [];
  }
}

function declEvalWritten(
  a: Analysis,
  access: { decl: import('../../compiler/ast.js').ConfigDecl; module: Module; path: string[] },
): { file: string; span: Span } | undefined {
  try {
    return a.result.evaluator?.declEval(access.module, access.decl).written(access.path[0]!);
  } catch {
    return undefined;
  }
}

export interface ReferenceOptions extends ServiceOptions {
  includeDeclaration?: boolean;
  /** Other root files (open documents) whose programs are searched too. */
  roots?: { path: string; text: string }[];
}

/** Every occurrence of the thing under the cursor in this file, its imports and the other roots. */
export function references(text: string, path: string, position: Position, options: ReferenceOptions = {}): Location[] {
  const a = analyze(text, path, options);
  const occ = targetAt(a, position);
  const key = occ ? targetKey(occ.target) : undefined;
  if (!occ || !key) return [];
  const programs: Program[] = [a.result.program];
  for (const root of options.roots ?? []) {
    if (normalizePath(root.path) === a.path) continue;
    programs.push(analyze(root.text, root.path, options).result.program);
  }
  const seen = new Set<string>();
  const out: Location[] = [];
  for (const program of programs) {
    for (const module of program.modules.values()) {
      for (const o of moduleOccurrences(module, program)) {
        if (o.isDefinition && options.includeDeclaration === false) continue;
        if (targetKey(o.target) !== key) continue;
        const id = `${module.path}:${o.span.start}`;
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(locationIn(program, module.path, o.span));
      }
    }
  }
  return out.sort((x, y) => x.path.localeCompare(y.path) || x.range.start.line - y.range.start.line || x.range.start.character - y.range.start.character);
}
