/**
 * One checked view of a document: `check` on the buffer text (with unsaved buffers of other
 * files laid over the disk through the host), remembered for the last texts so that hover,
 * completion and definition after an edit share one check.
 */
import { resolve as resolvePath } from 'node:path';
import { check, type CheckResult } from '../../compiler/check.js';
import { FileSystemHost, type Module, type SourceHost } from '../../compiler/resolve.js';
import { lineIndex, type LineIndex } from './positions.js';

export interface ServiceOptions {
  /** Where imported files come from (open editor buffers over the disk); default: the disk. */
  host?: SourceHost;
  /** Bump when another buffer that may be imported changes, to invalidate remembered checks. */
  generation?: number;
}

export interface Analysis {
  path: string;
  text: string;
  result: CheckResult;
  module: Module | undefined;
  lines: LineIndex;
}

interface MemoEntry {
  text: string;
  host: SourceHost | undefined;
  generation: number;
  analysis: Analysis;
}

const memo = new Map<string, MemoEntry>();
const MEMO_LIMIT = 32;

export function normalizePath(path: string): string {
  return resolvePath(path);
}

/** Check `text` as the contents of `path`. Never throws. */
export function analyze(text: string, path: string, options: ServiceOptions = {}): Analysis {
  const abs = normalizePath(path);
  const generation = options.generation ?? 0;
  const hit = memo.get(abs);
  if (hit && hit.text === text && hit.host === options.host && hit.generation === generation) return hit.analysis;
  const result = check(abs, { text, host: options.host ?? new FileSystemHost() });
  const analysis: Analysis = { path: abs, text, result, module: result.module, lines: lineIndex(text) };
  if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value as string);
  memo.set(abs, { text, host: options.host, generation, analysis });
  return analysis;
}

/** The text of another file of the program (for ranges in imported files). */
export function moduleText(analysis: Analysis, path: string): string | undefined {
  return analysis.result.program.modules.get(path)?.parsed.text;
}
