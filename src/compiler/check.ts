/**
 * Check: resolve a file with its imports, evaluate every declaration against the parameter table,
 * expand networks with shape inference, and validate experiments (data vs network, mapping
 * coverage, sweeps, physically inconsistent combinations). Produces the checked model — SI
 * values with spans — that lowering turns into a plan. This file holds the orchestration and the
 * checked model's types; each concern lives in check/: overrides (--set, sweep points), physics
 * (devices and crossbars), mapping (layers to crossbars), data (data set, network, training),
 * sweeps (axes and expansion).
 */
import { resolve as resolvePath } from 'node:path';
import type { ConfigDecl, Declaration, Expr, NetworkDecl, Span } from './ast.js';
import { missingDataFiles } from './data-files.js';
import { Diagnostics, limitPerFile, type Diagnostic } from './diagnostics.js';
import { DeclEval, Evaluator, type Override } from './evaluate.js';
import { expandNetwork, type ExpandedNetwork, type CheckedLayer } from './network.js';
import { FileSystemHost, Program, shortName, stdlibDir, type Module, type SourceHost } from './resolve.js';
import type { Value } from './values.js';
import { CheckContext, presetFailed } from './check/context.js';
import { checkLrScale, checkNetworkAgainstData, checkTrain, dataInfo } from './check/data.js';
import { checkMapping } from './check/mapping.js';
import { addOverride, parseSets } from './check/overrides.js';
import { checkAdcWidths, checkCrossbar, checkDevice } from './check/physics.js';
import { checkSweeps } from './check/sweeps.js';

export interface CheckedDecl {
  kind: 'device' | 'crossbar' | 'experiment';
  name: string;
  file: string;
  span: Span;
  values: Record<string, Value>;
  eval: DeclEval;
}

export interface CrossbarGeometry {
  rows: number;
  cols: number;
  weightSlices: number;
  inputStreams: number;
  /** The narrowest ADC that codes every partial sum of a full tile (crossbar-math.ts `losslessBits`). */
  losslessAdcBits: number;
}

export interface CheckedCrossbar extends CheckedDecl {
  device?: CheckedDecl;
  geometry: CrossbarGeometry;
}

export interface DataInfo {
  kind: string;
  shape: number[];
  classes: number;
  train: number;
  test: number;
}

export type LayerTarget = { target: 'digital' } | { target: 'crossbar'; crossbar: string };

export interface SweepAssignment {
  path: string[];
  expr: Expr;
  display: string;
  file: string;
  /** A sweep point's experiment-level paths apply to its own experiment only (--set: to all). */
  experiment?: string;
}
export interface SweepPoint {
  index: number;
  assignments: SweepAssignment[];
}
export interface CheckedSweep {
  axes: { path: string; values: string[] }[];
  points: SweepPoint[];
}

export interface CheckedExperiment extends CheckedDecl {
  data?: DataInfo;
  network?: ExpandedNetwork;
  mapping: Map<string, LayerTarget>;
  crossbars: Map<string, CheckedCrossbar>;
  sweep?: CheckedSweep;
}

export interface CheckedModel {
  root: string;
  devices: Map<string, CheckedDecl>;
  crossbars: Map<string, CheckedCrossbar>;
  networks: Map<string, ExpandedNetwork | undefined>;
  experiments: CheckedExperiment[];
}

export interface CheckResult {
  diagnostics: Diagnostic[];
  model?: CheckedModel;
  program: Program;
  module?: Module;
  evaluator?: Evaluator;
  hasErrors: boolean;
}

export interface CheckOptions {
  host?: SourceHost;
  /** Text of the root file when it differs from disk (an editor buffer). */
  text?: string;
  /** `path=value` overrides from the command line. */
  sets?: string[];
  /** A program whose modules may be reused (sweep points). */
  program?: Program;
  /** Extra overrides (a sweep point). */
  overrides?: SweepAssignment[];
  /**
   * Checking one sweep point: the base check already expanded and validated the sweeps, and
   * expanding them again for each point would make compiling N points cost N² (a 20,000-seed
   * sweep took minutes).
   */
  skipSweeps?: boolean;
}

/** Work counters, for tests that guard against accidental quadratic costs (compiling N sweep points must expand the sweep once, not N times). */
export const checkCounters = { sweepPointsExpanded: 0 };

/** Check one .xbar file (and what it imports). Never throws on any input text. */
export function check(path: string, options: CheckOptions = {}): CheckResult {
  const program = options.program ?? new Program(options.host ?? new FileSystemHost());
  const module = program.load(path, options.text);
  if (!module) {
    const diags = new Diagnostics();
    const why = program.host.whyUnreadable?.(resolvePath(path)) ?? 'missing';
    const start = { start: 0, end: 0, line: 1, col: 1, endLine: 1, endCol: 1 };
    if (why === 'missing') diags.add('import-not-found', path, start, { source: path, hint: '' });
    else diags.add('import-unreadable', path, start, { source: path, reason: `${shortName(path)} ${why}` });
    return { diagnostics: diags.items, program, hasErrors: true };
  }
  const diags = new Diagnostics();
  const overrides = new Map<Declaration, Override[]>();
  const setAssignments = parseSets(options.sets ?? [], diags);
  for (const a of [...setAssignments, ...(options.overrides ?? [])]) addOverride(module, a, overrides, diags);
  const ev = new Evaluator(program, diags, overrides);
  const checker = new Checker(ev, module, setAssignments, options.skipSweeps === true);
  const model = checker.run();
  const all = [...program.diagnostics.items, ...diags.items];
  const sorted = sortDiagnostics(all);
  return { diagnostics: sorted, model, program, module, evaluator: ev, hasErrors: sorted.some((d) => d.severity === 'error') };
}

/** De-duplicated, in file and position order, at most MAX_DIAGNOSTICS_PER_FILE per file. */
function sortDiagnostics(items: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const unique = items
    .filter((d) => {
      const key = `${d.file}|${d.span.start}|${d.code}|${d.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => (a.file === b.file ? a.span.start - b.span.start || a.code.localeCompare(b.code) : a.file.localeCompare(b.file)));
  return limitPerFile(unique);
}

// ---- the checker -------------------------------------------------------------------------------

class Checker extends CheckContext {
  run(): CheckedModel {
    const experiments: CheckedExperiment[] = [];
    for (const decl of this.module.own.values()) {
      if (decl.kind === 'device') checkDevice(this, this.module, decl);
      else if (decl.kind === 'crossbar') checkCrossbar(this, this.module, decl);
      else if (decl.kind === 'network') this.standaloneNetwork(decl);
    }
    for (const decl of this.module.own.values()) if (decl.kind === 'experiment') experiments.push(this.experiment(decl));
    this.unusedImports();
    return { root: this.module.path, devices: this.devices, crossbars: this.crossbars, networks: this.networks, experiments };
  }

  /** Networks whose parameters all have defaults and that declare an input are checked alone. */
  private standaloneNetwork(decl: NetworkDecl): void {
    const hasInput = decl.body.some((m) => m.kind === 'layer' && m.name?.text === 'input');
    if (!hasInput || decl.params.some((p) => !p.default)) return;
    const net = expandNetwork(this.ev, decl, this.module, new Map(), { file: this.module.path, span: decl.name.span }, undefined);
    this.networks.set(decl.name.text, net);
  }

  experiment(decl: ConfigDecl): CheckedExperiment {
    const de = this.ev.declEval(this.module, decl);
    const values = de.all();
    const file = this.module.path;
    if (!values['output']) values['output'] = { k: 'str', v: `results/${decl.name.text}`, file, span: decl.name.span, isDefault: true };
    const result: CheckedExperiment = {
      kind: 'experiment',
      name: decl.name.text,
      file,
      span: decl.name.span,
      values,
      eval: de,
      mapping: new Map(),
      crossbars: new Map(),
    };
    const data = dataInfo(values['data']);
    if (data) result.data = data;
    const dv = values['data'];
    if (dv?.k === 'call' && dv.name === 'mnist' && data && data.train + data.test > 10000) {
      this.diags.add('out-of-range', dv.file, dv.span, {
        name: 'mnist train + test',
        value: data.train + data.test,
        range: '≤ 10000 (the embedded MNIST set has 10,000 images)',
      });
    }

    const model = values['model'];
    if (!model && !de.isWritten('model') && !presetFailed(decl, de)) {
      this.diags.add('missing-field', file, decl.name.span, {
        owner: `experiment ${decl.name.text}`,
        name: 'model',
        doc: 'the network to run, e.g. model = LeNet5(classes = 10)',
      });
    }
    if (model?.k === 'model') {
      const found = this.ev.lookupDecl(this.module, model.network);
      if (found?.decl.kind === 'network') {
        const before = this.diags.items.length;
        const net = expandNetwork(this.ev, found.decl, found.module, new Map(Object.entries(model.args)), { file: model.file, span: model.span }, data?.shape);
        this.relocateStdlibDiagnostics(before, model);
        if (net) {
          result.network = net;
          checkNetworkAgainstData(this, net, data, model);
        }
      }
    }
    for (const m of missingDataFiles(values['data'])) this.diags.add('data-file-missing', m.file, m.span, { what: m.what, path: m.path });
    checkMapping(this, de, result);
    checkAdcWidths(this, result);
    checkTrain(this, values, data, de);
    checkLrScale(this, values, result.network);
    if (!this.skipSweeps) checkSweeps(this, de, result);
    return result;
  }

  /**
   * Problems found inside a standard-library network come from the arguments the user passed
   * (`MLP(classes = 0)`): report them at the user's `model = …`, saying where in the stdlib.
   */
  private relocateStdlibDiagnostics(from: number, model: Value): void {
    if (model.file.startsWith(stdlibDir)) return;
    for (const d of this.diags.items.slice(from)) {
      if (d.file.startsWith(stdlibDir)) this.diags.relocate(d, model.file, model.span, ` (in ${shortName(d.file)}.xbar line ${d.span.line})`);
    }
  }

  private unusedImports(): void {
    for (const entry of this.module.scope.values()) {
      if (entry.via && !entry.via.used && entry.via.importDecl.names !== null) {
        this.diags.add('unused-import', this.module.path, entry.via.nameSpan, { name: entry.decl.name.text });
      }
    }
  }
}

export type { CheckedLayer };
