/** Formatting for the editor: the formatter's result as edits (none when nothing changes). */
import { formatXbar, type FormatOptions } from '../../compiler/format.js';
import { lineIndex } from './positions.js';
import type { TextEdit } from './types.js';

export interface FormattingResult {
  edits: TextEdit[];
  error?: string;
}

export function formatDocument(text: string, options: FormatOptions = {}): FormattingResult {
  const result = formatXbar(text, options);
  if (!result.ok) return { edits: [], error: result.line ? `${result.reason} (line ${result.line})` : result.reason };
  if (!result.changed) return { edits: [] };
  return { edits: [{ range: lineIndex(text).range(0, text.length), newText: result.text }] };
}
