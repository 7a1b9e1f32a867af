/** The compiler's public services: pure functions the CLI and the language server share. */
export { check, type CheckResult, type CheckOptions, type CheckedModel, type CheckedExperiment, type CheckedCrossbar, type CheckedDecl, type SweepPoint, type SweepAssignment } from './check.js';
export { diagnosticCodes, formatDiagnostic, type Diagnostic, type DiagnosticCode, type Severity } from './diagnostics.js';
export { Program, FileSystemHost, packageRoot, stdlibDir, type SourceHost } from './resolve.js';
export { parseSource } from './parse.js';
export * as schema from './schema.js';
