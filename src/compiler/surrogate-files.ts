/**
 * `parasitics = surrogate(file = "...")` names a file `xbarc surrogate` wrote: check reports, at
 * the argument that names it, a file that is missing, is not a surrogate header, or was trained
 * for another tile size than the crossbar's. Only the JSON header is read (its weights are the
 * runtime's to load and validate); the header's fields are documented in docs/parasitics.md.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { FileReadError, readRegularFile } from '../io/read-file.js';
import type { Span } from './ast.js';
import type { Value } from './values.js';

export type SurrogateFileProblem =
  | { code: 'surrogate-file-missing'; file: string; span: Span; path: string }
  | { code: 'surrogate-file-bad'; file: string; span: Span; path: string; reason: string }
  | { code: 'surrogate-size-mismatch'; file: string; span: Span; path: string; trained: string; tile: string };

/** The header's format tag (src/runtime/parasitics/surrogate-file.ts writes it). */
const FORMAT = 'xbarc-surrogate';

/** The problem with a crossbar's surrogate file, if any (rows × cols: the crossbar's tile size). */
export function surrogateFileProblem(parasitics: Value | undefined, rows: number, cols: number): SurrogateFileProblem | null {
  if (parasitics?.k !== 'call' || parasitics.name !== 'surrogate') return null;
  const a = parasitics.args['file'];
  if (a?.k !== 'str' || a.v === '') return null;
  const at = { file: a.file, span: a.span, path: a.v };
  const path = isAbsolute(a.v) ? a.v : resolve(dirname(a.file), a.v);
  if (!existsSync(path) || statSync(path).isDirectory()) return { code: 'surrogate-file-missing', ...at };
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(readRegularFile(path, 'json')));
  } catch (err) {
    const reason = err instanceof FileReadError ? err.reason : 'it is not JSON';
    return { code: 'surrogate-file-bad', ...at, reason };
  }
  const h = header as Record<string, unknown> | null;
  if (typeof h !== 'object' || h === null || h['format'] !== FORMAT)
    return { code: 'surrogate-file-bad', ...at, reason: `it is not a surrogate header (no "format": "${FORMAT}")` };
  const [r, c] = [h['rows'], h['cols']];
  if (typeof r !== 'number' || typeof c !== 'number') return { code: 'surrogate-file-bad', ...at, reason: 'its "rows" and "cols" are missing' };
  if (Number.isFinite(rows) && Number.isFinite(cols) && (r !== rows || c !== cols))
    return { code: 'surrogate-size-mismatch', ...at, trained: `${r} x ${c}`, tile: `${rows} x ${cols}` };
  return null;
}
