/** Print compiler diagnostics the way `xbarc check` does (shared by plan and run). */
import type { Diagnostic } from '../compiler/diagnostics.js';
import type { Program } from '../compiler/resolve.js';
import { renderDiagnostic, summary } from './format.js';

export function printDiagnostics(diags: Diagnostic[], program: Program | undefined, opts: { stream?: NodeJS.WriteStream; summary?: boolean } = {}): void {
  const stream = opts.stream ?? process.stderr;
  const texts = new Map<string, string>();
  for (const m of program?.modules.values() ?? []) texts.set(m.path, m.parsed.text);
  for (const d of diags) stream.write(renderDiagnostic(d, texts.get(d.file), stream.isTTY === true) + '\n');
  if ((opts.summary ?? true) && diags.length > 0) stream.write(summary(diags) + '\n');
}
