/**
 * The training loop: epochs of shuffled mini-batches through a Trainer, a test-set evaluation
 * after each epoch, the learning-rate schedule, divergence and abort handling. Inference-only
 * experiments (no `train` section) are evaluated once.
 */

import type { PlanExperiment, PlanTrain } from '../../model/plan.js';
import { epochDraws, epochOrder, gatherBatch, type Dataset, type Split } from '../data/index.js';
import { XbarcError, XbarcRuntimeError } from '../../model/errors.js';
import { calibrationBatch, CrossbarRuntime, type LayerStats } from '../crossbar/runtime.js';
import { DeviceUpdater, type DeviceUpdaterOptions, type LayerDevices } from '../devices/training.js';
import { FrozenEvaluation, type BatchEvaluator } from './frozen-eval.js';
import { resolveEngine, type EngineSettings } from './session.js';
import { spreadOf, type Spread } from './spread.js';
import { Trainer, type StepsResult, type TrainerOptions } from './trainer.js';

export interface Progress {
  phase: 'train' | 'eval';
  /** 1-based; 0 for the evaluation of an inference-only experiment. */
  epoch: number;
  epochs: number;
  /** 1-based batch within the phase. */
  batch: number;
  batches: number;
  /** Running mean loss and accuracy of the phase so far. */
  loss: number;
  accuracy: number;
  elapsedMs: number;
}

export interface EpochResult {
  epoch: number;
  lr: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  seconds: number;
}

/** evaluate.repeats > 1: the spread of the final evaluations (final's numbers are their means). */
export interface RepeatedEvaluation {
  n: number;
  testAccuracy: Spread;
  testLoss: Spread;
}

export interface ExperimentOutcome {
  experiment: string;
  epochs: EpochResult[];
  final: { testAccuracy: number; testLoss: number; repeats?: RepeatedEvaluation };
  /** Training steps (optimizer updates) per second of training time; 0 without training. */
  stepsPerSecond: number;
  steps: number;
  totalSeconds: number;
  /** Final parameters and batchnorm statistics, when `returnWeights` was set. */
  weights?: Record<string, Float32Array>;
  /** Per crossbar layer statistics (fidelity fast/exact). */
  layers?: LayerStats[];
  /** Final device state of the layers trained through update models, when `returnDevices` was set. */
  devices?: LayerDevices[];
  /** The threads and spinning every session of the run used (the numbers depend on the threads). */
  engine: EngineSettings;
}

export interface RunOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  trainer?: TrainerOptions;
  returnWeights?: boolean;
  /** Crossbar execution options (exact merges on by default). */
  crossbar?: { mergeLossless?: boolean };
  /** Device update model options (train.nonideal ∋ update). */
  deviceUpdate?: DeviceUpdaterOptions;
  /** Return the final device conductances of the layers trained through update models. */
  returnDevices?: boolean;
  /**
   * Evaluate through graphs with the weights frozen in (engine/frozen-eval.ts): `true` always,
   * `false` never, absent where it pays (`freezingPays`).
   */
  frozenEvaluation?: boolean;
}

/** Learning rate for a 1-based epoch: constant, step decay, or cosine annealing (per epoch). */
export function learningRate(train: PlanTrain, epoch: number): number {
  const base = train.optimizer.lr;
  const s = train.schedule;
  switch (s.kind) {
    case 'constant':
      return base;
    case 'step':
      return base * s.gamma ** Math.floor((epoch - 1) / s.stepEpochs);
    case 'cosine':
      return 0.5 * base * (1 + Math.cos((Math.PI * (epoch - 1)) / train.epochs));
  }
}

export async function runExperiment(exp: PlanExperiment, data: Dataset, opts: RunOptions = {}): Promise<ExperimentOutcome> {
  checkData(exp, data);
  const started = performance.now();
  // Crossbar layers at fidelity fast/exact (unless the caller chose its own MVM emitters).
  // One engine setting for every session of the run: trainer, calibration and statistics.
  const engine = resolveEngine(opts.trainer);
  const xb = opts.trainer?.mvm ? null : CrossbarRuntime.create(exp, engine, opts.crossbar);
  const trainerOpts = xb
    ? { ...opts.trainer, ...engine, mvm: xb.trainSelector, evalMvm: xb.evalSelector, sideFeeds: xb.sideFeeds }
    : { ...opts.trainer, ...engine };
  // Dense layers trained through device update models get their inputs from every step: at plain
  // SGD a zero input row leaves its row of ΔW at exactly 0, and the updater skips it.
  const layerInputs = xb ? rankOneLayers(exp) : [];
  // At batch 1 the updater forms their ΔW itself (the graph's float32 steps): the step neither
  // updates nor returns those weights (TrainerOptions.externalUpdates).
  const externalUpdates = exp.train?.batch === 1 ? layerInputs : [];
  const trainer = await Trainer.create(exp, layerInputs.length > 0 ? { ...trainerOpts, layerInputs, externalUpdates } : trainerOpts);
  xb?.setWeightSource((layer) => trainer.peekState(`${layer}/weight`));
  const evaluation = new FrozenEvaluation(trainer, {
    mvm: trainerOpts.evalMvm ?? trainerOpts.mvm,
    loss: exp.train?.loss,
    sideFeeds: trainerOpts.sideFeeds,
    engine,
    ...(opts.frozenEvaluation !== undefined ? { when: opts.frozenEvaluation ? 'always' : 'never' } : {}),
  });
  // Device update models (train.nonideal ∋ update): program the initial weights onto the devices,
  // train on their read-back, and write every step's ΔW through the update model.
  // The weight ↔ conductance mapping: the plan's train.weight_range / headroom, API options over them.
  const updater = xb
    ? DeviceUpdater.create(
        exp,
        trainer.getWeights(),
        new Map(
          trainer
            .describeState()
            .params.filter((p) => p.role === 'weight')
            .map((p) => [p.layer, p.name]),
        ),
        opts.deviceUpdate ?? {},
      )
    : null;
  let stepLr = exp.train ? learningRate(exp.train, 1) : 1;
  if (updater) {
    trainer.setState(updater.readBack());
    // The update needs the step's learning rate (txsim's write noise acts on ΔW/LR); it is constant within an epoch.
    trainer.setStepHook((before, after, step) => updater.update(before, after, stepLr, step.layerInputs, step.errors));
  }
  const clock = { started, lastYield: started };
  const cal = xb ? calibrationBatch(data) : null;
  // Calibrated ranges make evaluation independent of the batch split: exact graphs evaluate in
  // chunks of at most 64 samples to bound their memory.
  const evalBatch = xb && exp.fidelity === 'exact' ? Math.min(exp.evaluate.batch, 64) : exp.evaluate.batch;
  const beforeEval = async (): Promise<void> => {
    await checkpoint(opts.signal, clock);
    if (xb && cal) await xb.calibrate(trainer, cal.x, cal.y);
  };
  try {
    await checkpoint(opts.signal, clock);
    const epochs: EpochResult[] = [];
    let trainMs = 0;
    if (exp.train && stepsPerRun(trainer, exp.train.batch) > 1) await trainer.prepareSteps();
    if (exp.train) {
      for (let epoch = 1; epoch <= exp.train.epochs; epoch++) {
        const t0 = performance.now();
        stepLr = learningRate(exp.train, epoch);
        const train = await trainEpoch(trainer, exp, data, epoch, opts, clock);
        trainMs += performance.now() - t0;
        await beforeEval();
        const test = await evaluateSplit(evaluation, data.test, evalBatch, { epoch, epochs: exp.train.epochs, opts, clock });
        epochs.push({
          epoch,
          lr: learningRate(exp.train, epoch),
          ...train,
          testLoss: test.loss,
          testAccuracy: test.accuracy,
          seconds: (performance.now() - t0) / 1000,
        });
      }
    }
    const first =
      epochs.length > 0
        ? { testAccuracy: epochs[epochs.length - 1]!.testAccuracy, testLoss: epochs[epochs.length - 1]!.testLoss }
        : (await beforeEval(), await finalEvaluation(evaluation, data, evalBatch, opts, clock));
    const final = await repeatFinal(first, exp.evaluate.repeats ?? 1, () =>
      evaluateSplit(evaluation, data.test, evalBatch, { epoch: 0, epochs: 0, opts: quiet(opts), clock }),
    );
    const outcome: ExperimentOutcome = {
      experiment: exp.name,
      epochs,
      final,
      stepsPerSecond: trainMs > 0 ? trainer.stepCount / (trainMs / 1000) : 0,
      steps: trainer.stepCount,
      totalSeconds: (performance.now() - started) / 1000,
      engine,
    };
    if (opts.returnWeights) outcome.weights = trainer.getWeights();
    if (opts.returnDevices && updater) outcome.devices = updater.layers;
    if (xb) {
      await checkpoint(opts.signal, clock);
      const n = Math.min(500, data.test.count);
      const per = n === 0 ? 0 : data.test.x.length / data.test.count;
      if (n > 0) outcome.layers = await xb.stats(trainer, data.test.x.subarray(0, n * per), data.test.y.subarray(0, n), statsChunk(exp), updater?.describe());
    }
    return outcome;
  } finally {
    await evaluation.release();
    await trainer.release();
    await xb?.release();
  }
}

/**
 * Samples per run of the statistics graph: 250 (exact: 50), and never more than the largest
 * batch the run already used, so that the statistics do not raise the peak memory above the
 * training and evaluation (a 250-sample run on batch-128 ResNet-20 with read noise added 227 MiB).
 */
export function statsChunk(exp: PlanExperiment): number {
  const used = Math.max(exp.train?.batch ?? 0, exp.evaluate.batch);
  return Math.min(exp.fidelity === 'exact' ? 50 : 250, used);
}

/**
 * evaluate.repeats: the first evaluation plus n − 1 more of the same trained network, each with
 * fresh read noise (the noise streams advance per run); the final numbers are their means.
 */
async function repeatFinal(
  first: ExperimentOutcome['final'],
  n: number,
  again: () => Promise<{ loss: number; accuracy: number }>,
): Promise<ExperimentOutcome['final']> {
  if (n <= 1) return first;
  const acc = [first.testAccuracy];
  const loss = [first.testLoss];
  for (let i = 1; i < n; i++) {
    const r = await again();
    acc.push(r.accuracy);
    loss.push(r.loss);
  }
  const a = spreadOf(acc);
  const l = spreadOf(loss);
  return { testAccuracy: a.mean, testLoss: l.mean, repeats: { n, testAccuracy: a, testLoss: l } };
}

/** The options without progress reporting (repeated evaluations draw no bars). */
function quiet(opts: RunOptions): RunOptions {
  return opts.signal ? { signal: opts.signal } : {};
}

async function finalEvaluation(
  evaluation: FrozenEvaluation,
  data: Dataset,
  batch: number,
  opts: RunOptions,
  clock: Clock,
): Promise<ExperimentOutcome['final']> {
  const r = await evaluateSplit(evaluation, data.test, batch, { epoch: 0, epochs: 0, opts, clock });
  return { testAccuracy: r.accuracy, testLoss: r.loss };
}

interface Clock {
  started: number;
  lastYield: number;
}

async function trainEpoch(
  trainer: Trainer,
  exp: PlanExperiment,
  data: Dataset,
  epoch: number,
  opts: RunOptions,
  clock: Clock,
): Promise<{ trainLoss: number; trainAccuracy: number }> {
  const train = exp.train!;
  const split = data.train;
  const order = !exp.data.shuffle
    ? Int32Array.from({ length: split.count }, (_, i) => i)
    : train.sampling === 'replacement'
      ? epochDraws(split.count, exp.seed, epoch)
      : epochOrder(split.count, exp.seed, epoch);
  const batches = Math.ceil(split.count / train.batch);
  const full = Math.floor(split.count / train.batch);
  const lr = learningRate(train, epoch);
  // Full batches go K at a time through one run where the trainer can (Trainer.steps), the short
  // last batch on its own; progress and the abort check come once per run.
  const perRun = stepsPerRun(trainer, train.batch);
  const buffers = { x: new Float32Array(perRun * train.batch * sampleSize(split)), y: new Int32Array(perRun * train.batch) };
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  for (let b = 0; b < batches;) {
    await checkpoint(opts.signal, clock);
    const k = b < full ? Math.min(perRun, full - b) : 1;
    const chunk = gatherBatch(split, order, b * train.batch, k * train.batch, buffers);
    const size = k === 1 ? chunk.count : train.batch;
    const r = await stepsWithContext(trainer, chunk, size, lr, epoch, b);
    for (let i = 0; i < k; i++) {
      lossSum += r.losses[i]! * size;
      correct += r.corrects[i]!;
      seen += size;
    }
    b += k;
    opts.onProgress?.({
      phase: 'train',
      epoch,
      epochs: train.epochs,
      batch: b,
      batches,
      loss: lossSum / seen,
      accuracy: correct / seen,
      elapsedMs: performance.now() - clock.started,
    });
  }
  return { trainLoss: lossSum / Math.max(1, seen), trainAccuracy: correct / Math.max(1, seen) };
}

/**
 * Samples per run of the training loop at small batches: 64 batch-1 steps in one run cost about
 * 0.6× as many as 64 runs (docs/running.md, "Online learning (batch 1)"); progress stays frequent.
 */
const CHUNK_SAMPLES = 64;

const stepsPerRun = (trainer: Trainer, batch: number): number => (trainer.chunked() ? Math.max(1, Math.floor(CHUNK_SAMPLES / batch)) : 1);

/**
 * The dense layers whose ΔW rows the device updater can skip from the step's layer input: layers
 * with an update model (crossbar-mapped; the updater ignores the others) under plain SGD — with
 * momentum or weight decay, a zero input row still moves.
 */
function rankOneLayers(exp: PlanExperiment): string[] {
  const t = exp.train;
  if (!t || !t.nonideal.includes('update') || t.optimizer.kind !== 'sgd' || t.optimizer.momentum !== 0 || t.optimizer.weightDecay !== 0) return [];
  return exp.network.layers.filter((l) => l.op.kind === 'dense' && l.mapping?.target === 'crossbar').map((l) => l.name);
}

/** A divergence error gains the epoch and batch it happened in (`first`: 0-based batch of the chunk's first step). */
async function stepsWithContext(trainer: Trainer, chunk: Split, batch: number, lr: number, epoch: number, first: number): Promise<StepsResult> {
  const before = trainer.stepCount;
  try {
    return await trainer.steps(chunk.x, chunk.y, batch, lr);
  } catch (err) {
    if (err instanceof XbarcError && err.code === 'engine/non-finite') {
      // The failing step was counted: the trainer's count is now its 1-based number.
      throw new XbarcRuntimeError(err.code, `${err.message} (epoch ${epoch}, batch ${first + trainer.stepCount - before}, lr ${lr})`);
    }
    throw err;
  }
}

/** Mean loss and accuracy over a split, in eval mode: by the trainer's graph, or a frozen one where it pays. */
export async function evaluateSplit(
  source: Trainer | FrozenEvaluation,
  split: Split,
  batchSize: number,
  ctx?: { epoch: number; epochs: number; opts: RunOptions; clock: Clock },
): Promise<{ loss: number; accuracy: number }> {
  const evaluator: BatchEvaluator = source instanceof FrozenEvaluation ? await source.begin(split.count) : source;
  const batches = Math.ceil(split.count / batchSize);
  const per = sampleSize(split);
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  for (let b = 0; b < batches; b++) {
    if (ctx) await checkpoint(ctx.opts.signal, ctx.clock);
    const start = b * batchSize;
    const n = Math.min(batchSize, split.count - start);
    const r = await evaluator.evaluate(split.x.subarray(start * per, (start + n) * per), split.y.subarray(start, start + n));
    lossSum += r.lossSum;
    correct += r.correct;
    seen += n;
    ctx?.opts.onProgress?.({
      phase: 'eval',
      epoch: ctx.epoch,
      epochs: ctx.epochs,
      batch: b + 1,
      batches,
      loss: lossSum / seen,
      accuracy: correct / seen,
      elapsedMs: performance.now() - ctx.clock.started,
    });
  }
  return { loss: lossSum / Math.max(1, seen), accuracy: correct / Math.max(1, seen) };
}

const aborted = (): XbarcRuntimeError => new XbarcRuntimeError('engine/aborted', 'the experiment run was aborted');

/** Abort check, and a periodic turn of the event loop (run() itself blocks it). */
async function checkpoint(signal: AbortSignal | undefined, clock: Clock): Promise<void> {
  if (performance.now() - clock.lastYield > 50) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    clock.lastYield = performance.now();
  }
  if (signal?.aborted) throw aborted();
}

function sampleSize(split: Split): number {
  return split.count === 0 ? 0 : split.x.length / split.count;
}

function checkData(exp: PlanExperiment, data: Dataset): void {
  const want = exp.network.inputShape.reduce((a, b) => a * b, 1);
  const have = data.shape.reduce((a, b) => a * b, 1);
  if (want !== have) {
    throw new XbarcRuntimeError(
      'engine/data-shape',
      `network "${exp.network.name}" expects inputs [${exp.network.inputShape.join(', ')}] but data set "${data.name}" has samples [${data.shape.join(', ')}]`,
    );
  }
  if (data.classes > exp.network.classes) {
    throw new XbarcRuntimeError(
      'engine/data-shape',
      `data set "${data.name}" has ${data.classes} classes but network "${exp.network.name}" outputs ${exp.network.classes}`,
    );
  }
  if (exp.train && data.train.count === 0) throw new XbarcRuntimeError('engine/no-data', `experiment "${exp.name}" trains but the training split is empty`);
}

// ---------------------------------------------------------------------------------------------
// Worker thread: the same loop off the main thread, so progress rendering (or a language server)
// stays responsive while run() blocks.

export type WorkerMessage =
  { type: 'progress'; progress: Progress } | { type: 'done'; outcome: ExperimentOutcome } | { type: 'error'; code: string; message: string };

/** Main thread → worker: stop at the next step boundary (cooperative; see runExperimentInWorker). */
export type WorkerCommand = { type: 'stop' };

export interface WorkerRunOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Worker-side trainer options (only serializable ones: no custom MVM selector). */
  threads?: number;
  spin?: boolean;
  /** Directory for onnxruntime's session profiles (engine/profile.ts). */
  profile?: string;
  returnWeights?: boolean;
}

/**
 * Abort is cooperative: the worker is asked to stop at its next step boundary, releases its ORT
 * sessions and ends on its own. Terminating it instead can land inside a native session.run(),
 * which aborts the whole process (`terminate called after throwing an instance of 'Napi::Error'`).
 * The promise settles only once the worker thread has exited, so callers may exit right after.
 */
export async function runExperimentInWorker(exp: PlanExperiment, data: Dataset, opts: WorkerRunOptions = {}): Promise<ExperimentOutcome> {
  const { Worker } = await import('node:worker_threads');
  if (opts.signal?.aborted) throw aborted();
  const worker = new Worker(new URL('./worker.js', import.meta.url), {
    workerData: { exp, data, threads: opts.threads, spin: opts.spin, profile: opts.profile, returnWeights: opts.returnWeights ?? false },
  });
  return new Promise<ExperimentOutcome>((resolve, reject) => {
    let outcome: ExperimentOutcome | undefined;
    let failure: Error | undefined;
    const onAbort = (): void => worker.postMessage({ type: 'stop' } satisfies WorkerCommand);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') opts.onProgress?.(m.progress);
      else if (m.type === 'done') outcome = m.outcome;
      else failure ??= new XbarcRuntimeError(m.code, m.message);
    });
    worker.on('error', (err) => {
      failure ??= new XbarcRuntimeError('engine/worker', `training worker failed: ${err.message}`);
    });
    worker.once('exit', (code) => {
      opts.signal?.removeEventListener('abort', onAbort);
      // An abort wins over a result that raced it: the caller asked for nothing to be written.
      if (opts.signal?.aborted) reject(aborted());
      else if (failure) reject(failure);
      else if (outcome) resolve(outcome);
      else reject(new XbarcRuntimeError('engine/worker', `training worker exited (code ${code}) without a result`));
    });
  });
}
