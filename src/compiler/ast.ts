/**
 * The .xbar abstract syntax tree. Every node carries a source span; a node that error recovery
 * could not complete is still present, with `missing` parts left undefined, so the checker and
 * the language server work on broken input.
 */

export interface Span {
  /** 0-based offset of the first character. */
  start: number;
  /** 0-based offset one past the last character. */
  end: number;
  /** 1-based line and column of the first character. */
  line: number;
  col: number;
  /** 1-based line and column of the last character + 1. */
  endLine: number;
  endCol: number;
}

export interface Name {
  text: string;
  span: Span;
}

export interface FileAst {
  path: string;
  imports: ImportDecl[];
  declarations: Declaration[];
  span: Span;
}

export interface ImportDecl {
  kind: 'import';
  /** null for `import * from`. */
  names: { name: Name; alias?: Name }[] | null;
  source: { text: string; span: Span };
  span: Span;
}

export type DeclKind = 'device' | 'crossbar' | 'experiment' | 'network';

export type Declaration = ConfigDecl | NetworkDecl;

export interface ConfigDecl {
  kind: 'device' | 'crossbar' | 'experiment';
  name: Name;
  preset?: Name[];
  body: Member[];
  bodySpan?: Span;
  span: Span;
}

export interface NetworkDecl {
  kind: 'network';
  name: Name;
  params: { name: Name; default?: Expr }[];
  body: NetMember[];
  span: Span;
}

export type NetMember =
  | { kind: 'layer'; name?: Name; expr: Expr; span: Span }
  | { kind: 'block'; name: Name; body: NetMember[]; span: Span }
  | { kind: 'shortcut'; body: NetMember[]; span: Span };

export type Member = FieldMember | MapMember | SweepMember;

export interface FieldMember {
  kind: 'field';
  name: Name;
  value: Expr;
  span: Span;
}
export interface MapEntry {
  pattern: { text: string; span: Span };
  target: Name;
  span: Span;
}
export interface MapMember {
  kind: 'map';
  entries: MapEntry[];
  span: Span;
}
export interface SweepAxis {
  path: Name[];
  values: Expr;
  span: Span;
}
export interface SweepMember {
  kind: 'sweep';
  factors: { zip: boolean; axes: SweepAxis[]; span: Span }[];
  span: Span;
}

export type Expr =
  | { kind: 'number'; value: number; raw: string; unit?: Name; span: Span }
  | { kind: 'string'; value: string; span: Span }
  | { kind: 'bool'; value: boolean; span: Span }
  | { kind: 'list'; items: Expr[]; span: Span }
  /** `fromOverride`: built from a sweep point or --set path, merged into what it overrides. */
  | { kind: 'object'; members: Member[]; span: Span; fromOverride?: boolean }
  | { kind: 'ref'; path: Name[]; span: Span }
  | { kind: 'call'; callee: Name[]; args: Arg[]; span: Span }
  | { kind: 'binary'; op: '+' | '-' | '*' | '/'; left: Expr; right: Expr; span: Span }
  | { kind: 'unary'; op: '-' | '+'; operand: Expr; span: Span }
  | { kind: 'shape'; dims: Expr[]; span: Span }
  | { kind: 'range'; from: Expr; to: Expr; by?: Expr; span: Span }
  | { kind: 'paren'; inner: Expr; span: Span }
  /** A value computed outside the text (expanded sweep ranges); holds a checked Value. */
  | { kind: 'const'; value: unknown; display: string; span: Span }
  /** A hole left by error recovery. */
  | { kind: 'error'; span: Span };

export interface Arg {
  name?: Name;
  value: Expr;
  span: Span;
}

export function spanUnion(a: Span, b: Span): Span {
  const first = a.start <= b.start ? a : b;
  const last = a.end >= b.end ? a : b;
  return { start: first.start, line: first.line, col: first.col, end: last.end, endLine: last.endLine, endCol: last.endCol };
}

export function pathText(path: Name[]): string {
  return path.map((p) => p.text).join('.');
}
