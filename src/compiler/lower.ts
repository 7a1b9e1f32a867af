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
import type { CheckedExperiment } from './check.js';
import type { CrossbarSpec } from '../model/crossbar.js';
import { inputEncoding, weightSlices } from '../model/crossbar-math.js';
import { Diagnostics } from './diagnostics.js';
import { FieldReader } from './field-reader.js';
import { lowerCrossbar } from './lower-crossbar.js';
import { estimateMemory, largestBatchThatFits, type MemoryInput } from './memory.js';

type Call = ReturnType<FieldReader['call']>;
import { withMerges } from './merges.js';
import type { CheckedLayer } from './network.js';
import type { DataSource, LayerMapping, Optimizer, PlanCrossbar, PlanData, PlanExperiment, PlanLayer, PlanTrain, WeightInit } from '../model/plan.js';
import { toJson } from './values.js';

export interface LowerOptions {
  /** Memory the run may use; the machine's total memory by default (`xbarc run` passes the memory available now). */
  memoryLimitBytes?: number;
  /** Sweep point metadata to attach. */
  pointInfo?: PlanExperiment['point'];
}

export function lowerExperiment(exp: CheckedExperiment, diags: Diagnostics, options: LowerOptions = {}): PlanExperiment | undefined {
  const net = exp.network;
  if (!net || !net.complete || !exp.data) return undefined;
  const spec = new FieldReader(`experiment ${exp.name}`, exp.values);
  const fidelity = spec.enumOf('fidelity', ['ideal', 'fast', 'exact'] as const);
  const crossbars: Record<string, PlanCrossbar> = {};
  for (const [name, xb] of exp.crossbars) crossbars[name] = lowerCrossbar(name, xb);
  const layers = net.layers.map((l) => lowerLayer(l, exp, fidelity, crossbars));
  const train = spec.has('train') ? lowerTrain(spec.block('train'), layers) : undefined;
  const evaluate = spec.block('evaluate');
  const evaluateBatch = evaluate.num('batch');
  const data = lowerData(spec.call('data'), spec.fileOf('data'));
  const seed = spec.num('seed');
  const output = spec.str('output');
  const flopsPerSample = layers.reduce((s, l) => s + l.flopsPerSample, 0);
  // Merge decisions (slices/streams/tiles into one GEMM) are computed from the plan's own facts.
  const plan: PlanExperiment = withMerges({
    name: exp.name,
    fidelity,
    network: { name: net.name, inputShape: net.inputShape, classes: exp.data.classes, layers },
    crossbars,
    data,
    ...(train ? { train } : {}),
    evaluate: { batch: evaluateBatch, time: evaluate.num('time'), repeats: evaluate.num('repeats') },
    seed,
    outDir: output,
    estimate: {
      memoryBytes: 0,
      flopsPerTrainStep: train ? 3 * flopsPerSample * train.batch : 0,
      flopsPerEvalSample: flopsPerSample,
    },
    ...(options.pointInfo ? { point: options.pointInfo } : {}),
  });
  // The memory model reads the merge decisions (an unmerged exact layer holds every partial sum).
  const memory = memoryInput(plan, exp);
  const estimate = estimateMemory(memory);
  plan.estimate.memoryBytes = estimate.peakBytes;
  plan.estimate.memory = estimate;
  const limit = options.memoryLimitBytes ?? totalmem();
  if (estimate.peakBytes > limit) {
    const fits = largestBatchThatFits(memory, limit);
    const which = plan.train ? 'train.batch' : 'evaluate.batch';
    const batch = plan.train ? plan.train.batch : plan.evaluate.batch;
    diags.add('memory-exceeded', exp.file, exp.span, {
      experiment: exp.name,
      need: formatBytes(estimate.peakBytes),
      have: formatBytes(limit),
      batch: `${which} = ${batch}`,
      fits: fits > 0 ? `the largest ${which} that fits is ${fits}` : `even ${which} = 1 does not fit`,
    });
  }
  return plan;
}

function lowerLayer(l: CheckedLayer, exp: CheckedExperiment, fidelity: PlanExperiment['fidelity'], crossbars: Record<string, PlanCrossbar>): PlanLayer {
  const { file: _file, span: _span, weighted, ...rest } = l;
  if (!weighted) return rest;
  const rows = l.op.kind === 'conv2d' ? l.inputShape[0]! * l.op.kernel[0] * l.op.kernel[1] : l.inputShape[0]!;
  const cols = l.op.kind === 'conv2d' ? l.op.outChannels : l.op.kind === 'dense' ? l.op.units : 0;
  const target = exp.mapping.get(l.name);
  const mapping: LayerMapping = { target: 'digital', matrix: { rows, cols } };
  if (target?.target === 'crossbar' && fidelity !== 'ideal') {
    const xb = crossbars[target.crossbar];
    if (xb) Object.assign(mapping, crossbarMapping(rows, cols, xb), { target: 'crossbar', crossbar: target.crossbar });
  }
  return { ...rest, mapping };
}

/** Tile grid, slices, streams and physical array count for a K × N matrix on a crossbar. */
export function crossbarMapping(rows: number, cols: number, xb: CrossbarSpec): Omit<LayerMapping, 'target' | 'matrix'> {
  const rowTiles = Math.ceil(rows / xb.rows);
  const colTiles = Math.ceil(cols / xb.cols);
  const slices = weightSlices(xb);
  // Offset mapping adds one reference column per tile: counted as a fraction of an array.
  const arraysPerSlice = xb.mapping === 'differential' ? 2 : 1;
  return {
    tiles: { rowTiles, colTiles, tileRows: xb.rows, tileCols: xb.cols },
    weightSlices: slices,
    // Unsigned until withMerges knows the layer's input sign.
    inputStreams: inputEncoding(xb.inputBits, xb.dacBits, false).streams,
    crossbarCount: rowTiles * colTiles * slices * arraysPerSlice,
  };
}

function lowerTrain(r: FieldReader, layers: PlanLayer[]): PlanTrain {
  // lr_scale lists one factor per weighted layer in network order (the checker reports a wrong count).
  const weighted = layers.filter((l) => l.mapping).map((l) => l.name);
  const factors = r.has('lr_scale') ? r.numList('lr_scale') : null;
  const lrScale = factors && factors.length === weighted.length ? Object.fromEntries(weighted.map((name, i) => [name, factors[i]!])) : null;
  return {
    epochs: r.num('epochs'),
    batch: r.num('batch'),
    optimizer: lowerOptimizer(r.call('optimizer')),
    nonideal: r.enumList('nonideal', ['forward', 'backward', 'update'] as const),
    schedule: lowerSchedule(r.call('schedule')),
    sampling: r.enumOf('sampling', ['shuffle', 'replacement'] as const),
    init: lowerInit(r.call('init')),
    loss: r.enumOf('loss', ['cross_entropy', 'squared_error'] as const),
    ...(lrScale ? { lrScale } : {}),
    ...(r.has('weight_range') ? { weightRange: r.num('weight_range') } : {}),
    headroom: r.num('headroom'),
    programOffset: r.num('program_offset'),
  };
}

function lowerOptimizer({ name, args: a }: Call): Optimizer {
  if (name === 'adam')
    return { kind: 'adam', lr: a.num('lr'), beta1: a.num('beta1'), beta2: a.num('beta2'), epsilon: a.num('epsilon'), weightDecay: a.num('weight_decay') };
  if (name === 'sgd' || name === 'momentum')
    return { kind: 'sgd', lr: a.num('lr'), momentum: a.num('momentum'), nesterov: a.bool('nesterov'), weightDecay: a.num('weight_decay') };
  throw new Error(`internal error: unknown optimizer ${name}`);
}

function lowerSchedule({ name, args }: Call): PlanTrain['schedule'] {
  if (name === 'step') return { kind: 'step', stepEpochs: args.num('every'), gamma: args.num('gamma') };
  if (name === 'cosine') return { kind: 'cosine' };
  if (name === 'constant') return { kind: 'constant' };
  throw new Error(`internal error: unknown schedule ${name}`);
}

function lowerInit({ name, args }: Call): WeightInit {
  if (name === 'he_normal') return { kind: 'he_normal' };
  if (name === 'uniform') return { kind: 'uniform', limit: args.num('limit'), ...(args.has('levels') ? { levels: args.num('levels') } : {}) };
  throw new Error(`internal error: unknown init ${name}`);
}

/** Data paths are relative to the spec file that names them; `train`/`test` = 0 means all of a file's samples. */
function lowerData({ name, args: a }: Call, specFile: string): PlanData {
  const path = (k: string) => {
    const s = a.str(k);
    return isAbsolute(s) ? s : resolve(dirname(specFile), s);
  };
  const counts = () => ({ ...(a.num('train') ? { train: a.num('train') } : {}), ...(a.num('test') ? { test: a.num('test') } : {}) });
  let source: DataSource;
  if (name === 'idx')
    source = {
      kind: 'idx',
      trainImages: path('train_images'),
      trainLabels: path('train_labels'),
      testImages: path('test_images'),
      testLabels: path('test_labels'),
      ...counts(),
    };
  else if (name === 'cifar10') source = { kind: 'cifar10', dir: path('dir'), ...counts() };
  else if (name === 'mnist') source = { kind: 'mnist', train: a.num('train'), test: a.num('test') };
  else throw new Error(`internal error: unknown data set ${name}`);
  const crop = a.has('crop') ? a.num('crop') : 0;
  const binarize = a.has('binarize') ? a.num('binarize') : 0;
  return { source, normalize: { mean: a.num('mean'), std: a.num('std') }, ...(crop ? { crop } : {}), ...(binarize ? { binarize } : {}), shuffle: true };
}

/** The memory model's view of a plan (src/compiler/memory.ts). */
function memoryInput(plan: PlanExperiment, exp: CheckedExperiment): MemoryInput {
  return {
    fidelity: plan.fidelity,
    layers: plan.network.layers,
    inputShape: plan.network.inputShape,
    crossbars: plan.crossbars,
    train: plan.train,
    evaluateBatch: plan.evaluate.batch,
    samples: exp.data ? exp.data.train + exp.data.test : 0,
    sampleSize: exp.data ? exp.data.shape.reduce((a, b) => a * b, 1) : 0,
    embeddedMnist: plan.data.source.kind === 'mnist',
  };
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

/** sha256 of the resolved experiment (values, not text): reformatting a spec keeps its hash. */
export function specHash(plan: Omit<PlanExperiment, 'estimate'> | PlanExperiment, resolved: unknown): string {
  const { estimate: _e, outDir: _o, point: _p, ...rest } = plan as PlanExperiment;
  return createHash('sha256')
    .update(canonicalJson({ plan: rest, resolved }))
    .digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value as Record<string, unknown>)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
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
