/**
 * The memory model: the peak resident memory of `xbarc run` on an experiment, from the plan's
 * shapes alone (the compiler never imports the runtime). An explicit formula, calibrated against
 * measured peak RSS (process.resourceUsage().maxRSS of a child process; test/compiler/memory.test.ts
 * holds it within 25 % on three networks, ideal and crossbar) and documented in docs/running.md,
 * "Memory". All sizes are bytes; "per sample" terms are multiplied by the batch of the phase.
 *
 * peak = base + data + state + the working sets of the sessions alive at once. onnxruntime keeps
 * each session's arena at that session's own peak (the memory pattern is off, session.ts), so the
 * sessions add up: the training step and the evaluation graph, and at a crossbar experiment the
 * larger of the calibration graph (128 samples) and the statistics graph, each released after its
 * run, and the read-noise factors.
 *
 *   training step  B · (Σ saved + max transient) + the largest exact core at B
 *   evaluation     b · max transient + the largest exact core at b
 *
 * saved: what backward reads, per sample: every layer's float32 output except `add` and
 * `flatten` (measured: onnxruntime's live set at the end of the forward pass is exactly that),
 * max-pool indices (int64), the network input, and on crossbar layers with non-ideal forward the
 * 1-byte straight-through mask. transient: a layer's input and output and the temporaries of its
 * MVM (more on crossbars: quantized input, ADC codes). exact core: a crossbar layer whose
 * conversions are not merged holds every (tile, plane, slice, column, stream) partial sum,
 * T·2S·N·M·J floats for M = batch · output pixels, a few times over (sums, codes, saturation).
 */
import type { LayerMapping, PlanCrossbar, PlanExperiment, PlanLayer } from '../model/plan.js';

/** Node, onnxruntime, xbarc and the worker thread the run executes in: measured floor of every run. */
export const BASE_BYTES = 150 * 2 ** 20;
/**
 * The embedded MNIST set: its package's JSON decoded once per process. Measured 50–130 MiB above
 * the same run on idx files, depending on when the garbage collector runs: the middle.
 */
export const MNIST_DECODE_BYTES = 90 * 2 ** 20;
/** One onnxruntime session beyond its arena: kernels, graph, initializers (measured, ResNet-20 / LeNet-5). */
export const SESSION_BYTES = 12 * 2 ** 20;
/** Float32 copies of a layer's input + output alive at its peak, ideal MVM. */
const IDEAL_TRANSIENT = 2;
/** The same with a crossbar MVM: quantized input, integer result, rounded and clipped codes. */
const CROSSBAR_TRANSIENT = 2.5;
/** Copies of the exact core's partial sums alive at once (sums, rounded codes, saturation flags). */
const EXACT_CORE_COPIES = 3;
/** Calibration batch of crossbar experiments (runtime: calibrationBatch). */
const CALIBRATION_SAMPLES = 128;
/** Evaluation chunk of exact graphs (runtime: run-experiment). */
const EXACT_EVAL_CHUNK = 64;

/** The estimate of one layer: bytes it adds to the training step and to an evaluation run at the spec's batches. */
export interface LayerMemory {
  name: string;
  /** Saved for backward plus, where it is the largest, its transient (training batch). */
  trainBytes: number;
  /** Its transient (evaluation batch): the evaluation peak is the largest of these. */
  evalBytes: number;
}

export interface MemoryEstimate {
  /** Peak of the whole run (training, evaluations, calibration, statistics): what the machine must have. */
  peakBytes: number;
  /** Working set of the training step session at train.batch (0 without training). */
  trainBytes: number;
  /** Working set of the evaluation session at evaluate.batch (exact: chunks of ≤ 64). */
  evalBytes: number;
  /** Crossbar runs: the calibration graph's working set (128 samples; its session is released after each calibration). */
  calibrationBytes: number;
  /** Crossbar runs: the statistics graph's working set (opened last, released after). */
  statisticsBytes: number;
  /** Fidelity fast with read noise: the fed noise factors. */
  noiseBytes: number;
  /** The floor: runtime, data set, parameters and optimizer state, sessions. */
  fixedBytes: number;
  layers: LayerMemory[];
}

/** What the model reads of an experiment: the plan's facts (and the data set's size). */
export interface MemoryInput {
  fidelity: PlanExperiment['fidelity'];
  layers: PlanLayer[];
  inputShape: number[];
  crossbars: Record<string, PlanCrossbar>;
  train?: { batch: number; optimizer: { kind: 'sgd' | 'adam' }; nonideal: readonly string[] } | undefined;
  evaluateBatch: number;
  /** Samples of the data set (train + test) and values per sample. */
  samples: number;
  sampleSize: number;
  /** The data set is the embedded MNIST (decoded from JSON in the process). */
  embeddedMnist: boolean;
}

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

export function estimateMemory(m: MemoryInput, batches: { train?: number; evaluate?: number } = {}): MemoryEstimate {
  const B = m.train ? (batches.train ?? m.train.batch) : 0;
  const evalB = batches.evaluate ?? m.evaluateBatch;
  const crossbar = m.fidelity !== 'ideal' && m.layers.some((l) => l.mapping?.target === 'crossbar');
  const evalChunk = m.fidelity === 'exact' && crossbar ? Math.min(evalB, EXACT_EVAL_CHUNK) : evalB;
  const forwardNonideal = m.train?.nonideal.includes('forward') ?? false;
  const backwardNonideal = m.train?.nonideal.includes('backward') ?? false;
  const onXb = (l: PlanLayer): boolean => crossbar && l.mapping?.target === 'crossbar';

  const saved = (l: PlanLayer): number => {
    const out = prod(l.outputShape);
    if (l.op.kind === 'add' || l.op.kind === 'flatten') return 0;
    const own = l.op.kind === 'maxpool' ? out * 12 : out * 4;
    return own + (onXb(l) && forwardNonideal ? out : 0);
  };
  const transient = (l: PlanLayer, training: boolean): number => {
    const io = (prod(l.inputShape) + prod(l.outputShape)) * 4;
    const xb = onXb(l) && (!training || forwardNonideal || backwardNonideal);
    return io * (xb ? CROSSBAR_TRANSIENT : IDEAL_TRANSIENT);
  };
  const core = (l: PlanLayer, batch: number, direction: 'forward' | 'backward'): number =>
    onXb(l) && m.fidelity === 'exact' ? exactCoreBytes(l, m.crossbars[l.mapping!.crossbar!]!, batch, direction) : 0;

  const inputBytes = prod(m.inputShape) * 4;
  const layers: LayerMemory[] = m.layers.map((l) => ({
    name: l.name,
    trainBytes: m.train ? B * saved(l) + Math.max(core(l, B, 'forward') * (forwardNonideal ? 1 : 0), core(l, B, 'backward') * (backwardNonideal ? 1 : 0)) : 0,
    evalBytes: evalChunk * transient(l, false) + core(l, evalChunk, 'forward'),
  }));
  const maxOf = (xs: number[]): number => xs.reduce((a, b) => Math.max(a, b), 0);
  const trainTransient = m.train ? B * maxOf(m.layers.map((l) => transient(l, true))) : 0;
  const trainBytes = m.train ? B * inputBytes + layers.reduce((s, l) => s + l.trainBytes, 0) + trainTransient : 0;
  // The largest layer's transient: the evaluation session's arena peak.
  const evalAt = (b: number): number => b * inputBytes + maxOf(m.layers.map((l) => b * transient(l, false) + core(l, b, 'forward')));
  const evalBytes = evalAt(evalChunk);

  let calibrationBytes = 0;
  let statisticsBytes = 0;
  let noiseBytes = 0;
  let sessions = m.train ? 2 : 1;
  if (crossbar) {
    const cal = Math.min(CALIBRATION_SAMPLES, m.samples);
    const stats = Math.min(m.fidelity === 'exact' ? 50 : 250, Math.max(B, evalB));
    const noisy = m.layers.filter((l) => onXb(l) && (m.crossbars[l.mapping!.crossbar!]?.device.readNoise ?? 0) > 0);
    noiseBytes = m.fidelity === 'fast' ? noisy.reduce((s, l) => s + prod(l.outputShape) * 4, 0) * Math.max(B, evalB, cal, stats) : 0;
    calibrationBytes = evalAt(cal);
    statisticsBytes = evalAt(stats);
    sessions += 1;
  }
  const params = m.layers.reduce((s, l) => s + l.params, 0);
  // JS state: parameters, optimizer slots, the step's new copies; fidelity fast adds the folded matrices it feeds.
  const slots = m.train ? (m.train.optimizer.kind === 'adam' ? 2 : 1) : 0;
  const state = params * 4 * (2 * (1 + slots) + (m.fidelity === 'fast' && crossbar ? 4 : 0));
  // The normalized data set in the main thread and its copy in the worker, and the decoded bytes.
  const data = m.samples * m.sampleSize * 9 + (m.embeddedMnist ? MNIST_DECODE_BYTES : 0);
  const fixedBytes = BASE_BYTES + sessions * SESSION_BYTES + state + data;
  // Calibration and statistics sessions are released after their run: never both at once.
  const peakBytes = fixedBytes + trainBytes + evalBytes + Math.max(calibrationBytes, statisticsBytes) + noiseBytes;
  return { peakBytes, trainBytes, evalBytes, calibrationBytes, statisticsBytes, noiseBytes, fixedBytes, layers };
}

/**
 * The exact core of one direction of a crossbar layer whose conversions are not merged: the
 * partial sums [T, 2S·N, M·J] (forward: T row tiles, N columns, J input streams; backward: column
 * tiles, K rows, backward streams), M = batch · output pixels.
 */
function exactCoreBytes(l: PlanLayer, xb: PlanCrossbar, batch: number, direction: 'forward' | 'backward'): number {
  const map = l.mapping as LayerMapping;
  const merge = map.merges?.find((e) => e.direction === direction);
  if (!merge || merge.applied) return 0;
  const S = map.weightSlices ?? 1;
  const pixels = l.op.kind === 'conv2d' ? l.outputShape[1]! * l.outputShape[2]! : 1;
  const K = map.matrix.rows;
  const N = map.matrix.cols;
  if (direction === 'forward') {
    const T = map.tiles?.rowTiles ?? 1;
    const J = map.inputStreams ?? 1;
    return T * 2 * S * N * batch * pixels * J * 4 * EXACT_CORE_COPIES;
  }
  const C = map.tiles?.colTiles ?? 1;
  const J = Math.ceil(xb.backward.inputBits / xb.backward.dacBits) * 2;
  return C * 2 * S * K * batch * pixels * J * 4 * EXACT_CORE_COPIES;
}

/**
 * The largest batch (training batch of a training experiment, else the evaluation batch) whose
 * estimated peak fits in `limit` bytes; 0 when even batch 1 does not fit.
 */
export function largestBatchThatFits(m: MemoryInput, limit: number): number {
  const training = m.train !== undefined;
  const at = (b: number): number => estimateMemory(m, training ? { train: b } : { evaluate: b }).peakBytes;
  if (at(1) > limit) return 0;
  let lo = 1;
  let hi = 2;
  while (at(hi) <= limit && hi < 2 ** 24) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (at(mid) <= limit) lo = mid;
    else hi = mid;
  }
  return lo;
}
