/**
 * Check: resolve a file with its imports, evaluate every declaration against the parameter table,
 * expand networks with shape inference, and validate experiments (data vs network, mapping
 * coverage, sweeps, physically inconsistent combinations). Produces the checked model — SI
 * values with spans — that lowering turns into a plan.
 */
import { resolve as resolvePath } from 'node:path';
import type { ConfigDecl, Declaration, Expr, NetworkDecl, Span, SweepAxis } from './ast.js';
import { pathText } from './ast.js';
import { missingDataFiles } from './data-files.js';
import { Diagnostics, closest, didYouMean, limitPerFile, type Diagnostic } from './diagnostics.js';
import { DeclEval, Evaluator, type EvalContext, type Override } from './evaluate.js';
import { expandNetwork, showShape, sameShape, type ExpandedNetwork, type CheckedLayer } from './network.js';
import { parseExpressionText } from './parse.js';
import { FileSystemHost, Program, shortName, stdlibDir, type Module, type SourceHost } from './resolve.js';
import { declSchemas, familyConstructors, familyNames, findConstructor, type ObjectSchema, type ParamType } from './schema.js';
import { Dim, formatQuantity, trimNumber } from './units.js';
import { numOf, showValue, type Value } from './values.js';
import { inputEncoding, largestPartialSum, losslessBits, weightSlices } from '../model/crossbar-math.js';

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

export interface DataInfo { kind: string; shape: number[]; classes: number; train: number; test: number }

export type LayerTarget = { target: 'digital' } | { target: 'crossbar'; crossbar: string };

export interface SweepAssignment {
  path: string[];
  expr: Expr;
  display: string;
  file: string;
  /** A sweep point's experiment-level paths apply to its own experiment only (--set: to all). */
  experiment?: string;
}
export interface SweepPoint { index: number; assignments: SweepAssignment[] }
export interface CheckedSweep { axes: { path: string; values: string[] }[]; points: SweepPoint[] }

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
}

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
  const checker = new Checker(ev, module);
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

// ---- overrides (--set and sweep points) ---------------------------------------------------------

const SET_FILE = '<--set>';

function parseSets(sets: string[], diags: Diagnostics): SweepAssignment[] {
  const out: SweepAssignment[] = [];
  for (const text of sets) {
    const eq = text.indexOf('=');
    const path = eq > 0 ? text.slice(0, eq).trim() : '';
    if (!path || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(path)) {
      diags.add('set-invalid', SET_FILE, lineSpan(text), { text, detail: 'expected path=value, e.g. --set xb64.adc.bits=6' });
      continue;
    }
    const valueText = text.slice(eq + 1);
    const local = new Diagnostics();
    const expr = parseExpressionText(`${SET_FILE} ${path}`, valueText, local);
    if (!expr) {
      diags.add('set-invalid', SET_FILE, lineSpan(text), { text, detail: local.items[0]?.message ?? 'cannot parse the value' });
      continue;
    }
    out.push({ path: path.split('.'), expr, display: valueText.trim(), file: `${SET_FILE} ${path}` });
  }
  return out;
}

function lineSpan(text: string): Span {
  return { start: 0, end: text.length, line: 1, col: 1, endLine: 1, endCol: text.length + 1 };
}

/** Route `path = value` to the declaration it changes: an experiment field or a device/crossbar. */
function addOverride(module: Module, a: SweepAssignment, overrides: Map<Declaration, Override[]>, diags: Diagnostics): void {
  const fromSet = a.file.startsWith(SET_FILE);
  let target = overrideTarget(module, a.path);
  // A --set path is checked down to its last segment here (sweep axes are checked with their experiment).
  if (fromSet && typeof target !== 'string') target = schemaPathProblem(declSchemas[target.decls[0]?.kind ?? 'experiment'], target.rest) ?? target;
  if (typeof target === 'string') {
    diags.add('sweep-unknown-path', fromSet ? SET_FILE : a.file, fromSet ? lineSpan(a.path.join('.')) : a.expr.span, { source: fromSet ? '--set' : 'sweep', path: a.path.join('.'), detail: target });
    return;
  }
  const decls = a.experiment !== undefined ? target.decls.filter((d) => d.kind !== 'experiment' || d.name.text === a.experiment) : target.decls;
  for (const decl of decls) {
    const list = overrides.get(decl) ?? [];
    list.push({ path: target.rest, expr: a.expr, file: a.file });
    overrides.set(decl, list);
  }
}

/** Why a path below a schema names no parameter (variant arguments: any constructor of the family may take it). */
function schemaPathProblem(schema: ObjectSchema, path: string[]): string | undefined {
  let current = schema;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const p = current.params.find((x) => x.name === seg);
    if (!p) return `${current.name} has no parameter ${seg}${didYouMean(closest(seg, current.params.map((x) => x.name)))}`;
    if (i === path.length - 1) return undefined;
    if (p.type.t === 'object') {
      current = p.type.schema;
      continue;
    }
    if (p.type.t === 'variant') {
      const arg = path[i + 1]!;
      const names = [...new Set(familyConstructors(p.type.family).flatMap((c) => c.params.map((x) => x.name)))];
      if (!names.includes(arg)) return `no ${familyNames[p.type.family]} takes an argument ${arg}${didYouMean(closest(arg, names))}`;
      return i + 1 === path.length - 1 ? undefined : `${arg} has no fields`;
    }
    return `${seg} has no fields`;
  }
  return undefined;
}

/** The declarations a path starts in, or a reason it names nothing. */
function overrideTarget(module: Module, path: string[]): { decls: ConfigDecl[]; rest: string[] } | string {
  const head = path[0]!;
  const experiments = [...module.own.values()].filter((d): d is ConfigDecl => d.kind === 'experiment');
  if (declSchemas.experiment.params.some((p) => p.name === head)) return { decls: experiments, rest: path };
  const entry = module.scope.get(head);
  if (!entry) {
    const candidates = [...module.scope.keys(), ...declSchemas.experiment.params.map((p) => p.name)];
    return `no declaration or experiment field named ${head}${didYouMean(closest(head, candidates))}`;
  }
  if (entry.decl.kind === 'network') return `${head} is a network; sweep its arguments through model = ${head}(…)`;
  if (path.length < 2) return `name a field of ${entry.decl.kind} ${head}, e.g. ${head}.${declSchemas[entry.decl.kind].params[0]!.name}`;
  return { decls: [entry.decl], rest: path.slice(1) };
}

// ---- the checker -------------------------------------------------------------------------------

class Checker {
  private devices = new Map<string, CheckedDecl>();
  private crossbars = new Map<string, CheckedCrossbar>();
  private networks = new Map<string, ExpandedNetwork | undefined>();
  /** Crossbars already warned about by adc-above-lossless (module path # name). */
  private adcWarned = new Set<string>();

  constructor(readonly ev: Evaluator, readonly module: Module) {}

  get diags(): Diagnostics {
    return this.ev.diags;
  }

  run(): CheckedModel {
    const experiments: CheckedExperiment[] = [];
    for (const decl of this.module.own.values()) {
      if (decl.kind === 'device') this.device(this.module, decl);
      else if (decl.kind === 'crossbar') this.crossbar(this.module, decl);
      else if (decl.kind === 'network') this.standaloneNetwork(decl);
    }
    for (const decl of this.module.own.values()) if (decl.kind === 'experiment') experiments.push(this.experiment(decl));
    this.unusedImports();
    return { root: this.module.path, devices: this.devices, crossbars: this.crossbars, networks: this.networks, experiments };
  }

  private fieldSpan(de: DeclEval, field: string): { file: string; span: Span } {
    const w = de.written(field);
    // Point at the user's declaration when the value came from a preset in another file.
    if (w && w.file === de.module.path) return w;
    return { file: de.module.path, span: de.decl.name.span };
  }

  device(module: Module, decl: ConfigDecl): CheckedDecl {
    const key = `${module.path}#${decl.name.text}`;
    const hit = this.devices.get(key);
    if (hit) return hit;
    const de = this.ev.declEval(module, decl);
    const values = de.all();
    const rOn = numOf(values['r_on']);
    let roffWritten = de.isWritten('r_off');
    let onOffWritten = de.isWritten('on_off');
    // r_off or on_off written here wins over the other one inherited from a preset.
    if (roffWritten && onOffWritten && de.isWrittenHere('r_off') !== de.isWrittenHere('on_off')) {
      if (de.isWrittenHere('r_off')) onOffWritten = false;
      else roffWritten = false;
    }
    if (roffWritten && values['r_off'] && !onOffWritten) {
      values['on_off'] = { ...values['r_off'], k: 'num', v: numOf(values['r_off']) / rOn, dim: Dim.none, isDefault: true };
    }
    const onOff = numOf(values['on_off']);
    if (values['on_off'] && !(onOff > 1)) {
      const derived = roffWritten && !onOffWritten && values['r_off'] && values['r_on'];
      const at = this.fieldSpan(de, derived ? 'r_off' : 'on_off');
      this.diags.add('on-off-ratio', at.file, at.span, { value: derived ? `r_off / r_on = ${showValue(values['r_off']!)} / ${showValue(values['r_on']!)} = ${trimNumber(onOff)}` : trimNumber(onOff) });
    }
    if (roffWritten && onOffWritten && values['r_off'] && values['on_off']) {
      const product = rOn * onOff;
      const rOff = numOf(values['r_off']);
      if (Math.abs(product - rOff) > 1e-9 * Math.max(product, rOff)) {
        const at = this.fieldSpan(de, 'r_off');
        const roffValue = values['r_off'];
        this.diags.add('inconsistent-resistance', at.file, at.span, { roff: showValue(roffValue), product: formatQuantity(product, Dim.resistance) });
      }
    }
    if ((!values['r_off'] || !roffWritten) && values['r_on'] && values['on_off']) {
      values['r_off'] = { k: 'num', v: rOn * onOff, dim: Dim.resistance, file: module.path, span: decl.name.span, isDefault: true };
    }
    const sa = numOf(values['p_sa0']) + numOf(values['p_sa1']);
    if (sa > 1) {
      const at = this.fieldSpan(de, 'p_sa1');
      this.diags.add('out-of-range', at.file, at.span, { name: 'p_sa0 + p_sa1', value: `${trimNumber(sa * 100)} %`, range: '≤ 100 %' });
    }
    const checked: CheckedDecl = { kind: 'device', name: decl.name.text, file: module.path, span: decl.name.span, values, eval: de };
    this.devices.set(key, checked);
    return checked;
  }

  crossbar(module: Module, decl: ConfigDecl): CheckedCrossbar {
    const key = `${module.path}#${decl.name.text}`;
    const hit = this.crossbars.get(key);
    if (hit) return hit;
    const de = this.ev.declEval(module, decl);
    const values = de.all();
    let device: CheckedDecl | undefined;
    const devRef = values['device'];
    if (devRef?.k === 'decl') {
      const found = this.ev.lookupDecl(de.module, devRef.name) ?? this.findDeclFromPreset(de, devRef.name);
      if (found && found.decl.kind === 'device') device = this.device(found.module, found.decl);
    } else if (!devRef && !de.isWritten('device') && !presetFailed(decl, de)) {
      this.diags.add('missing-field', module.path, decl.name.span, { owner: `crossbar ${decl.name.text}`, name: 'device', doc: 'the device in every cell, e.g. device = rram' });
    }
    // Every field has a value here unless it failed to evaluate (already reported): NaN then skips the checks below.
    const size = values['size'];
    const rows = size?.k === 'shape' ? size.dims[0]! : NaN;
    const cols = size?.k === 'shape' ? size.dims[1]! : NaN;
    const weightBits = numOf(values['weight_bits']);
    const cellBits = numOf(values['cell_bits']);
    const inputBits = numOf(values['input_bits']);
    const dacBits = numOf(values['dac_bits']);
    if (weightBits % cellBits !== 0 && Number.isFinite(weightBits) && Number.isFinite(cellBits)) {
      const at = this.fieldSpan(de, de.isWritten('cell_bits') ? 'cell_bits' : 'weight_bits');
      this.diags.add('slicing-mismatch', at.file, at.span, { cell: cellBits, weight: weightBits });
    }
    if (inputBits % dacBits !== 0 && Number.isFinite(inputBits) && Number.isFinite(dacBits)) {
      const at = this.fieldSpan(de, de.isWritten('dac_bits') ? 'dac_bits' : 'input_bits');
      this.diags.add('stream-mismatch', at.file, at.span, { dac: dacBits, input: inputBits });
    }
    const backward = values['backward'];
    if (backward?.k === 'object') {
      const bIn = numOf(backward.fields['input_bits']);
      const bDac = numOf(backward.fields['dac_bits']);
      if (bIn % bDac !== 0 && Number.isFinite(bIn) && Number.isFinite(bDac)) {
        const at = this.fieldSpan(de, 'backward');
        this.diags.add('stream-mismatch', at.file, at.span, { dac: bDac, input: bIn });
      }
    }
    const lossless = losslessBits(rows, dacBits, cellBits);
    const parasitics = values['parasitics'];
    const wires = values['wires'];
    if (parasitics?.k === 'call' && parasitics.name !== 'none' && wires?.k === 'object') {
      if (numOf(wires.fields['row']) === 0 && numOf(wires.fields['col']) === 0) {
        const at = this.fieldSpan(de, 'parasitics');
        this.diags.add('parasitics-without-wires', at.file, at.span, { model: parasitics.name });
      }
    }
    if (device && device.values['levels']) {
      const levels = numOf(device.values['levels']);
      const needed = 2 ** cellBits;
      if (needed > levels) {
        const at = this.fieldSpan(de, de.isWritten('cell_bits') ? 'cell_bits' : 'device');
        this.diags.add('cell-levels', at.file, at.span, { cell: cellBits, needed, device: device.name, levels });
      }
    }
    if (values['mapping']?.k === 'enum' && values['mapping'].v === 'offset' && weightBits < 2) {
      const at = this.fieldSpan(de, de.isWritten('weight_bits') ? 'weight_bits' : 'mapping');
      this.diags.add('offset-weight-bits', at.file, at.span, { bits: weightBits });
    }
    const geometry: CrossbarGeometry = { rows, cols, weightSlices: weightSlices({ weightBits, cellBits }), inputStreams: inputEncoding(inputBits, dacBits, false).streams, losslessAdcBits: lossless };
    const checked: CheckedCrossbar = { kind: 'crossbar', name: decl.name.text, file: module.path, span: decl.name.span, values, eval: de, ...(device ? { device } : {}), geometry };
    this.crossbars.set(key, checked);
    return checked;
  }

  /** A device named inside a preset lives in the preset's module. */
  private findDeclFromPreset(de: DeclEval, name: string): { decl: Declaration; module: Module } | undefined {
    for (const m of this.ev.program.modules.values()) {
      const d = m.own.get(name);
      if (d && m !== de.module) return { decl: d, module: m };
    }
    return undefined;
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
    const result: CheckedExperiment = { kind: 'experiment', name: decl.name.text, file, span: decl.name.span, values, eval: de, mapping: new Map(), crossbars: new Map() };
    const data = dataInfo(values['data']);
    if (data) result.data = data;
    const dv = values['data'];
    if (dv?.k === 'call' && dv.name === 'mnist' && data && data.train + data.test > 10000) {
      this.diags.add('out-of-range', dv.file, dv.span, { name: 'mnist train + test', value: data.train + data.test, range: '≤ 10000 (the embedded MNIST set has 10,000 images)' });
    }

    const model = values['model'];
    if (!model && !de.isWritten('model') && !presetFailed(decl, de)) {
      this.diags.add('missing-field', file, decl.name.span, { owner: `experiment ${decl.name.text}`, name: 'model', doc: 'the network to run, e.g. model = LeNet5(classes = 10)' });
    }
    if (model?.k === 'model') {
      const found = this.ev.lookupDecl(this.module, model.network);
      if (found?.decl.kind === 'network') {
        const before = this.diags.items.length;
        const net = expandNetwork(this.ev, found.decl, found.module, new Map(Object.entries(model.args)), { file: model.file, span: model.span }, data?.shape);
        this.relocateStdlibDiagnostics(before, model);
        if (net) {
          result.network = net;
          this.checkNetworkAgainstData(net, data, model, decl);
        }
      }
    }
    for (const m of missingDataFiles(values['data'])) this.diags.add('data-file-missing', m.file, m.span, { what: m.what, path: m.path });
    this.checkMapping(de, result);
    this.checkAdcWidths(result);
    this.checkOffsetUpdates(result);
    this.checkTrain(values, data, de);
    this.checkSweeps(de, result);
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

  private checkNetworkAgainstData(net: ExpandedNetwork, data: DataInfo | undefined, model: Value, decl: ConfigDecl): void {
    if (!data) return;
    if (net.declaredInput && !sameShape(net.declaredInput.shape, data.shape)) {
      this.diags.add('input-mismatch', model.file, model.span, { data: data.kind, dataShape: showShape(data.shape), network: net.name, netShape: showShape(net.declaredInput.shape) });
      return;
    }
    const last = net.layers[net.layers.length - 1];
    if (net.complete && last) {
      const out = last.outputShape;
      if (out.length !== 1 || out[0] !== data.classes) {
        this.diags.add('classes-mismatch', model.file, model.span, { network: net.name, outputs: out.length === 1 ? String(out[0]) : showShape(out), data: data.kind, classes: data.classes });
      }
    }
    void decl;
  }

  /**
   * An ADC wider than the lossless width adds no accuracy only where each tile's partial sums have
   * their own ADC: at fidelity exact. At fast the ADC converts layer-level values, where every bit
   * counts, and at ideal there is no ADC; so the crossbar is judged by the exact experiments that
   * map layers to it, once per crossbar. A fixed range is left alone: its step shrinks with more
   * bits until it reaches one level, so bits above the lossless width can still help.
   */
  private checkAdcWidths(result: CheckedExperiment): void {
    if (fidelityOf(result) !== 'exact') return;
    for (const target of new Set([...result.mapping.values()].flatMap((t) => (t.target === 'crossbar' ? [t.crossbar] : [])))) {
      const xb = result.crossbars.get(target);
      const adc = xb?.values['adc'];
      if (!xb || adc?.k !== 'object') continue;
      const key = `${xb.file}#${xb.name}`;
      const range = adc.fields['range'];
      const bits = numOf(adc.fields['bits']);
      const { rows, losslessAdcBits: lossless } = xb.geometry;
      // Only an ADC someone chose (here or in a preset) is worth a warning, not the default width.
      if (this.adcWarned.has(key) || !(bits > lossless) || !xb.eval.isWritten('adc') || (range?.k === 'call' && range.name === 'fixed')) continue;
      this.adcWarned.add(key);
      const largest = largestPartialSum(rows, numOf(xb.values['dac_bits']), numOf(xb.values['cell_bits']));
      const at = this.fieldSpan(xb.eval, 'adc');
      this.diags.add('adc-above-lossless', at.file, at.span, { bits, lossless, rows, largest, experiment: result.name, crossbar: target });
    }
  }

  /** Device update models run on differential pairs: say so where a trained crossbar is offset-mapped. */
  private checkOffsetUpdates(result: CheckedExperiment): void {
    const fidelity = fidelityOf(result);
    const train = result.values['train'];
    if (fidelity === 'ideal' || train?.k !== 'object') return;
    const nonideal = train.fields['nonideal'];
    if (nonideal?.k === 'list' && !nonideal.items.some((i) => i.k === 'enum' && i.v === 'update')) return;
    for (const [name, xb] of result.crossbars) {
      const update = xb.device?.values['update'];
      const offset = xb.values['mapping']?.k === 'enum' && xb.values['mapping'].v === 'offset';
      if (!offset || update?.k !== 'call' || update.name === 'ideal') continue;
      const at = this.fieldSpan(xb.eval, 'mapping');
      this.diags.add('offset-device-update', at.file, at.span, { crossbar: name, experiment: result.name, model: update.name });
    }
  }

  private checkTrain(values: Record<string, Value>, data: DataInfo | undefined, de: DeclEval): void {
    const train = values['train'];
    if (train?.k !== 'object' || !data) return;
    const batch = numOf(train.fields['batch'], 0);
    if (batch > data.train) {
      const at = this.fieldSpan(de, 'train');
      this.diags.add('batch-too-large', at.file, at.span, { batch, count: data.train });
    }
  }

  // ---- mapping ----------------------------------------------------------------------------------

  private checkMapping(de: DeclEval, result: CheckedExperiment): void {
    const fidelity = fidelityOf(result);
    const maps = de.statements.filter((s) => s.kind === 'map');
    const weighted = (result.network?.layers ?? []).filter((l) => l.weighted);
    if (maps.length === 0) {
      for (const l of weighted) result.mapping.set(l.name, { target: 'digital' });
      if (fidelity !== 'ideal') this.diags.add('missing-map', result.file, result.span, { fidelity, experiment: result.name });
      return;
    }
    // A rule whose target is wrong (reported) still claims its layers, so they are not also unmapped.
    interface Rule { pattern: string; regex: RegExp; specificity: number; target?: LayerTarget; targetText: string; span: Span; used: boolean; matched: boolean }
    const rules: Rule[] = [];
    for (const m of maps) {
      if (m.kind !== 'map') continue;
      for (const entry of m.entries) {
        const target = this.mapTarget(entry.target, result);
        rules.push({ pattern: entry.pattern.text, regex: globToRegex(entry.pattern.text), specificity: specificity(entry.pattern.text), ...(target ? { target } : {}), targetText: entry.target.text, span: entry.pattern.span, used: false, matched: false });
      }
    }
    if (!result.network?.complete) return;
    // After a syntax error the map may be cut short: coverage errors would only repeat it.
    const syntaxBroken = this.ev.program.diagnostics.items.some((d) => d.file === this.module.path && (d.code === 'syntax-error' || d.code === 'unexpected-character'));
    for (const layer of weighted) {
      const matching = rules.filter((r) => r.regex.test(layer.name));
      for (const r of matching) r.matched = true;
      if (matching.length === 0) {
        if (!syntaxBroken) this.diags.add('unmapped-layer', result.file, maps[0]!.span, { layer: layer.name });
        continue;
      }
      const best = Math.max(...matching.map((r) => r.specificity));
      const top = matching.filter((r) => r.specificity === best);
      if (top.length > 1) {
        const show = (r: Rule) => `${r.pattern} -> ${r.targetText}`;
        this.diags.add('duplicate-mapping', result.file, top[1]!.span, { layer: layer.name, first: show(top[0]!), second: show(top[1]!) });
      }
      for (const r of top) r.used = true;
      const target = top[0]!.target;
      if (target) result.mapping.set(layer.name, target);
    }
    const layerNames = weighted.map((l) => l.name);
    for (const r of rules) {
      if (!r.matched) {
        const suggestion = closest(r.pattern, layerNames);
        this.diags.add('unknown-layer', result.file, r.span, { network: result.network.name, pattern: r.pattern, suggestion: suggestion ? didYouMean(suggestion) : `; weighted layers are ${layerNames.slice(0, 8).join(', ')}${layerNames.length > 8 ? ', …' : ''}` },
          suggestion ? { title: `Change to ${suggestion}`, span: r.span, newText: suggestion } : undefined);
      } else if (!r.used) {
        this.diags.add('unused-mapping', result.file, r.span, { pattern: r.pattern });
      }
    }
  }

  private mapTarget(target: { text: string; span: Span }, result: CheckedExperiment): LayerTarget | undefined {
    if (target.text === 'digital') return { target: 'digital' };
    const found = this.ev.lookupDecl(this.module, target.text);
    if (!found) {
      if (this.module.unresolved.has(target.text)) return undefined;
      const candidates = ['digital', ...[...this.module.scope.entries()].filter(([, e]) => e.decl.kind === 'crossbar').map(([n]) => n)];
      const suggestion = closest(target.text, candidates);
      this.diags.add('unknown-name', result.file, target.span, { name: target.text, suggestion: suggestion ? didYouMean(suggestion) : '; map targets are a crossbar or digital' },
        suggestion ? { title: `Change to ${suggestion}`, span: target.span, newText: suggestion } : undefined);
      return undefined;
    }
    if (found.decl.kind !== 'crossbar') {
      this.diags.add('wrong-kind', result.file, target.span, { name: target.text, actual: found.decl.kind, expected: 'crossbar (or digital)' });
      return undefined;
    }
    const xb = this.crossbar(found.module, found.decl);
    result.crossbars.set(target.text, xb);
    return { target: 'crossbar', crossbar: target.text };
  }

  // ---- sweeps -----------------------------------------------------------------------------------

  private checkSweeps(de: DeclEval, result: CheckedExperiment): void {
    const sweeps = de.statements.filter((s) => s.kind === 'sweep');
    if (sweeps.length === 0) return;
    const factors: SweepAssignment[][][] = [];
    const axesOut: CheckedSweep['axes'] = [];
    let ok = true;
    for (const s of sweeps) {
      if (s.kind !== 'sweep') continue;
      for (const f of s.factors) {
        const perAxis: SweepAssignment[][] = [];
        for (const axis of f.axes) {
          const values = this.sweepAxis(axis, de, result);
          if (!values) {
            ok = false;
            continue;
          }
          axesOut.push({ path: pathText(axis.path), values: values.map((v) => v.display) });
          perAxis.push(values);
        }
        if (f.zip) {
          const lengths = perAxis.map((a) => a.length);
          if (new Set(lengths).size > 1) {
            this.diags.add('sweep-length-mismatch', result.file, f.span, { lengths: f.axes.map((a, i) => `${pathText(a.path)}: ${lengths[i] ?? '?'}`).join(', ') });
            ok = false;
            continue;
          }
          const n = lengths[0] ?? 0;
          // One choice per position: the i-th value of every zipped axis together.
          factors.push(Array.from({ length: n }, (_, i) => perAxis.map((a) => a[i]!)));
        } else {
          for (const a of perAxis) factors.push(a.map((v) => [v]));
        }
      }
    }
    if (!ok) return;
    // The cartesian product is materialized: refuse sizes that would exhaust memory.
    const total = factors.reduce((n, f) => n * f.length, 1);
    if (total > MAX_SWEEP_POINTS) {
      this.diags.add('sweep-too-large', result.file, sweeps[0]!.span, { count: Number.isSafeInteger(total) ? String(total) : total.toExponential(1), max: MAX_SWEEP_POINTS });
      return;
    }
    const points: SweepPoint[] = [];
    const walk = (i: number, acc: SweepAssignment[]) => {
      if (i === factors.length) {
        points.push({ index: points.length, assignments: acc });
        return;
      }
      for (const choice of factors[i]!) walk(i + 1, [...acc, ...choice]);
    };
    walk(0, []);
    result.sweep = { axes: axesOut, points };
  }

  /** Validate one axis: the path exists, and every value fits its parameter. */
  private sweepAxis(axis: SweepAxis, de: DeclEval, result: CheckedExperiment): SweepAssignment[] | undefined {
    const path = axis.path.map((n) => n.text);
    const where = pathText(axis.path);
    const target = overrideTarget(this.module, path);
    if (typeof target === 'string') {
      this.diags.add('sweep-unknown-path', result.file, spanOfPath(axis), { source: 'sweep', path: where, detail: target });
      return undefined;
    }
    // Experiment-level paths sweep this experiment, not every experiment of the file.
    const decl = target.decls.find((d) => d === de.decl) ?? target.decls[0]!;
    const found = decl === de.decl ? { module: this.module } : this.ev.lookupDecl(this.module, path[0]!);
    const owner = decl === de.decl ? de : this.ev.declEval(found!.module, decl);
    const type = paramTypeAt(declSchemas[decl.kind], target.rest, owner);
    if (typeof type === 'string') {
      this.diags.add('sweep-unknown-path', result.file, spanOfPath(axis), { source: 'sweep', path: where, detail: type });
      return undefined;
    }
    const ctx: EvalContext = { module: this.module, file: result.file };
    const items = this.axisItems(axis, ctx, where);
    if (!items) return undefined;
    if (items.length === 0) {
      this.diags.add('sweep-empty', result.file, axis.values.span, { path: where });
      return undefined;
    }
    let ok = true;
    for (const item of items) {
      const before = this.diags.items.length;
      const v = this.ev.evalTyped(item, type, ctx, where);
      if (!v) {
        ok = false;
        // Re-label generic errors as sweep errors so the cause is clear.
        if (this.diags.items.length === before) this.diags.add('sweep-type-mismatch', result.file, item.span, { path: where, detail: 'value does not fit the parameter' });
      }
    }
    if (!ok) return undefined;
    return items.map((expr) => ({ path, expr, display: exprDisplay(expr, result.eval.module.parsed.text), file: result.file, experiment: result.name }));
  }

  private axisItems(axis: SweepAxis, ctx: EvalContext, where: string): Expr[] | undefined {
    const e = axis.values;
    if (e.kind === 'list') return e.items;
    if (e.kind === 'range') {
      const from = this.ev.evalQuantity(e.from, ctx);
      const to = this.ev.evalQuantity(e.to, ctx);
      const by = e.by ? this.ev.evalQuantity(e.by, ctx) : { v: 1, dim: from?.dim ?? Dim.none, hasUnit: false };
      if (!from || !to || !by) return undefined;
      if (!(by.v > 0)) {
        this.diags.add('sweep-type-mismatch', ctx.file, e.by?.span ?? e.span, { path: where, detail: 'the step after `by` must be positive' });
        return undefined;
      }
      const count = Math.floor((to.v - from.v) / by.v + 1e-9) + 1;
      if (count > 100000) {
        this.diags.add('sweep-type-mismatch', ctx.file, e.span, { path: where, detail: `the range has ${count} values; at most 100,000` });
        return undefined;
      }
      const out: Expr[] = [];
      for (let i = 0; i < count; i++) {
        const v = from.v + i * by.v;
        const value: Value = { k: 'num', v, dim: from.dim, ...(from.unit ? { unit: from.unit } : {}), file: ctx.file, span: e.span };
        out.push({ kind: 'const', value, display: showValue(value), span: e.span });
      }
      return out;
    }
    if (e.kind === 'error') return undefined;
    this.diags.add('sweep-type-mismatch', ctx.file, e.span, { path: where, detail: 'sweep values are a list [a, b, …] or a range a .. b (by step)' });
    return undefined;
  }

  private unusedImports(): void {
    for (const entry of this.module.scope.values()) {
      if (entry.via && !entry.via.used && entry.via.importDecl.names !== null) {
        this.diags.add('unused-import', this.module.path, entry.via.nameSpan, { name: entry.decl.name.text });
      }
    }
  }
}

/** The experiment's fidelity (its default, fast, when it failed to evaluate). */
function fidelityOf(exp: CheckedExperiment): string {
  const f = exp.values['fidelity'];
  return f?.k === 'enum' ? f.v : 'fast';
}

/** A preset was named but could not be used (already reported): its fields are unknown, not missing. */
function presetFailed(decl: ConfigDecl, de: DeclEval): boolean {
  return (decl.preset?.length ?? 0) > 0 && de.presetChain.length === 0;
}

function spanOfPath(axis: SweepAxis): Span {
  const first = axis.path[0]!.span;
  const last = axis.path[axis.path.length - 1]!.span;
  return { start: first.start, line: first.line, col: first.col, end: last.end, endLine: last.endLine, endCol: last.endCol };
}

function exprDisplay(expr: Expr, text: string): string {
  if (expr.kind === 'const') return expr.display;
  return text.slice(expr.span.start, expr.span.end).trim() || '?';
}

/** The parameter type at a path below a schema; variant arguments follow the current constructor. */
function paramTypeAt(schema: ObjectSchema, path: string[], owner: DeclEval): ParamType | string {
  let current: ObjectSchema = schema;
  let value: Value | undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const p = current.params.find((x) => x.name === seg);
    if (!p) return `${current.name} has no parameter ${seg}${didYouMean(closest(seg, current.params.map((x) => x.name)))}`;
    value = i === 0 ? owner.get(seg) : value?.k === 'object' ? value.fields[seg] : undefined;
    if (i === path.length - 1) return p.type;
    if (p.type.t === 'object') {
      current = p.type.schema;
      continue;
    }
    if (p.type.t === 'variant') {
      const ctorName = value?.k === 'call' ? value.name : p.default.kind === 'call' ? p.default.name : undefined;
      const ctor = ctorName ? findConstructor(p.type.family, ctorName) : undefined;
      if (!ctor) return `${seg} has no value to take arguments from`;
      const arg = path[i + 1]!;
      const ap = ctor.params.find((x) => x.name === arg);
      if (!ap) return `${ctor.name}(…) has no argument ${arg}${didYouMean(closest(arg, ctor.params.map((x) => x.name)))}`;
      if (i + 1 !== path.length - 1) return `${arg} has no fields`;
      return ap.type;
    }
    return `${seg} has no fields`;
  }
  return 'empty path';
}

function dataInfo(v: Value | undefined): DataInfo | undefined {
  if (v?.k !== 'call') return undefined;
  const n = (k: string) => numOf(v.args[k], 0);
  switch (v.name) {
    case 'mnist': return { kind: 'mnist', shape: [1, n('crop') || 28, n('crop') || 28], classes: 10, train: n('train'), test: n('test') };
    case 'idx': return { kind: 'idx', shape: [1, n('crop') || 28, n('crop') || 28], classes: 10, train: n('train') || 60000, test: n('test') || 10000 };
    case 'cifar10': return { kind: 'cifar10', shape: [3, 32, 32], classes: 10, train: n('train') || 50000, test: n('test') || 10000 };
    default: return undefined;
  }
}

export type { CheckedLayer };

/** The most points one experiment's sweep may expand to. */
const MAX_SWEEP_POINTS = 100000;

/** `*` matches any run of characters (dots included), `?` one character; anchored. */
export function globToRegex(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Exact names beat globs; among globs, more literal characters win. */
export function specificity(pattern: string): number {
  if (!/[*?]/.test(pattern)) return 1e6 + pattern.length;
  return pattern.replace(/[*?]/g, '').length;
}
