/** `xbarc check <files...>`: diagnostics for people (or --json for tools). */
import { check } from '../compiler/check.js';
import { probeFile } from '../io/read-file.js';
import type { Diagnostic } from '../compiler/diagnostics.js';
import { displayPath, renderDiagnostic, summary } from './format.js';

export interface CheckCommandOptions {
  json?: boolean;
  set?: string[];
  quiet?: boolean;
}

export function checkCommand(files: string[], options: CheckCommandOptions): number {
  const all: { file: string; diagnostics: Diagnostic[] }[] = [];
  const texts = new Map<string, string>();
  let usageError = false;
  for (const file of files) {
    const problem = probeFile(file, 'spec');
    if (problem) {
      process.stderr.write(`xbarc check: cannot read ${file}: ${problem.reason}\n`);
      usageError = true;
      continue;
    }
    const result = check(file, { ...(options.set ? { sets: options.set } : {}) });
    for (const m of result.program.modules.values()) texts.set(m.path, m.parsed.text);
    all.push({ file, diagnostics: result.diagnostics });
  }
  const diagnostics = dedupe(all.flatMap((r) => r.diagnostics));
  if (options.json) {
    process.stdout.write(
      JSON.stringify({ files: all.map((r) => displayPath(r.file)), diagnostics: diagnostics.map((d) => ({ ...d, file: displayPath(d.file) })) }, null, 2) +
        '\n',
    );
  } else {
    const excerpt = process.stdout.isTTY === true;
    for (const d of diagnostics) process.stdout.write(renderDiagnostic(d, texts.get(d.file), excerpt) + '\n');
    if (!options.quiet && (excerpt || diagnostics.length > 0))
      process.stdout.write(`${summary(diagnostics)} in ${all.length} file${all.length === 1 ? '' : 's'}\n`);
  }
  if (usageError) return 2;
  return diagnostics.some((d) => d.severity === 'error') ? 1 : 0;
}

function dedupe(items: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return items.filter((d) => {
    const k = `${d.file}|${d.span.start}|${d.code}|${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
