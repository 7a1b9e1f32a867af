/**
 * Lower: a checked experiment → its execution plan (versioned JSON, validated against
 * schemas/plan.schema.json before anything runs). Per layer: op, shapes, FLOPs, activation
 * memory and the crossbar mapping (tile grid, slices, streams, array count) even where the layer
 * still runs digitally, and for crossbar layers the merges applied or not, with reasons
 * (merges.ts). Per experiment: data, protocol, seed and an estimate of memory.
 */
import { createHash } from 'node:crypto';
import { totalmem } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { CheckedExperiment, CheckedCrossbar } from './check.js';
import { Diagnostics } from './diagnostics.js';
import { withMerges } from './merges.js';
import type { CheckedLayer } from './network.js';
import { PLAN_VERSION, type DataSource, type LayerMapping, type Optimizer, type PlanCrossbar, type PlanData, type PlanExperiment, type PlanLayer, type PlanTrain, type NonidealStage } from './plan-types.js';
import { numOf, toJson, type Value } from './values.js';

export interface LowerOptions {
  /** Memory the run may use; the machine's total memory by default. */
  memoryLimitBytes?: number;
  /** Sweep point metadata to attach. */
  pointInfo?: PlanExperiment['point'];
}

/** ORT, Node and the data set's copies: a floor under every estimate. */
const RUNTIME_BASE_BYTES = 300 * 1024 * 1024;

export function lowerExperiment(exp: CheckedExperiment, diags: Diagnostics, options: LowerOptions = {}): PlanExperiment | undefined {
  const net = exp.network;
  if (!net || !net.complete || !exp.data) return undefined;
  const fidelity = enumOf(exp.values['fidelity'], 'fast') as PlanExperiment['fidelity'];
  const layers = net.layers.map((l) => lowerLayer(l, exp, fidelity));
  const crossbars: Record<string, PlanCrossbar> = {};
  for (const [name, xb] of exp.crossbars) crossbars[name] = lowerCrossbar(name, xb);
  const train = lowerTrain(exp.values['train']);
  const evaluateBatch = objNum(exp.values['evaluate'], 'batch', 256);
  const evaluateTime = objNum(exp.values['evaluate'], 'time', 0);
  const evaluateRepeats = objNum(exp.values['evaluate'], 'repeats', 1);
  const data = lowerData(exp.values['data'], exp.file);
  const seed = numOf(exp.values['seed'], 0);
  const output = exp.values['output']?.k === 'str' ? exp.values['output'].v : `results/${exp.name}`;
  const flopsPerSample = layers.reduce((s, l) => s + l.flopsPerSample, 0);
  // Merge decisions (slices/streams/tiles into one GEMM) are computed from the plan's own facts.
  const plan: PlanExperiment = withMerges({
    name: exp.name,
    fidelity,
    network: { name: net.name, inputShape: net.inputShape, classes: exp.data.classes, layers },
    crossbars,
    data,
    ...(train ? { train } : {}),
    evaluate: { batch: evaluateBatch, ...(evaluateRepeats > 1 ? { repeats: evaluateRepeats } : {}), ...(evaluateTime > 0 ? { time: evaluateTime } : {}) },
    seed,
    outDir: output,
    estimate: {
      memoryBytes: estimateMemory(layers, exp, train, evaluateBatch),
      flopsPerTrainStep: train ? 3 * flopsPerSample * train.batch : 0,
      flopsPerEvalSample: flopsPerSample,
    },
    ...(options.pointInfo ? { point: options.pointInfo } : {}),
  });
  const limit = options.memoryLimitBytes ?? totalmem();
  if (plan.estimate.memoryBytes > limit) {
    diags.add('memory-exceeded', exp.file, exp.span, { experiment: exp.name, need: formatBytes(plan.estimate.memoryBytes), have: formatBytes(limit) });
  }
  return plan;
}

function lowerLayer(l: CheckedLayer, exp: CheckedExperiment, fidelity: PlanExperiment['fidelity']): PlanLayer {
  const { file: _file, span: _span, weighted, ...rest } = l;
  void _file;
  void _span;
  if (!weighted) return rest;
  const rows = l.op.kind === 'conv2d' ? l.inputShape[0]! * l.op.kernel[0] * l.op.kernel[1] : l.inputShape[0]!;
  const cols = l.op.kind === 'conv2d' ? l.op.outChannels : l.op.kind === 'dense' ? l.op.units : 0;
  const target = exp.mapping.get(l.name);
  const mapping: LayerMapping = { target: 'digital', matrix: { rows, cols } };
  if (target?.target === 'crossbar' && fidelity !== 'ideal') {
    const xb = exp.crossbars.get(target.crossbar);
    if (xb) Object.assign(mapping, crossbarMapping(rows, cols, xb), { target: 'crossbar', crossbar: target.crossbar });
  }
  return { ...rest, mapping };
}

/** Tile grid, slices, streams and physical array count for a K × N matrix on a crossbar. */
export function crossbarMapping(rows: number, cols: number, xb: CheckedCrossbar): Omit<LayerMapping, 'target' | 'matrix'> {
  const g = xb.geometry;
  const rowTiles = Math.ceil(rows / g.rows);
  const colTiles = Math.ceil(cols / g.cols);
  const differential = enumOf(xb.values['mapping'], 'differential') === 'differential';
  // Offset mapping adds one reference column per tile: counted as a fraction of an array.
  const arraysPerSlice = differential ? 2 : 1;
  return {
    tiles: { rowTiles, colTiles, tileRows: g.rows, tileCols: g.cols },
    weightSlices: g.weightSlices,
    inputStreams: g.inputStreams,
    crossbarCount: rowTiles * colTiles * g.weightSlices * arraysPerSlice,
  };
}

function lowerCrossbar(name: string, xb: CheckedCrossbar): PlanCrossbar {
  const settings = Object.fromEntries(Object.entries(xb.values).filter(([k]) => k !== 'device').map(([k, v]) => [k, toJson(v)]));
  const device = { name: xb.device?.name ?? 'unknown', ...Object.fromEntries(Object.entries(xb.device?.values ?? {}).map(([k, v]) => [k, toJson(v)])) };
  return { name, settings, device };
}

function lowerTrain(v: Value | undefined): PlanTrain | undefined {
  if (v?.k !== 'object') return undefined;
  const f = v.fields;
  const epochs = numOf(f['epochs'], 1);
  const batch = numOf(f['batch'], 64);
  const nonideal = f['nonideal']?.k === 'list' ? f['nonideal'].items.map((i) => (i.k === 'enum' ? i.v : '')).filter((s): s is NonidealStage => s === 'forward' || s === 'backward' || s === 'update') : [];
  const weightRange = f['weight_range'] !== undefined ? numOf(f['weight_range'], 0) : 0;
  const headroom = numOf(f['headroom'], 1);
  return {
    epochs, batch, optimizer: lowerOptimizer(f['optimizer']), nonideal, schedule: lowerSchedule(f['schedule']),
    ...(weightRange > 0 ? { weightRange } : {}),
    ...(headroom !== 1 ? { headroom } : {}),
  };
}

function lowerOptimizer(v: Value | undefined): Optimizer {
  const a = v?.k === 'call' ? v.args : {};
  const n = (k: string, d: number) => numOf(a[k], d);
  if (v?.k === 'call' && v.name === 'adam') return { kind: 'adam', lr: n('lr', 0.001), beta1: n('beta1', 0.9), beta2: n('beta2', 0.999), epsilon: n('epsilon', 1e-8), weightDecay: n('weight_decay', 0) };
  const momentumDefault = v?.k === 'call' && v.name === 'momentum' ? 0.9 : 0;
  return { kind: 'sgd', lr: n('lr', 0.01), momentum: n('momentum', momentumDefault), nesterov: a['nesterov']?.k === 'bool' ? a['nesterov'].v : false, weightDecay: n('weight_decay', 0) };
}

function lowerSchedule(v: Value | undefined): PlanTrain['schedule'] {
  if (v?.k !== 'call') return { kind: 'constant' };
  if (v.name === 'step') return { kind: 'step', stepEpochs: numOf(v.args['every'], 10), gamma: numOf(v.args['gamma'], 0.1) };
  if (v.name === 'cosine') return { kind: 'cosine' };
  return { kind: 'constant' };
}

/** Data paths are relative to the spec file that names them. */
function lowerData(v: Value | undefined, specFile: string): PlanData {
  const a = v?.k === 'call' ? v.args : {};
  const n = (k: string, d: number) => numOf(a[k], d);
  const path = (k: string) => {
    const s = a[k]?.k === 'str' ? (a[k] as { v: string }).v : '';
    return isAbsolute(s) ? s : resolve(dirname(v?.file ?? specFile), s);
  };
  let source: DataSource;
  const name = v?.k === 'call' ? v.name : 'mnist';
  if (name === 'idx') {
    source = { kind: 'idx', trainImages: path('train_images'), trainLabels: path('train_labels'), testImages: path('test_images'), testLabels: path('test_labels'), ...(n('train', 0) ? { train: n('train', 0) } : {}), ...(n('test', 0) ? { test: n('test', 0) } : {}) };
  } else if (name === 'cifar10') {
    source = { kind: 'cifar10', dir: path('dir'), ...(n('train', 0) ? { train: n('train', 0) } : {}), ...(n('test', 0) ? { test: n('test', 0) } : {}) };
  } else {
    source = { kind: 'mnist', train: n('train', 8000), test: n('test', 2000) };
  }
  const defaults = name === 'cifar10' ? { mean: 0.4734, std: 0.2516 } : { mean: 0.1307, std: 0.3081 };
  return { source, normalize: { mean: n('mean', defaults.mean), std: n('std', defaults.std) }, ...(n('crop', 0) ? { crop: n('crop', 0) } : {}), shuffle: true };
}

/**
 * Memory: parameters with gradients and optimizer state, activations kept for backward (with
 * room for im2col patches), the data set in float32, and the runtime's own floor.
 */
function estimateMemory(layers: PlanLayer[], exp: CheckedExperiment, train: PlanTrain | undefined, evalBatch: number): number {
  const params = layers.reduce((s, l) => s + l.params, 0);
  const slots = train ? (train.optimizer.kind === 'adam' ? 4 : 3) : 1;
  const activationPerSample = layers.reduce((s, l) => s + l.activationBytesPerSample, 0);
  const patchPerSample = layers.reduce((s, l) => s + (l.op.kind === 'conv2d' ? 4 * l.outputShape[1]! * l.outputShape[2]! * (l.mapping?.matrix.rows ?? 0) : 0), 0);
  const batch = Math.max(train?.batch ?? 0, evalBatch);
  const perSample = (train ? 3 : 1) * activationPerSample + patchPerSample;
  const data = exp.data ? 4 * (exp.data.train + exp.data.test) * exp.data.shape.reduce((a, b) => a * b, 1) : 0;
  return RUNTIME_BASE_BYTES + 4 * params * slots + batch * perSample + 2 * data;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

function enumOf(v: Value | undefined, fallback: string): string {
  return v?.k === 'enum' ? v.v : fallback;
}

function objNum(v: Value | undefined, key: string, fallback: number): number {
  return v?.k === 'object' ? numOf(v.fields[key], fallback) : fallback;
}

/** sha256 of the resolved experiment (values, not text): reformatting a spec keeps its hash. */
export function specHash(plan: Omit<PlanExperiment, 'estimate'> | PlanExperiment, resolved: unknown): string {
  const { estimate: _e, outDir: _o, point: _p, ...rest } = plan as PlanExperiment;
  void _e;
  void _o;
  void _p;
  return createHash('sha256').update(canonicalJson({ plan: rest, resolved })).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value as Record<string, unknown>).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The experiment's resolved spec as JSON: every field with defaults filled in, SI values. */
export function resolvedSpec(exp: CheckedExperiment): Record<string, unknown> {
  const fields = Object.fromEntries(Object.entries(exp.values).map(([k, v]) => [k, toJson(v)]));
  const crossbars = Object.fromEntries([...exp.crossbars].map(([n, xb]) => [n, lowerCrossbar(n, xb)]));
  const mapping = Object.fromEntries([...exp.mapping].map(([layer, t]) => [layer, t.target === 'digital' ? 'digital' : t.crossbar]));
  return { experiment: exp.name, ...fields, mapping, crossbars };
}
