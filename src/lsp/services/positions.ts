/** Offsets ↔ (line, character) positions, and AST spans → ranges. */
import type { Span } from '../../compiler/ast.js';
import type { Position, Range } from './types.js';

/** Line starts of a text, for O(log n) conversions. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }

  offsetAt(pos: Position): number {
    const line = Math.max(0, Math.min(pos.line, this.starts.length - 1));
    const start = this.starts[line]!;
    const end = line + 1 < this.starts.length ? this.starts[line + 1]! - 1 : this.text.length;
    return Math.max(start, Math.min(start + Math.max(0, pos.character), end));
  }

  positionAt(offset: number): Position {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: o - this.starts[lo]! };
  }

  range(start: number, end: number): Range {
    return { start: this.positionAt(start), end: this.positionAt(end) };
  }

  spanRange(span: Span): Range {
    return this.range(span.start, span.end);
  }
}

const indexCache = new Map<string, LineIndex>();

/** A line index for a text, cached for the last few texts (services are called per keystroke). */
export function lineIndex(text: string): LineIndex {
  const hit = indexCache.get(text);
  if (hit) return hit;
  const idx = new LineIndex(text);
  if (indexCache.size > 16) indexCache.clear();
  indexCache.set(text, idx);
  return idx;
}

/** A range from a span whose line/column fields are 1-based (for files whose text is not at hand). */
export function spanToRangeByColumns(span: Span): Range {
  return { start: { line: span.line - 1, character: span.col - 1 }, end: { line: span.endLine - 1, character: span.endCol - 1 } };
}

export function spanContains(span: Span, offset: number): boolean {
  return offset >= span.start && offset <= span.end;
}

/** 1-based line and column of a 0-based offset (the convention of diagnostics' spans). */
export function lineColAt(text: string, offset: number): { line: number; col: number } {
  const p = lineIndex(text).positionAt(offset);
  return { line: p.line + 1, col: p.character + 1 };
}
