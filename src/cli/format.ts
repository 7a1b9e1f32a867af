/** Rendering diagnostics for people: relative paths, colors and a source excerpt on terminals. */
import { relative } from 'node:path';
import pc from 'picocolors';
import type { Diagnostic } from '../compiler/diagnostics.js';

export function displayPath(file: string): string {
  if (file.startsWith('<')) return file;
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

const severityColor = { error: pc.red, warning: pc.yellow, info: pc.cyan } as const;

/** `path:line:col: severity code: message`, plus an excerpt with a caret when `excerpt` is set. */
export function renderDiagnostic(d: Diagnostic, sourceText: string | undefined, excerpt: boolean): string {
  const head = `${displayPath(d.file)}:${d.span.line}:${d.span.col}: ${severityColor[d.severity](d.severity)} ${pc.dim(d.code)}: ${d.message}`;
  if (!excerpt || sourceText === undefined) return head;
  const line = sourceText.split(/\r?\n/)[d.span.line - 1];
  if (line === undefined) return head;
  const width = Math.max(1, (d.span.endLine === d.span.line ? d.span.endCol : line.length + 1) - d.span.col);
  const gutter = String(d.span.line).padStart(4);
  const caret = ' '.repeat(Math.max(0, d.span.col - 1)) + severityColor[d.severity]('^'.repeat(width));
  const fix = d.fix ? `\n     ${pc.dim('|')} ${pc.green(`fix: ${d.fix.title}`)}` : '';
  return `${head}\n${pc.dim(gutter + ' |')} ${line}\n     ${pc.dim('|')} ${caret}${fix}`;
}

export function summary(diags: Diagnostic[]): string {
  const errors = diags.filter((d) => d.severity === 'error').length;
  const warnings = diags.filter((d) => d.severity === 'warning').length;
  return `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
}
