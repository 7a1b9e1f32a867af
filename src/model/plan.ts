/**
 * The execution plan: the contract between the compiler (which lowers a checked spec into it)
 * and the runtime (which executes it). Versioned; validated against schemas/plan.schema.json
 * before anything runs. All physical values are SI (Ohm, S, V, s); fractions are 0..1.
 */

import type { CrossbarSpec } from './crossbar.js';

export const PLAN_VERSION = 2;

/** Per-sample tensor shape: [C, H, W] for images, [N] for vectors. */
export type Shape = number[];

export type LayerOp = DenseOp | Conv2dOp | ReluOp | SigmoidOp | TanhOp | MaxPoolOp | AvgPoolOp | BatchNormOp | FlattenOp | AddOp;

export interface DenseOp {
  kind: 'dense';
  units: number;
  bias: boolean;
}
export interface Conv2dOp {
  kind: 'conv2d';
  outChannels: number;
  kernel: [number, number];
  stride: [number, number];
  /** [top, left, bottom, right] */
  padding: [number, number, number, number];
  bias: boolean;
}
export interface ReluOp {
  kind: 'relu';
}
export interface SigmoidOp {
  kind: 'sigmoid';
}
export interface TanhOp {
  kind: 'tanh';
}
export interface MaxPoolOp {
  kind: 'maxpool';
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number, number, number];
}
export interface AvgPoolOp {
  kind: 'avgpool';
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number, number, number];
  /** global average pool over H×W */ global: boolean;
}
export interface BatchNormOp {
  kind: 'batchnorm';
  epsilon: number;
  momentum: number;
}
export interface FlattenOp {
  kind: 'flatten';
}
/** Element-wise sum of exactly two inputs (residual connection). */
export interface AddOp {
  kind: 'add';
}

/** How a weighted layer's matrix W[K × N] lands on crossbar tiles. */
export interface LayerMapping {
  /** 'digital' when the layer is not mapped to a crossbar. */
  target: 'digital' | 'crossbar';
  /** Name of the crossbar declaration (absent for digital). */
  crossbar?: string;
  /** K (rows of the weight matrix: Cin·kh·kw or fan-in) and N (outputs). */
  matrix: { rows: number; cols: number };
  /** Tile grid: ceil(K / tileRows) × ceil(N / tileCols). */
  tiles?: { rowTiles: number; colTiles: number; tileRows: number; tileCols: number };
  weightSlices?: number;
  /** DAC passes per forward MVM, from the layer's input encoding (sign-magnitude counts both signs). */
  inputStreams?: number;
  /** Physical arrays: tiles × slices × (2 for differential, 1 + reference for offset). */
  crossbarCount?: number;
  /**
   * Crossbar layers: per direction the runtime executes (forward always; backward when training
   * with `backward` ∈ train.nonideal), whether its conversions are merged into one GEMM and why
   * (src/compiler/merges.ts). The runtime follows this list; it never decides a merge itself.
   */
  merges?: LayerMerge[];
}

export type MergeDirection = 'forward' | 'backward';

/** One merge decision of a crossbar layer. */
export interface LayerMerge {
  direction: MergeDirection;
  /** Exact: merged because provably exact. Fast: folded by definition of the fidelity. */
  applied: boolean;
  /** What is (or would be) merged, e.g. "slices, streams and tiles merged into one integer GEMM (…)". */
  what: string;
  /** Why it applies, or every reason it does not. */
  reason: string;
}

export interface PlanLayer {
  /** Fully qualified name, e.g. "conv1" or "stage1.block1.conv2". */
  name: string;
  op: LayerOp;
  /** Names of producer layers; "input" is the network input. Exactly two for 'add'. */
  inputs: string[];
  inputShape: Shape;
  outputShape: Shape;
  /** Trainable parameter count (weights + bias; batchnorm: scale + shift). */
  params: number;
  /** Multiply-accumulates × 2 for one sample's forward pass. */
  flopsPerSample: number;
  /** Bytes of float32 output activation per sample. */
  activationBytesPerSample: number;
  /** Present for weighted layers (dense, conv2d). */
  mapping?: LayerMapping;
}

export interface PlanNetwork {
  name: string;
  inputShape: Shape;
  classes: number;
  /** Topologically ordered; the last layer's output is the logits. */
  layers: PlanLayer[];
}

export type DataSource =
  | { kind: 'mnist'; train: number; test: number }
  | { kind: 'idx'; trainImages: string; trainLabels: string; testImages: string; testLabels: string; train?: number; test?: number }
  | { kind: 'cifar10'; dir: string; train?: number; test?: number };

export interface PlanData {
  source: DataSource;
  /** Normalize pixels: x ← (x/255 − mean) / std. */
  normalize: { mean: number; std: number };
  /** Center-crop every image to crop × crop pixels before normalizing (0 = no crop). */
  crop?: number;
  /** Black-and-white pixels after cropping: u = x/255 ≥ binarize → 255, else 0 (absent: grey levels). */
  binarize?: number;
  shuffle: boolean;
}

export type Optimizer =
  | { kind: 'sgd'; lr: number; momentum: number; nesterov: boolean; weightDecay: number }
  | { kind: 'adam'; lr: number; beta1: number; beta2: number; epsilon: number; weightDecay: number };

export type WeightInit = { kind: 'he_normal' } | { kind: 'uniform'; limit: number; levels?: number };

export type NonidealStage = 'forward' | 'backward' | 'update';

export interface PlanTrain {
  epochs: number;
  batch: number;
  optimizer: Optimizer;
  nonideal: NonidealStage[];
  /** Learning-rate schedule: constant or step decay every `stepEpochs` by `gamma`. */
  schedule: { kind: 'constant' } | { kind: 'step'; stepEpochs: number; gamma: number } | { kind: 'cosine' };
  /** An epoch's samples: a permutation of the training set, or as many uniform draws with replacement. */
  sampling: 'shuffle' | 'replacement';
  /** Initial weights of dense and conv layers: He-normal, or uniform in ±limit (on `levels` evenly spaced values when given). */
  init: WeightInit;
  /** Loss on the last layer's outputs: softmax cross-entropy or Σ (y − sigmoid(z))² (NeuroSim). */
  loss: 'cross_entropy' | 'squared_error';
  /** Learning-rate factor per weighted layer, by layer name (absent: 1 for every layer). */
  lrScale?: Record<string, number>;
  /** Device updates: |W| mapped onto a pair's full conductance range (absent: headroom × max |W₀| per layer). */
  weightRange?: number;
  /** Device updates without weightRange: the representable range as a multiple of max |W₀|. */
  headroom: number;
  /** Device updates: offset of every written device's initial conductance, as a fraction of G_min (0: none; NeuroSim's MLP: −1). */
  programOffset: number;
}

export interface PlanEvaluate {
  batch: number;
  /** Seconds since programming at which to evaluate (conductance drift). */
  time: number;
  /** Independent evaluations (fresh read noise each). */
  repeats: number;
}

/** A crossbar as layers map to it: every field resolved (src/model/crossbar.ts). */
export type PlanCrossbar = CrossbarSpec;

export interface PlanExperiment {
  name: string;
  fidelity: 'ideal' | 'fast' | 'exact';
  network: PlanNetwork;
  /** Crossbars that layers map to, by name. */
  crossbars: Record<string, PlanCrossbar>;
  data: PlanData;
  /** Absent for inference-only experiments. */
  train?: PlanTrain;
  evaluate: PlanEvaluate;
  seed: number;
  outDir: string;
  /** memoryBytes = memory.peakBytes: the estimated peak resident memory of the run (src/compiler/memory.ts). */
  estimate: { memoryBytes: number; flopsPerTrainStep: number; flopsPerEvalSample: number; memory?: PlanMemory };
  /** The sweep point this experiment is, when it comes from a sweep. */
  point?: { index: number; of: number; assignments: Record<string, string> };
}

/** The memory model's estimate (bytes; docs/running.md, "Memory"). */
export interface PlanMemory {
  /** The whole run's peak: fixed + train + eval + max(calibration, statistics) + noise; what the machine must have free. */
  peakBytes: number;
  /** Working set of the training step at train.batch (0 without training). */
  trainBytes: number;
  /** Working set of an evaluation at evaluate.batch. */
  evalBytes: number;
  /** Crossbar runs: the calibration graph's working set (released after each calibration). */
  calibrationBytes: number;
  /** Crossbar runs: the statistics graph's working set (released after it). */
  statisticsBytes: number;
  /** Fidelity fast with read noise: the fed noise factors. */
  noiseBytes: number;
  /** Runtime floor, data set, parameters and optimizer state, sessions. */
  fixedBytes: number;
  /** Per layer: bytes it adds to the training step (saved for backward) and its evaluation transient. */
  layers: { name: string; trainBytes: number; evalBytes: number }[];
}

export interface Plan {
  version: typeof PLAN_VERSION;
  tool: { name: 'xbarc'; version: string };
  /** sha256 of the resolved spec text (stable across formatting of the same values). */
  specHash: string;
  experiments: PlanExperiment[];
}

/** One compiled experiment (or sweep point): its plan, the resolved spec and the spec hash. */
export interface CompiledExperiment {
  plan: PlanExperiment;
  resolved: Record<string, unknown>;
  specHash: string;
}
