/**
 * xbarc as a library: everything the CLI does, as typed functions. The CLI and the language
 * server are thin shells over these.
 */
export { check, type CheckResult, type CheckOptions, type CheckedModel, type CheckedExperiment } from './compiler/check.js';
export { compile, assertValidPlan, toolVersion, type CompileResult, type CompileOptions, type CompiledExperiment } from './compiler/compile.js';
export { formatXbar, type FormatResult } from './compiler/format.js';
export { diagnosticCodes, formatDiagnostic, type Diagnostic, type DiagnosticCode, type Severity } from './compiler/diagnostics.js';
export type { Plan, PlanExperiment, PlanLayer, PlanNetwork, LayerMapping } from './model/plan.js';
export { executeExperiment, type ExecuteOptions, type ExecuteResult } from './runtime/execute.js';
export { loadDataset, type Dataset } from './runtime/data/index.js';
export { validateResults, writeFileAtomic, type Results } from './runtime/results/index.js';
export { Rng } from './runtime/rng.js';
export { XbarcError, XbarcRuntimeError, XbarcDataError } from './model/errors.js';
