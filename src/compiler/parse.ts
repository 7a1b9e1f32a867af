/**
 * Parse: .xbar text → AST with spans, plus syntax diagnostics. Never throws on any input.
 */
import type { CstNode, IToken, CstElement } from 'chevrotain';
import { parseText, xbarParser } from '../../grammar/parser.js';
import { xbarLexer } from '../../grammar/tokens.js';
import { MAX_SYNTAX_ERRORS } from '../../grammar/error-budget.js';
import type { Arg, Declaration, Expr, FileAst, ImportDecl, Member, NetMember, Name, Span, SweepAxis, MapEntry } from './ast.js';
import { spanUnion } from './ast.js';
import { Diagnostics } from './diagnostics.js';

export interface ParsedFile {
  ast: FileAst;
  text: string;
  tokens: IToken[];
  comments: IToken[];
}

type Children = Record<string, CstElement[] | undefined>;

const EMPTY_SPAN: Span = { start: 0, end: 0, line: 1, col: 1, endLine: 1, endCol: 1 };

function isToken(el: CstElement | undefined): el is IToken {
  return el !== undefined && (el as IToken).image !== undefined;
}

function tokenSpan(t: IToken): Span {
  return {
    start: t.startOffset,
    end: (t.endOffset ?? t.startOffset) + 1,
    line: t.startLine ?? 1,
    col: t.startColumn ?? 1,
    endLine: t.endLine ?? t.startLine ?? 1,
    endCol: (t.endColumn ?? t.startColumn ?? 1) + 1,
  };
}

function nodeSpan(n: CstNode): Span {
  const loc = n.location;
  if (!loc || Number.isNaN(loc.startOffset)) return EMPTY_SPAN;
  const endOffset = loc.endOffset !== undefined && !Number.isNaN(loc.endOffset) ? loc.endOffset : loc.startOffset;
  return {
    start: loc.startOffset,
    end: endOffset + 1,
    line: loc.startLine ?? 1,
    col: loc.startColumn ?? 1,
    endLine: loc.endLine && !Number.isNaN(loc.endLine) ? loc.endLine : (loc.startLine ?? 1),
    endCol: (loc.endColumn && !Number.isNaN(loc.endColumn) ? loc.endColumn : (loc.startColumn ?? 1)) + 1,
  };
}

/** A token inserted by error recovery has NaN offsets; treat it as absent. */
function realToken(el: CstElement | undefined): IToken | undefined {
  return isToken(el) && !Number.isNaN(el.startOffset) && !(el as { isInsertedInRecovery?: boolean }).isInsertedInRecovery ? el : undefined;
}

function kids(node: CstNode): Children {
  return node.children as Children;
}

function firstNode(c: Children, key: string): CstNode | undefined {
  const el = c[key]?.[0];
  return el && !isToken(el) ? el : undefined;
}

function nodes(c: Children, key: string): CstNode[] {
  return (c[key] ?? []).filter((e): e is CstNode => !isToken(e));
}

function firstToken(c: Children, key: string): IToken | undefined {
  return realToken(c[key]?.[0]);
}

function tokenName(t: IToken): Name {
  return { text: t.image, span: tokenSpan(t) };
}

export function parseSource(path: string, text: string, diags: Diagnostics): ParsedFile {
  const out = parseText(text);
  for (const e of out.lexErrors) {
    const span: Span = {
      start: e.offset,
      end: e.offset + Math.max(1, e.length),
      line: e.line,
      col: e.column,
      endLine: e.line,
      endCol: e.column + Math.max(1, e.length),
    };
    diags.add('unexpected-character', path, span, { char: JSON.stringify(text.slice(e.offset, e.offset + Math.max(1, e.length))) });
  }
  for (const e of out.parseErrors) {
    const tok = realToken(e.token);
    const span = tok ? tokenSpan(tok) : endOfText(text);
    diags.add('syntax-error', path, span, { detail: describeSyntaxError(e.message, tok) });
  }
  if (out.stoppedAt) {
    const { offset, line, column } = out.stoppedAt;
    const span: Span = { start: offset, end: offset + 1, line, col: column, endLine: line, endCol: column + 1 };
    diags.add('syntax-error', path, span, { detail: `too many syntax errors (more than ${MAX_SYNTAX_ERRORS}); the rest of the file is not checked` });
  }
  const ast = buildFile(path, out.cst);
  return { ast, text, tokens: out.tokens, comments: out.comments };
}

function endOfText(text: string): Span {
  const lines = text.split('\n');
  const line = lines.length;
  const col = (lines[line - 1]?.length ?? 0) + 1;
  return { start: text.length, end: text.length, line, col, endLine: line, endCol: col };
}

/** Chevrotain's messages list token names; make them read like the language. */
function describeSyntaxError(message: string, tok: IToken | undefined): string {
  const found = tok ? (tok.tokenType.name === 'EOF' ? 'end of file' : `'${tok.image}'`) : 'end of file';
  if (message.startsWith('nesting too deep')) return message;
  const expecting = /Expecting:?\s*(?:one of these possible Token sequences:)?\s*([\s\S]*?)\s*but found/i.exec(message);
  if (expecting?.[1]) {
    const raw = Array.from(new Set(expecting[1].match(/'[^']+'|\b[A-Z][A-Za-z]+\b/g) ?? []));
    // Only end of file may follow at the top level: what came is not a declaration.
    if (raw.length === 1 && raw[0] === 'EOF') return `unexpected ${found}; expected a declaration (import, device, crossbar, network, experiment)`;
    // Every token that starts an expression: say so instead of listing six of them.
    if (raw.includes('NumberLiteral') && raw.includes('Identifier') && raw.includes('StringLiteral')) return `unexpected ${found}; expected a value`;
    const options = raw.map(prettyTokenName).slice(0, 6);
    if (options.length > 0) return `unexpected ${found}; expected ${options.join(' or ')}`;
  }
  if (/NotAllInputParsed|Redundant input/i.test(message)) return `unexpected ${found}; expected a declaration (import, device, crossbar, network, experiment)`;
  return `unexpected ${found}`;
}

function prettyTokenName(name: string): string {
  const map: Record<string, string> = { Identifier: 'a name', NumberLiteral: 'a number', StringLiteral: 'a string', EOF: 'end of file' };
  return map[name] ?? name;
}

// ---- CST → AST ------------------------------------------------------------------------------

function buildFile(path: string, cst: CstNode): FileAst {
  const c = kids(cst);
  const imports = nodes(c, 'importDecl')
    .map(buildImport)
    .filter((x): x is ImportDecl => x !== undefined);
  const declarations: Declaration[] = [];
  for (const d of nodes(c, 'declaration')) {
    const decl = buildConfigDecl(d);
    if (decl) declarations.push(decl);
  }
  for (const d of nodes(c, 'networkDecl')) {
    const decl = buildNetworkDecl(d);
    if (decl) declarations.push(decl);
  }
  declarations.sort((a, b) => a.span.start - b.span.start);
  return { path, imports, declarations, span: nodeSpan(cst) };
}

function buildImport(node: CstNode): ImportDecl | undefined {
  const c = kids(node);
  const src = firstToken(c, 'StringLiteral');
  if (!src) return undefined;
  const star = firstToken(c, 'Star');
  const names = star
    ? null
    : nodes(c, 'importSpec').flatMap((s) => {
        const sc = kids(s);
        const name = firstToken(sc, 'name');
        if (!name) return [];
        const alias = firstToken(sc, 'alias');
        return [{ name: tokenName(name), ...(alias ? { alias: tokenName(alias) } : {}) }];
      });
  return { kind: 'import', names, source: { text: unquote(src.image), span: tokenSpan(src) }, span: nodeSpan(node) };
}

function buildConfigDecl(node: CstNode): Declaration | undefined {
  const c = kids(node);
  const kindTok = firstToken(c, 'kind');
  const nameTok = firstToken(c, 'name');
  if (!kindTok || !nameTok) return undefined;
  const presetNode = firstNode(c, 'preset');
  const bodyNode = firstNode(c, 'body');
  return {
    kind: kindTok.image as 'device' | 'crossbar' | 'experiment',
    name: tokenName(nameTok),
    ...(presetNode ? { preset: buildQualifiedName(presetNode) } : {}),
    body: bodyNode ? buildBody(bodyNode) : [],
    ...(bodyNode ? { bodySpan: nodeSpan(bodyNode) } : {}),
    span: nodeSpan(node),
  };
}

function buildNetworkDecl(node: CstNode): Declaration | undefined {
  const c = kids(node);
  const nameTok = firstToken(c, 'name');
  if (!nameTok) return undefined;
  const params = nodes(c, 'param').flatMap((p) => {
    const pc = kids(p);
    const n = firstToken(pc, 'name');
    if (!n) return [];
    const def = firstNode(pc, 'default');
    return [{ name: tokenName(n), ...(def ? { default: buildExpression(def) } : {}) }];
  });
  const bodyNode = firstNode(c, 'networkBody');
  return { kind: 'network', name: tokenName(nameTok), params, body: bodyNode ? buildNetworkBody(bodyNode) : [], span: nodeSpan(node) };
}

function buildNetworkBody(node: CstNode): NetMember[] {
  return nodes(kids(node), 'networkMember').flatMap((m): NetMember[] => {
    const c = kids(m);
    const span = nodeSpan(m);
    if (c['Block']) {
      const name = firstToken(c, 'name');
      const body = firstNode(c, 'networkBody');
      return name ? [{ kind: 'block', name: tokenName(name), body: body ? buildNetworkBody(body) : [], span }] : [];
    }
    if (c['Shortcut']) {
      const body = firstNode(c, 'networkBody');
      return [{ kind: 'shortcut', body: body ? buildNetworkBody(body) : [], span }];
    }
    const exprNode = firstNode(c, 'expression');
    if (!exprNode) return [];
    const layerName = firstNode(c, 'layerName');
    const name = layerName ? buildFieldName(layerName) : undefined;
    return [{ kind: 'layer', ...(name ? { name } : {}), expr: buildExpression(exprNode), span }];
  });
}

function buildBody(node: CstNode): Member[] {
  return nodes(kids(node), 'member').flatMap((m): Member[] => {
    const c = kids(m);
    const field = firstNode(c, 'field');
    if (field) {
      const f = buildField(field);
      return f ? [f] : [];
    }
    const map = firstNode(c, 'mapStatement');
    if (map) return [{ kind: 'map', entries: nodes(kids(map), 'mapEntry').flatMap(buildMapEntry), span: nodeSpan(map) }];
    const sweep = firstNode(c, 'sweepStatement');
    if (sweep) return [buildSweep(sweep)];
    return [];
  });
}

function buildField(node: CstNode): Member | undefined {
  const c = kids(node);
  const nameNode = firstNode(c, 'name');
  const name = nameNode ? buildFieldName(nameNode) : undefined;
  if (!name) return undefined;
  const valueNode = firstNode(c, 'value');
  const blockNode = firstNode(c, 'block');
  const span = nodeSpan(node);
  let value: Expr;
  if (valueNode) value = buildExpression(valueNode);
  else if (blockNode) value = { kind: 'object', members: buildBody(blockNode), span: nodeSpan(blockNode) };
  else value = { kind: 'error', span };
  return { kind: 'field', name, value, span };
}

function buildFieldName(node: CstNode): Name | undefined {
  const c = kids(node);
  for (const key of Object.keys(c)) {
    const t = realToken(c[key]?.[0]);
    if (t) return tokenName(t);
  }
  return undefined;
}

function buildQualifiedName(node: CstNode): Name[] {
  const c = kids(node);
  const parts: Name[] = [];
  const head = firstToken(c, 'Identifier');
  if (head) parts.push(tokenName(head));
  for (const f of nodes(c, 'fieldName')) {
    const n = buildFieldName(f);
    if (n) parts.push(n);
  }
  return parts;
}

function buildMapEntry(node: CstNode): MapEntry[] {
  const c = kids(node);
  const patternNode = firstNode(c, 'pattern');
  const target = firstToken(c, 'target');
  if (!patternNode || !target) return [];
  const pc = kids(patternNode);
  const str = firstToken(pc, 'StringLiteral');
  const text = str ? unquote(str.image) : patternText(patternNode);
  return [{ pattern: { text, span: nodeSpan(patternNode) }, target: tokenName(target), span: nodeSpan(node) }];
}

function patternText(node: CstNode): string {
  const tokens: IToken[] = [];
  const collect = (n: CstNode) => {
    for (const els of Object.values(kids(n))) {
      for (const el of els ?? []) {
        if (!isToken(el)) collect(el);
        else if (realToken(el)) tokens.push(el);
      }
    }
  };
  collect(node);
  return tokens
    .sort((a, b) => a.startOffset - b.startOffset)
    .map((t) => t.image)
    .join('');
}

function buildSweep(node: CstNode): Member {
  const factors = nodes(kids(node), 'sweepFactor').map((f) => {
    const c = kids(f);
    return { zip: c['Zip'] !== undefined, axes: nodes(c, 'sweepAxis').flatMap(buildSweepAxis), span: nodeSpan(f) };
  });
  return { kind: 'sweep', factors, span: nodeSpan(node) };
}

function buildSweepAxis(node: CstNode): SweepAxis[] {
  const c = kids(node);
  const pathNode = firstNode(c, 'path');
  const fromNode = firstNode(c, 'from');
  if (!pathNode || !fromNode) return [];
  const path = nodes(kids(pathNode), 'fieldName')
    .map(buildFieldName)
    .filter((n): n is Name => n !== undefined);
  let values = buildUnary(fromNode);
  const toNode = firstNode(c, 'to');
  if (toNode) {
    const to = buildUnary(toNode);
    const byNode = firstNode(c, 'by');
    values = {
      kind: 'range',
      from: values,
      to,
      ...(byNode ? { by: buildUnary(byNode) } : {}),
      span: spanUnion(values.span, byNode ? nodeSpan(byNode) : to.span),
    };
  }
  return [{ path, values, span: nodeSpan(node) }];
}

function buildExpression(node: CstNode): Expr {
  const c = kids(node);
  const fromNode = firstNode(c, 'from');
  if (!fromNode) return { kind: 'error', span: nodeSpan(node) };
  const from = buildShape(fromNode);
  const toNode = firstNode(c, 'to');
  if (!toNode) return from;
  const to = buildShape(toNode);
  const byNode = firstNode(c, 'by');
  return { kind: 'range', from, to, ...(byNode ? { by: buildShape(byNode) } : {}), span: nodeSpan(node) };
}

function buildShape(node: CstNode): Expr {
  const operands = nodes(kids(node), 'operands').map(buildAdditive);
  if (operands.length === 0) return { kind: 'error', span: nodeSpan(node) };
  if (operands.length === 1) return operands[0]!;
  return { kind: 'shape', dims: operands, span: nodeSpan(node) };
}

function buildBinaryChain(node: CstNode, build: (n: CstNode) => Expr): Expr {
  const c = kids(node);
  const operands = nodes(c, 'operands').map(build);
  const operators = (c['operators'] ?? []).filter(isToken);
  if (operands.length === 0) return { kind: 'error', span: nodeSpan(node) };
  let acc = operands[0]!;
  for (let i = 1; i < operands.length; i++) {
    const right = operands[i]!;
    const op = (operators[i - 1]?.image ?? '+') as '+' | '-' | '*' | '/';
    acc = { kind: 'binary', op, left: acc, right, span: spanUnion(acc.span, right.span) };
  }
  return acc;
}

function buildAdditive(node: CstNode): Expr {
  return buildBinaryChain(node, buildMultiplicative);
}

function buildMultiplicative(node: CstNode): Expr {
  return buildBinaryChain(node, buildUnary);
}

function buildUnary(node: CstNode): Expr {
  const c = kids(node);
  const sign = firstToken(c, 'sign');
  const operandNode = firstNode(c, 'operand');
  if (sign && operandNode) {
    const operand = buildUnary(operandNode);
    // Fold a sign into a number literal so `-0.63` stays one literal (better hover and errors).
    if (operand.kind === 'number') {
      return {
        ...operand,
        value: sign.image === '-' ? -operand.value : operand.value,
        raw: sign.image + operand.raw,
        span: spanUnion(tokenSpan(sign), operand.span),
      };
    }
    return { kind: 'unary', op: sign.image as '-' | '+', operand, span: nodeSpan(node) };
  }
  const atom = firstNode(c, 'atom');
  return atom ? buildAtom(atom) : { kind: 'error', span: nodeSpan(node) };
}

function buildAtom(node: CstNode): Expr {
  const c = kids(node);
  const span = nodeSpan(node);
  const num = firstNode(c, 'numberAtom');
  if (num) {
    const nc = kids(num);
    const lit = firstToken(nc, 'NumberLiteral');
    if (!lit) return { kind: 'error', span };
    const unit = firstToken(nc, 'unit');
    return { kind: 'number', value: Number(lit.image), raw: lit.image, ...(unit ? { unit: tokenName(unit) } : {}), span: nodeSpan(num) };
  }
  const str = firstToken(c, 'StringLiteral');
  if (str) return { kind: 'string', value: unquote(str.image), span };
  if (firstToken(c, 'True')) return { kind: 'bool', value: true, span };
  if (firstToken(c, 'False')) return { kind: 'bool', value: false, span };
  const list = firstNode(c, 'listLiteral');
  if (list) return { kind: 'list', items: nodes(kids(list), 'items').map(buildExpression), span };
  const obj = firstNode(c, 'object');
  if (obj) return { kind: 'object', members: buildBody(obj), span };
  const roc = firstNode(c, 'refOrCall');
  if (roc) return buildRefOrCall(roc);
  const inner = firstNode(c, 'expression');
  if (inner) return { kind: 'paren', inner: buildExpression(inner), span };
  return { kind: 'error', span };
}

function buildRefOrCall(node: CstNode): Expr {
  const c = kids(node);
  const qn = firstNode(c, 'qualifiedName');
  const path = qn ? buildQualifiedName(qn) : [];
  const span = nodeSpan(node);
  if (path.length === 0) return { kind: 'error', span };
  if (!c['LParen']) return { kind: 'ref', path, span };
  const args: Arg[] = nodes(c, 'argument').map((a) => {
    const ac = kids(a);
    const nameNode = firstNode(ac, 'name');
    const name = nameNode ? buildFieldName(nameNode) : undefined;
    const valueNode = firstNode(ac, 'value');
    return { ...(name ? { name } : {}), value: valueNode ? buildExpression(valueNode) : { kind: 'error', span: nodeSpan(a) }, span: nodeSpan(a) };
  });
  return { kind: 'call', callee: path, args, span };
}

function unquote(s: string): string {
  if (s.length < 2) return s;
  return s.slice(1, -1).replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch === 't' ? '\t' : ch));
}

/** Parse a lone expression (a `--set path=value` value). */
export function parseExpressionText(file: string, text: string, diags: Diagnostics): Expr | undefined {
  const lexed = xbarLexer.tokenize(text);
  for (const e of lexed.errors) {
    diags.add(
      'unexpected-character',
      file,
      { start: e.offset, end: e.offset + 1, line: 1, col: e.offset + 1, endLine: 1, endCol: e.offset + 2 },
      { char: JSON.stringify(text[e.offset] ?? '') },
    );
  }
  if (lexed.errors.length > 0) return undefined;
  xbarParser.input = lexed.tokens;
  const cst = xbarParser.expression();
  const errors = xbarParser.errors;
  if (errors.length > 0 || xbarParser.input.length === 0) {
    const tok = realToken(errors[0]?.token);
    diags.add('syntax-error', file, tok ? tokenSpan(tok) : endOfText(text), {
      detail: errors[0] ? describeSyntaxError(errors[0].message, tok) : 'expected a value',
    });
    return undefined;
  }
  return buildExpression(cst);
}
