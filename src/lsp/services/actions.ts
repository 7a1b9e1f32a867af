/** Diagnostics for one document (the codes and messages of `xbarc check`) and their quick fixes. */
import { analyze, type Analysis, type ServiceOptions } from './analysis.js';
import type { CodeActionInfo, DiagnosticInfo, Range } from './types.js';

export function diagnostics(text: string, path: string, options: ServiceOptions = {}): DiagnosticInfo[] {
  return diagnosticsOf(analyze(text, path, options));
}

/** This file's diagnostics (imported files report theirs when they are open themselves). */
export function diagnosticsOf(a: Analysis): DiagnosticInfo[] {
  return a.result.diagnostics
    .filter((d) => d.file === a.path)
    .map((d) => ({
      code: d.code,
      severity: d.severity,
      message: d.message,
      range: a.lines.spanRange(d.span),
      ...(d.fix && d.fix.file === a.path ? { fix: { title: d.fix.title, range: a.lines.spanRange(d.fix.span), newText: d.fix.newText } } : {}),
    }));
}

function overlaps(a: Range, b: Range): boolean {
  const before = (p: { line: number; character: number }, q: { line: number; character: number }) =>
    p.line < q.line || (p.line === q.line && p.character < q.character);
  return !before(a.end, b.start) && !before(b.end, a.start);
}

/** "Did you mean" fixes for the diagnostics that overlap `range`. */
export function codeActions(text: string, path: string, range: Range, options: ServiceOptions = {}): CodeActionInfo[] {
  const a = analyze(text, path, options);
  const out: CodeActionInfo[] = [];
  for (const d of diagnosticsOf(a)) {
    if (!d.fix || !overlaps(d.range, range)) continue;
    out.push({
      title: d.fix.title,
      code: d.code,
      edit: { path: a.path, edits: [{ range: d.fix.range, newText: d.fix.newText }] },
      isPreferred: true,
      diagnosticRange: d.range,
    });
  }
  return out;
}
