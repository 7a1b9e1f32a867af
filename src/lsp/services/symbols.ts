/** Document symbols: declarations with their fields, blocks, map/sweep statements and layers. */
import type { Expr, Member, NetMember, Span } from '../../compiler/ast.js';
import { parseSource } from '../../compiler/parse.js';
import { Diagnostics } from '../../compiler/diagnostics.js';
import { lineIndex, type LineIndex } from './positions.js';
import type { DocumentSymbolInfo, SymbolKind } from './types.js';

/** Symbols of a document; needs only the parse (works on broken text). */
export function documentSymbols(text: string, path: string): DocumentSymbolInfo[] {
  const parsed = parseSource(path, text, new Diagnostics());
  const lines = lineIndex(text);
  const out: DocumentSymbolInfo[] = [];
  for (const imp of parsed.ast.imports) {
    const names = imp.names === null ? '*' : imp.names.map((n) => (n.alias ? `${n.name.text} as ${n.alias.text}` : n.name.text)).join(', ');
    out.push(sym(lines, `import ${names}`, 'import', imp.span, imp.source.span, `from "${imp.source.text}"`, []));
  }
  for (const d of parsed.ast.declarations) {
    if (d.kind === 'network') {
      const params = d.params.map((p) =>
        sym(
          lines,
          p.name.text,
          'parameter',
          spanTo(p.name.span, p.default?.span),
          p.name.span,
          p.default ? `= ${oneLine(text, p.default.span)}` : undefined,
          [],
        ),
      );
      out.push(
        sym(lines, d.name.text, 'network', d.span, d.name.span, `network(${d.params.map((p) => p.name.text).join(', ')})`, [
          ...params,
          ...netMembers(d.body, text, lines),
        ]),
      );
    } else {
      const detail = d.preset ? `${d.kind} = ${d.preset.map((p) => p.text).join('.')}` : d.kind;
      out.push(sym(lines, d.name.text, d.kind, d.span, d.name.span, detail, members(d.body, text, lines)));
    }
  }
  return out;
}

function members(list: Member[], text: string, lines: LineIndex): DocumentSymbolInfo[] {
  return list.map((m) => {
    if (m.kind === 'field') {
      const nested = m.value.kind === 'object' ? members(m.value.members, text, lines) : [];
      const detail = m.value.kind === 'object' ? undefined : oneLine(text, m.value.span);
      return sym(lines, m.name.text, m.value.kind === 'object' ? 'block' : 'field', m.span, m.name.span, detail, nested);
    }
    const label = oneLine(text, m.span);
    return sym(lines, m.kind, m.kind, m.span, m.span, label.replace(/^(map|sweep)\s*/, ''), []);
  });
}

function netMembers(list: NetMember[], text: string, lines: LineIndex): DocumentSymbolInfo[] {
  const out: DocumentSymbolInfo[] = [];
  for (const m of list) {
    if (m.kind === 'layer' && m.name) out.push(sym(lines, m.name.text, 'layer', m.span, m.name.span, exprText(text, m.expr), []));
    else if (m.kind === 'block') out.push(sym(lines, m.name.text, 'block', m.span, m.name.span, 'block', netMembers(m.body, text, lines)));
    else if (m.kind === 'shortcut') out.push(sym(lines, 'shortcut', 'block', m.span, m.span, undefined, netMembers(m.body, text, lines)));
  }
  return out;
}

function sym(
  lines: LineIndex,
  name: string,
  kind: SymbolKind,
  span: Span,
  selection: Span,
  detail: string | undefined,
  children: DocumentSymbolInfo[],
): DocumentSymbolInfo {
  const range = lines.spanRange(spanTo(span, selection));
  let selectionRange = lines.spanRange(selection);
  // The protocol requires the selection inside the full range.
  if (selection.start < span.start || selection.end > Math.max(span.end, selection.end)) selectionRange = range;
  return { name: name || '?', kind, ...(detail ? { detail } : {}), range, selectionRange, children };
}

function spanTo(span: Span, other: Span | undefined): Span {
  if (!other) return span;
  return { ...span, start: Math.min(span.start, other.start), end: Math.max(span.end, other.end) };
}

function exprText(text: string, e: Expr): string {
  return oneLine(text, e.span);
}

function oneLine(text: string, span: Span): string {
  const s = text.slice(span.start, span.end).replace(/\s+/g, ' ').trim();
  return s.length > 60 ? s.slice(0, 57) + '…' : s;
}
