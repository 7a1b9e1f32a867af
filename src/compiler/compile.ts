/**
 * Compile: check a spec, lower each experiment (or each sweep point) to a plan, and validate the
 * plan against schemas/plan.schema.json. The one entry point `xbarc plan` and `xbarc run` share.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import { check, type CheckOptions, type CheckResult, type CheckedExperiment } from './check.js';
import { Diagnostics, type Diagnostic } from './diagnostics.js';
import { lowerExperiment, resolvedSpec, specHash, type LowerOptions } from './lower.js';
import { PLAN_VERSION, type CompiledExperiment, type Plan, type PlanExperiment } from '../model/plan.js';
import { packageRoot, toolVersion } from '../model/tool.js';

export { toolVersion } from '../model/tool.js';

export type { CompiledExperiment } from '../model/plan.js';

export interface CompileResult {
  diagnostics: Diagnostic[];
  hasErrors: boolean;
  plan?: Plan;
  experiments: CompiledExperiment[];
  check: CheckResult;
}

export interface CompileOptions extends CheckOptions, LowerOptions {
  /** Only this experiment (by name). */
  experiment?: string;
  /** Only this sweep point (0-based); without it every point is compiled. */
  point?: number;
}

export function compile(path: string, options: CompileOptions = {}): CompileResult {
  const base = check(path, options);
  const diags = new Diagnostics();
  const experiments: CompiledExperiment[] = [];
  if (!base.hasErrors && base.model) {
    for (const exp of base.model.experiments) {
      if (options.experiment && exp.name !== options.experiment) continue;
      experiments.push(...compileExperiment(path, exp, base, options, diags));
    }
  }
  const diagnostics = [...base.diagnostics, ...diags.items];
  const hasErrors = diagnostics.some((d) => d.severity === 'error');
  if (hasErrors) return { diagnostics, hasErrors, experiments: [], check: base };
  const plan: Plan = {
    version: PLAN_VERSION,
    tool: { name: 'xbarc', version: toolVersion },
    specHash: experiments.length === 1 ? experiments[0]!.specHash : specHashOfAll(experiments),
    experiments: experiments.map((e) => e.plan),
  };
  assertValidPlan(plan);
  return { diagnostics, hasErrors, plan, experiments, check: base };
}

/** Sweep points are re-checked with their assignments applied, so each gets full checking. */
function compileExperiment(path: string, exp: CheckedExperiment, base: CheckResult, options: CompileOptions, diags: Diagnostics): CompiledExperiment[] {
  const points = exp.sweep?.points;
  if (!points || points.length === 0) {
    const { point: _point, ...lowerOptions } = options;
    const plan = lowerExperiment(exp, diags, lowerOptions);
    return plan ? [finish(plan, exp)] : [];
  }
  const selected = options.point !== undefined ? points.filter((p) => p.index === options.point) : points;
  if (options.point !== undefined && selected.length === 0) {
    diags.add('sweep-type-mismatch', exp.file, exp.span, {
      path: 'point',
      detail: `--point ${options.point} is out of range: the sweep has points 0..${points.length - 1}`,
    });
    return [];
  }
  const out: CompiledExperiment[] = [];
  for (const point of selected) {
    const result = check(path, { ...options, program: base.program, overrides: [...(options.overrides ?? []), ...point.assignments], skipSweeps: true });
    for (const d of result.diagnostics) if (!base.diagnostics.some((b) => b.message === d.message && b.span.start === d.span.start)) diags.items.push(d);
    const pexp = result.model?.experiments.find((e) => e.name === exp.name);
    if (!pexp || result.hasErrors) continue;
    const assignments = Object.fromEntries(point.assignments.map((a) => [a.path.join('.'), a.display]));
    const plan = lowerExperiment(pexp, diags, { ...options, pointInfo: { index: point.index, of: points.length, assignments } });
    if (plan) out.push(finish({ ...plan, outDir: join(plan.outDir, 'points', String(point.index).padStart(4, '0')) }, pexp));
  }
  return out;
}

function finish(plan: PlanExperiment, exp: CheckedExperiment): CompiledExperiment {
  const resolved = resolvedSpec(exp);
  return { plan, resolved, specHash: specHash(plan, resolved) };
}

function specHashOfAll(experiments: CompiledExperiment[]): string {
  return specHash({ name: '*', experiments: experiments.map((e) => e.specHash) } as never, null);
}

let planValidator: ValidateFunction | undefined;

/** Validate a plan; a violation is a compiler bug, so it throws with every problem listed. */
export function assertValidPlan(plan: Plan): void {
  planValidator ??= new Ajv2020({ allErrors: true, strict: false }).compile(
    JSON.parse(readFileSync(join(packageRoot, 'schemas', 'plan.schema.json'), 'utf8')) as object,
  );
  if (!planValidator(plan)) {
    const problems = (planValidator.errors ?? [])
      .slice(0, 10)
      .map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`)
      .join('; ');
    throw new Error(`internal error: the compiled plan violates schemas/plan.schema.json: ${problems}`);
  }
}
