/**
 * The .xbar formatter: text → formatted text, or a reason it will not format. Pure, idempotent and
 * comment-preserving; shared by `xbarc fmt` and the language server.
 *
 * Style (documented in editors/vscode/README.md):
 * - 2-space indentation; one member per line in declaration bodies, network bodies and any block
 *   whose braces were on different lines; the `,`/`;` separating those members are dropped.
 * - A block written on one line stays on one line as `{ a = 1, b = 2 }` (separators become `, `).
 * - `name = value` with single spaces; `=` is aligned within each blank-line-separated group of
 *   fields of device/crossbar/experiment bodies and their multi-line blocks (`map` and `sweep`
 *   keywords line up with the field names). Network bodies are not aligned: layer lists read
 *   better unpadded.
 * - Line and block comments are kept where they were (own-line comments take the indentation of
 *   the code around them); blank lines between members are kept, at most one in a row, never
 *   directly inside `{` or before `}`.
 * - Inside an expression the formatter never joins or splits lines (a unit must stay on its
 *   number's line), it only re-indents continuation lines.
 *
 * Text with syntax errors is never touched: the result says why instead. As a safety net the
 * output is re-parsed and must give the same syntax tree and the same comments, else the input
 * is returned unformatted with a reason.
 */
import type { CstElement, CstNode, IToken } from 'chevrotain';
import { parseText } from '../../grammar/parser.js';
import * as T from '../../grammar/tokens.js';
import { Diagnostics } from './diagnostics.js';
import { parseSource } from './parse.js';

export type FormatResult = { ok: true; text: string; changed: boolean } | { ok: false; reason: string; line?: number; col?: number };

export interface FormatOptions {
  /** Spaces per indentation level (default 2). */
  indent?: number;
}

interface BodyInfo {
  open: IToken;
  close: IToken | undefined;
  multiline: boolean;
  /** Members' first tokens, in order. */
  memberStarts: IToken[];
  /** Align `=` of the fields of this body. */
  align: boolean;
}

/** What the CST tells the printer about individual tokens, keyed by start offset. */
interface Roles {
  bodyOpen: Map<number, BodyInfo>;
  bodyClose: Map<number, BodyInfo>;
  /** Separators between members (dropped or normalized). */
  separator: Set<number>;
  /** First token of a member → the body it belongs to (undefined at file level). */
  memberStart: Map<number, BodyInfo | null>;
  /** Tokens of a map pattern: printed without spaces between them. */
  pattern: Map<number, number>;
  /** Unary signs: no space after them. */
  unarySign: Set<number>;
  /** Field names / map / sweep keywords to pad: offset → spaces of padding. */
  padAfter: Map<number, number>;
}

type Children = Record<string, CstElement[] | undefined>;

function isToken(el: CstElement): el is IToken {
  return (el as IToken).image !== undefined;
}

function realToken(el: CstElement | undefined): IToken | undefined {
  return el && isToken(el) && !Number.isNaN(el.startOffset) && !(el as { isInsertedInRecovery?: boolean }).isInsertedInRecovery ? el : undefined;
}

/** All real tokens under a CST node, in source order. */
function tokensOf(node: CstNode): IToken[] {
  const out: IToken[] = [];
  const walk = (n: CstNode) => {
    for (const els of Object.values(n.children as Children)) {
      for (const el of els ?? []) {
        if (isToken(el)) {
          const t = realToken(el);
          if (t) out.push(t);
        } else walk(el);
      }
    }
  };
  walk(node);
  return out.sort((a, b) => a.startOffset - b.startOffset);
}

function firstTokenOf(node: CstNode): IToken | undefined {
  return tokensOf(node)[0];
}

function childNodes(node: CstNode, key: string): CstNode[] {
  return ((node.children as Children)[key] ?? []).filter((e): e is CstNode => !isToken(e));
}

function childTokens(node: CstNode, key: string): IToken[] {
  return ((node.children as Children)[key] ?? []).map(realToken).filter((t): t is IToken => t !== undefined);
}

// ---- roles from the CST ---------------------------------------------------------------------

function collectRoles(cst: CstNode, text: string): Roles {
  const roles: Roles = {
    bodyOpen: new Map(),
    bodyClose: new Map(),
    separator: new Set(),
    memberStart: new Map(),
    pattern: new Map(),
    unarySign: new Set(),
    padAfter: new Map(),
  };
  for (const t of childTokens(cst, 'Semicolon')) roles.separator.add(t.startOffset);
  for (const key of ['importDecl', 'declaration', 'networkDecl']) {
    for (const n of childNodes(cst, key)) {
      const first = firstTokenOf(n);
      if (first) roles.memberStart.set(first.startOffset, null);
    }
  }
  let patternId = 0;
  const visit = (node: CstNode, parent: CstNode | undefined) => {
    if (node.name === 'body' || node.name === 'networkBody') {
      const alwaysMultiline = parent !== undefined && (parent.name === 'declaration' || parent.name === 'networkDecl');
      // `body` only occurs in device/crossbar/experiment declarations and their blocks.
      recordBody(node, roles, text, alwaysMultiline, node.name === 'body');
    } else if (node.name === 'pattern') {
      patternId++;
      for (const t of tokensOf(node)) roles.pattern.set(t.startOffset, patternId);
    } else if (node.name === 'unaryExpression') {
      for (const s of childTokens(node, 'sign')) roles.unarySign.add(s.startOffset);
    }
    for (const els of Object.values(node.children as Children)) {
      for (const el of els ?? []) if (!isToken(el)) visit(el, node);
    }
  };
  visit(cst, undefined);
  return roles;
}

function recordBody(node: CstNode, roles: Roles, text: string, alwaysMultiline: boolean, alignable: boolean): void {
  const open = childTokens(node, 'LBrace')[0];
  if (!open) return;
  const close = childTokens(node, 'RBrace')[0];
  const memberKey = node.name === 'body' ? 'member' : 'networkMember';
  const members = childNodes(node, memberKey);
  const memberStarts = members.map(firstTokenOf).filter((t): t is IToken => t !== undefined);
  const multiline = alwaysMultiline || (close !== undefined && close.startLine !== open.startLine);
  const info: BodyInfo = { open, close, multiline, memberStarts, align: alignable && multiline && node.name === 'body' };
  roles.bodyOpen.set(open.startOffset, info);
  if (close) roles.bodyClose.set(close.startOffset, info);
  for (const sep of [...childTokens(node, 'Comma'), ...childTokens(node, 'Semicolon')]) roles.separator.add(sep.startOffset);
  for (const t of memberStarts) roles.memberStart.set(t.startOffset, info);
  if (info.align) recordAlignment(members, roles, text);
}

/** Pad field names (and map/sweep keywords) so `=` lines up within blank-line-separated groups. */
function recordAlignment(members: CstNode[], roles: Roles, text: string): void {
  const groups: { name: IToken; width: number }[][] = [[]];
  let previousEnd = -1;
  for (const m of members) {
    const toks = tokensOf(m);
    const first = toks[0];
    if (!first) continue;
    // A blank line (not a comment line) between members starts a new group.
    const between = text.slice(previousEnd, first.startOffset).replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, 'c'));
    if (previousEnd >= 0 && /\n[ \t\r]*\n/.test(between)) groups.push([]);
    previousEnd = (toks[toks.length - 1]!.endOffset ?? first.startOffset) + 1;
    // Only a name followed on its line by plain spaces and then `=` (or the map/sweep entries) is
    // padded: padding before a comment or a line break would grow on every run.
    const padable = (name: IToken, next: IToken | undefined) =>
      next !== undefined && /^[ \t]*$/.test(text.slice((name.endOffset ?? name.startOffset) + 1, next.startOffset));
    const field = childNodes(m, 'field')[0];
    if (field) {
      const equals = childTokens(field, 'Equals')[0];
      if (!equals) continue; // `train { … }` has no `=`
      const nameNode = childNodes(field, 'name')[0];
      const name = nameNode ? firstTokenOf(nameNode) : undefined;
      if (name && padable(name, equals)) groups[groups.length - 1]!.push({ name, width: name.image.length });
      continue;
    }
    const statement = childNodes(m, 'mapStatement')[0] ?? childNodes(m, 'sweepStatement')[0];
    const stmtTokens = statement ? tokensOf(statement) : [];
    const keyword = stmtTokens[0];
    if (keyword && padable(keyword, stmtTokens[1])) groups[groups.length - 1]!.push({ name: keyword, width: keyword.image.length });
  }
  for (const group of groups) {
    const width = Math.max(0, ...group.map((g) => g.width));
    for (const g of group) if (width > g.width) roles.padAfter.set(g.name.startOffset, width - g.width);
  }
}

// ---- printing ---------------------------------------------------------------------------------

const OPENERS = new Set(['(', '[']);
const CLOSERS = new Set([')', ']']);

function isComment(t: IToken): boolean {
  return t.tokenType === T.LineComment || t.tokenType === T.BlockComment;
}

function endLine(t: IToken): number {
  return t.endLine ?? t.startLine ?? 1;
}

class Printer {
  private lines: string[] = [];
  private current = '';
  private indentUnit: string;

  constructor(indent: number) {
    this.indentUnit = ' '.repeat(indent);
  }

  newline(level: number, blank: boolean): void {
    this.lines.push(this.current.replace(/[ \t]+$/, ''));
    if (blank) this.lines.push('');
    this.current = this.indentUnit.repeat(Math.max(0, level));
  }

  write(s: string): void {
    this.current += s;
  }

  finish(): string {
    this.lines.push(this.current.replace(/[ \t]+$/, ''));
    while (this.lines.length > 0 && this.lines[this.lines.length - 1] === '') this.lines.pop();
    return this.lines.join('\n') + '\n';
  }
}

/** Format .xbar source. Never throws. */
export function formatXbar(text: string, options: FormatOptions = {}): FormatResult {
  try {
    return formatUnsafe(text, options);
  } catch (err) {
    return { ok: false, reason: `internal formatter error: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function formatUnsafe(text: string, options: FormatOptions): FormatResult {
  const parsed = parseText(text);
  if (parsed.lexErrors.length > 0 || parsed.parseErrors.length > 0) {
    // The checker's wording of the first syntax error ("unexpected '}'; expected a value").
    const diags = new Diagnostics();
    parseSource('<format>', text, diags);
    const first = diags.items[0];
    return { ok: false, reason: first ? `syntax error: ${first.message}` : 'syntax error', ...(first ? { line: first.span.line, col: first.span.col } : {}) };
  }
  // Nothing but whitespace: nothing to lay out.
  if (parsed.tokens.length === 0 && parsed.comments.length === 0) return { ok: true, text: '', changed: text !== '' };
  const roles = collectRoles(parsed.cst, text);
  const all = [...parsed.tokens, ...parsed.comments].sort((a, b) => a.startOffset - b.startOffset);
  const out = print(all, roles, options.indent ?? 2);
  const verdict = verify(parsed, out);
  if (verdict) return { ok: false, reason: `internal formatter error (${verdict}); the file was left unchanged` };
  return { ok: true, text: out, changed: out !== text };
}

function print(all: IToken[], roles: Roles, indent: number): string {
  const p = new Printer(indent);
  /** Open bodies, innermost last. */
  const bodies: BodyInfo[] = [];
  /** Open ( and [ inside the innermost body (saved and restored around nested bodies). */
  let brackets = 0;
  const savedBrackets: number[] = [];
  let prevOrig: IToken | undefined;
  let prevOut: IToken | undefined;
  let prevCode: IToken | undefined;
  const depth = () => bodies.filter((b) => b.multiline).length;

  for (const [i, t] of all.entries()) {
    const off = t.startOffset;
    // A separator is dropped, except before a member that opens with ( or [: without it the
    // member would continue the previous one on re-parse (`maxpool, (2)` is not `maxpool(2)`).
    if (roles.separator.has(off) && !opensWithBracket(all, i + 1)) {
      // A dropped separator that starts its own line leaves the line structure to the tokens
      // around it: a comment after `\n;` is an own-line comment, as it will be on the next run.
      if (prevOut === undefined || endLine(prevOut) === t.startLine) prevOrig = t;
      continue;
    }
    const closeInfo = roles.bodyClose.get(off);
    const memberOf = roles.memberStart.get(off);
    const isMemberStart = memberOf !== undefined;
    const sameLineAsPrev = prevOrig !== undefined && endLine(prevOrig) === t.startLine;
    const blankBefore = prevOrig !== undefined && (t.startLine ?? 0) - endLine(prevOrig) >= 2;

    let breakLevel: number | undefined;
    if (prevOut !== undefined) {
      const continuation = brackets > 0 ? Math.max(1, CLOSERS.has(t.image) ? brackets - 1 : brackets) : 1;
      if (closeInfo?.multiline && !isEmptyBody(closeInfo, prevOut)) breakLevel = depth() - 1;
      else if (isMemberStart && (memberOf === null || memberOf.multiline)) breakLevel = depth();
      else if (isComment(t) && !sameLineAsPrev) breakLevel = depth() + (brackets > 0 ? continuation : 0);
      // A line comment ends its line, whatever follows.
      else if (prevOut.tokenType === T.LineComment) breakLevel = depth() + continuation;
      // Inside an expression a line break is kept (a unit must stay on its number's line); a `{`
      // joins the line before it.
      else if (!sameLineAsPrev && t.tokenType !== T.LBrace && !closeInfo) breakLevel = depth() + continuation;
    }

    if (breakLevel !== undefined) {
      // No blank line right inside `{` (trailing comments on the brace's line do not count).
      const afterOpen = prevCode !== undefined && roles.bodyOpen.has(prevCode.startOffset) && prevOut !== undefined && endLine(prevOut) === prevCode.startLine;
      p.newline(breakLevel, blankBefore && !afterOpen && !closeInfo);
    } else if (prevOut !== undefined) {
      p.write(spaceBetween(prevOut, t, roles, bodies, prevOrig));
    }

    p.write(t.image);
    const pad = roles.padAfter.get(off);
    if (pad) p.write(' '.repeat(pad));

    const openInfo = roles.bodyOpen.get(off);
    if (openInfo) {
      bodies.push(openInfo);
      savedBrackets.push(brackets);
      brackets = 0;
    }
    if (closeInfo) {
      bodies.pop();
      brackets = savedBrackets.pop() ?? 0;
    }
    if (OPENERS.has(t.image)) brackets++;
    if (CLOSERS.has(t.image)) brackets = Math.max(0, brackets - 1);
    prevOrig = t;
    prevOut = t;
    if (!isComment(t)) prevCode = t;
  }
  return p.finish();
}

function isEmptyBody(info: BodyInfo, prevOut: IToken): boolean {
  return info.memberStarts.length === 0 && prevOut === info.open;
}

/** The spacing between two tokens printed on the same line. */
function spaceBetween(a: IToken, b: IToken, roles: Roles, bodies: BodyInfo[], prevOrig: IToken | undefined): string {
  if (isComment(b)) {
    // A trailing comment keeps the gap it had (so hand-aligned comments on unchanged lines stay
    // aligned); the gap is measured in the input, which makes this idempotent.
    const sameLine = prevOrig !== undefined && endLine(prevOrig) === b.startLine;
    const gap = sameLine ? (b.startColumn ?? 1) - ((prevOrig!.endColumn ?? 0) + 1) : 1;
    return ' '.repeat(Math.max(1, Math.min(gap, 40)));
  }
  const inner = bodies[bodies.length - 1];
  // Members of an inline block are joined by `, `.
  const memberOf = roles.memberStart.get(b.startOffset);
  if (memberOf && !memberOf.multiline && memberOf.memberStarts[0] !== b) return ', ';
  const closeInfo = roles.bodyClose.get(b.startOffset);
  if (closeInfo) return closeInfo.memberStarts.length === 0 && a === closeInfo.open ? '' : ' ';
  if (roles.bodyOpen.has(a.startOffset) && inner && !inner.multiline) return ' ';
  const pa = roles.pattern.get(a.startOffset);
  if (pa !== undefined && pa === roles.pattern.get(b.startOffset)) return '';
  if (roles.unarySign.has(a.startOffset)) return '';
  if (a.image === '(' || a.image === '[' || a.image === '.') return '';
  if (b.image === ')' || b.image === ']' || b.image === ',' || b.image === '.') return '';
  if (b.image === '(' && (a.tokenType === T.Identifier || a.tokenType === T.Zip || isNameKeyword(a))) return '';
  return ' ';
}

/** The next code token (comments skipped) from `from` is ( or [. */
function opensWithBracket(all: IToken[], from: number): boolean {
  const next = all.slice(from).find((t) => !isComment(t));
  return next?.image === '(' || next?.image === '[';
}

function isNameKeyword(t: IToken): boolean {
  return t.tokenType === T.Device || t.tokenType === T.Crossbar || t.tokenType === T.Network || t.tokenType === T.Experiment || t.tokenType === T.Input;
}

// ---- safety net ---------------------------------------------------------------------------------

/** Re-parse the output: same syntax tree (minus member separators) and same comments, or why not. */
function verify(a: ReturnType<typeof parseText>, after: string): string | undefined {
  const b = parseText(after);
  if (b.lexErrors.length > 0 || b.parseErrors.length > 0) return 'the output does not parse';
  // Trailing whitespace inside comments is the one change allowed there.
  const commentText = (p: ReturnType<typeof parseText>) => p.comments.map((c) => c.image.replace(/[ \t]+$/gm, '')).join('\n');
  if (commentText(a) !== commentText(b)) return 'comments changed';
  if (shape(a.cst) !== shape(b.cst)) return 'the syntax tree changed';
  return undefined;
}

/** A whitespace-free rendering of a CST without the member separators the formatter may change. */
function shape(node: CstNode): string {
  const parts: string[] = [];
  const walk = (n: CstNode) => {
    parts.push(`(${n.name}`);
    const entries = Object.entries(n.children as Children).sort(([x], [y]) => x.localeCompare(y));
    for (const [key, els] of entries) {
      const separatorKey = (n.name === 'body' || n.name === 'networkBody' || n.name === 'file') && (key === 'Comma' || key === 'Semicolon');
      if (separatorKey) continue;
      for (const el of els ?? []) {
        if (isToken(el)) parts.push(`${key}:${el.image}`);
        else walk(el);
      }
    }
    parts.push(')');
  };
  walk(node);
  return parts.join(' ');
}
