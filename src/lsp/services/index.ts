/**
 * The language services: pure functions of (text, path, position) that return plain data. The
 * language server (src/lsp/server.ts) and the CLI are thin shells over them.
 */
export { analyze, type Analysis, type ServiceOptions } from './analysis.js';
export { diagnostics, codeActions } from './actions.js';
export { hover } from './hover.js';
export { completion } from './completion.js';
export { definition, references, type ReferenceOptions } from './navigation.js';
export { documentSymbols } from './symbols.js';
export { formatDocument, type FormattingResult } from './formatting.js';
export { LineIndex, lineIndex } from './positions.js';
export type * from './types.js';
