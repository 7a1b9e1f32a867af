/**
 * What every concern of the checker shares while one file is checked: the evaluator (and through
 * it the diagnostics), the root module, the checked devices, crossbars and networks (each checked
 * once, however many experiments use it), and where a diagnostic about a field belongs.
 */
import type { ConfigDecl, Span } from '../ast.js';
import type { Diagnostics } from '../diagnostics.js';
import type { DeclEval, Evaluator } from '../evaluate.js';
import type { ExpandedNetwork } from '../network.js';
import type { Module } from '../resolve.js';
import type { CheckedCrossbar, CheckedDecl, CheckedExperiment, SweepAssignment } from '../check.js';

export class CheckContext {
  /** Checked devices and crossbars by module path # name. */
  readonly devices = new Map<string, CheckedDecl>();
  readonly crossbars = new Map<string, CheckedCrossbar>();
  readonly networks = new Map<string, ExpandedNetwork | undefined>();
  /** Crossbars already warned about by adc-above-lossless (module path # name). */
  readonly adcWarned = new Set<string>();

  /**
   * `sets`: the command line's --set assignments (a --set of a swept path is an error);
   * `skipSweeps`: checking one sweep point, whose sweep the base check already expanded.
   */
  constructor(
    readonly ev: Evaluator,
    readonly module: Module,
    readonly sets: SweepAssignment[] = [],
    readonly skipSweeps = false,
  ) {}

  get diags(): Diagnostics {
    return this.ev.diags;
  }

  fieldSpan(de: DeclEval, field: string): { file: string; span: Span } {
    const w = de.written(field);
    // Point at the user's declaration when the value came from a preset in another file.
    if (w && w.file === de.module.path) return w;
    return { file: de.module.path, span: de.decl.name.span };
  }
}

/** The experiment's fidelity (its default, fast, when it failed to evaluate). */
export function fidelityOf(exp: CheckedExperiment): string {
  const f = exp.values['fidelity'];
  return f?.k === 'enum' ? f.v : 'fast';
}

/** A preset was named but could not be used (already reported): its fields are unknown, not missing. */
export function presetFailed(decl: ConfigDecl, de: DeclEval): boolean {
  return (decl.preset?.length ?? 0) > 0 && de.presetChain.length === 0;
}
