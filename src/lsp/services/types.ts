/**
 * Plain data returned by the language services. The shapes follow the Language Server Protocol
 * (0-based lines, UTF-16 character offsets) so the server passes them through, but nothing here
 * depends on the protocol library: the CLI and tests use them directly.
 */

export interface Position {
  line: number;
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}
export interface Location {
  path: string;
  range: Range;
}
export interface TextEdit {
  range: Range;
  newText: string;
}

export type CompletionKind = 'keyword' | 'field' | 'unit' | 'enum' | 'constructor' | 'declaration' | 'module' | 'layer' | 'value' | 'operator';

export interface CompletionEntry {
  label: string;
  kind: CompletionKind;
  detail?: string;
  /** Markdown. */
  documentation?: string;
  /** Text to insert instead of the label (over `range`). */
  insertText?: string;
  /** The text the completion replaces (the word being typed). */
  range: Range;
  sortText?: string;
  /** Edits elsewhere, e.g. the import a stdlib name needs. */
  additionalEdits?: TextEdit[];
}

export interface HoverInfo {
  /** Markdown. */
  contents: string;
  range: Range;
}

export type SymbolKind = 'device' | 'crossbar' | 'network' | 'experiment' | 'import' | 'field' | 'block' | 'map' | 'sweep' | 'layer' | 'parameter';

export interface DocumentSymbolInfo {
  name: string;
  kind: SymbolKind;
  detail?: string;
  range: Range;
  selectionRange: Range;
  children: DocumentSymbolInfo[];
}

export interface CodeActionInfo {
  title: string;
  /** The diagnostic code the action fixes. */
  code: string;
  edit: { path: string; edits: TextEdit[] };
  isPreferred: boolean;
  /** The range of the diagnostic it fixes. */
  diagnosticRange: Range;
}

export interface DiagnosticInfo {
  code: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
  range: Range;
  fix?: { title: string; range: Range; newText: string };
}
