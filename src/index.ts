/**
 * xbarc as a library: everything the CLI does, as typed functions. The CLI and the language
 * server are thin shells over these.
 */
export { check, type CheckResult, type CheckOptions, type CheckedModel, type CheckedExperiment } from './compiler/check.js';
export { compile, assertValidPlan, toolVersion, type CompileResult, type CompileOptions, type CompiledExperiment } from './compiler/compile.js';
export { formatXbar, type FormatResult } from './compiler/format.js';
export { diagnosticCodes, formatDiagnostic, type Diagnostic, type DiagnosticCode, type Severity } from './compiler/diagnostics.js';
export type { Plan, PlanExperiment, PlanLayer, PlanNetwork, LayerMapping, PlanCrossbar } from './model/plan.js';
export type { CrossbarSpec, DeviceSpec, AdcSpec, ParasiticsSpec, UpdateModelSpec, WiresSpec } from './model/crossbar.js';
export { inputGradient, type InputGradientResult } from './runtime/engine/input-gradient.js';
export { Trainer, type TrainerOptions } from './runtime/engine/trainer.js';
export { DEFAULT_SPIN, DEFAULT_THREADS, type EngineOptions, type EngineSettings } from './runtime/engine/session.js';
export { summarizeProfiles, formatProfile, type ProfileSummary, type GraphProfile, type ProfileEntry } from './runtime/engine/profile.js';
export { buildGraph, trainGraphSpec, evalGraphSpec, gradsGraphSpec, inputGradSpec, type GraphSpec, type HeadSpec } from './runtime/engine/graphs.js';
export { l2Term, tileGroupLassoTerm, type LossTerm, type ParamView } from './runtime/engine/terms.js';
export type { WeightTransform } from './runtime/engine/transforms.js';
export { executeExperiment, type ExecuteOptions, type ExecuteResult } from './runtime/execute.js';
export { loadDataset, type Dataset } from './runtime/data/index.js';
export { validateResults, writeFileAtomic, type Results } from './runtime/results/index.js';
export { Rng } from './runtime/rng.js';
export { XbarcError, XbarcRuntimeError, XbarcDataError } from './model/errors.js';
