/**
 * Device update models in training (train.nonideal ∋ update; src/runtime/devices): every step
 * writes ΔW through the device's update model on differential pairs and trains on the read-back.
 *
 *  (a) the fast-fidelity MLP 784-256-128-10 step (batch 64) with aihwkit's constant_step device
 *      (the language's defaults: dw_min 0.001, 30 % device-to-device and cycle-to-cycle spread)
 *      against the same step with a digital update — goal ≤ 1.5×;
 *  (b) the fast-fidelity LeNet-5 step (batch 64) with TxSim's update (v = 0.01, γ = 5, write noise
 *      on every device) against the same step with a digital update — goal ≤ 1.3×;
 *  (c) batch-1 online learning of a 784-300-10 MLP with the NeuroSim pulse model (TaOx/HfOx:
 *      128 levels, α 0.04 / −0.63, C2C 3.7 %): the update part per sample, on real steps (a digital
 *      trainer proposes ΔW), extrapolated to an 8,000-sample epoch — goal ≤ 3 s. Pixels in [0, 1]
 *      as in NeuroSim (a zero pixel leaves its whole row of ΔW at 0), and, for comparison, with
 *      the usual mean/std normalization (no zero rows; the zero columns of inactive ReLUs remain).
 *
 * (a) and (b) run the whole step (ORT forward + backward on the crossbar model, then the update
 * hook), measured interleaved in blocks as in crossbar.bench.ts.
 */

import { withMerges } from '../src/compiler/merges.js';
import type { NonidealStage, PlanCrossbar, PlanExperiment, PlanNetwork } from '../src/model/plan.js';
import type { UpdateModelSpec } from '../src/model/crossbar.js';
import { adc, xbConfig } from '../test/runtime/crossbar-helpers.js';
import { CrossbarRuntime } from '../src/runtime/crossbar/runtime.js';
import { loadDataset } from '../src/runtime/data/index.js';
import { DeviceUpdater } from '../src/runtime/devices/training.js';
import { lenet5, mlp, mnistExperiment, sgd } from '../test/support/plan-builder.js';
import { runExperiment } from '../src/runtime/engine/run-experiment.js';
import { Trainer } from '../src/runtime/engine/trainer.js';
import { Rng } from '../src/runtime/rng.js';
import { interleavedMedians, median, type Row, type Section } from './harness.js';

const THREADS = 2;
const TXSIM_WIRES = { row: 1, col: 4.6, source: 0, sense: 0 };

/** aihwkit's ConstantStep with the language's defaults. */
export const CONSTANT_STEP: UpdateModelSpec = { kind: 'constant_step', dw_min: 0.001, up_down: 0, dw_min_dtod: 0.3, dw_min_std: 0.3, w_min: -0.6, w_max: 0.6 };
/** TxSim's default update (std/devices AgSi_TxSim). */
export const TXSIM: UpdateModelSpec = { kind: 'txsim', v: 0.01, gamma: 5, noise: 'gradient', nonlinearity: 'step', pulses: 1 };
/** TaOx/HfOx (std/devices): the NeuroSim pulse model. */
export const TAOX: UpdateModelSpec = { kind: 'nonlinear', ltp: 0.04, ltd: -0.63, c2c: 0.037, d2d: 0 };

function xb64(update: UpdateModelSpec, levels = 4): PlanCrossbar {
  const calibrated = adc(8, { kind: 'calibrate', percentile: 0.999 });
  return xbConfig(
    { name: 'xb64', adc: calibrated, backward: { inputBits: 8, dacBits: 1, adc: calibrated }, wires: TXSIM_WIRES },
    { name: 'rram', d2dSigma: 0.03, levels, update },
  );
}

function onCrossbar(
  network: PlanNetwork,
  nonideal: NonidealStage[],
  update: UpdateModelSpec,
  batch: number,
  opts: { levels?: number; lr?: number; momentum?: number; mean?: number; std?: number } = {},
): PlanExperiment {
  const exp = mnistExperiment({ network, train: { epochs: 1, batch, optimizer: sgd(opts.lr ?? 0.01, opts.momentum ?? 0.9) } });
  for (const l of exp.network.layers) if (l.mapping) Object.assign(l.mapping, { target: 'crossbar', crossbar: 'xb64' });
  exp.fidelity = 'fast';
  exp.crossbars = { xb64: xb64(update, opts.levels) };
  exp.train!.nonideal = nonideal;
  if (opts.mean !== undefined) exp.data.normalize = { mean: opts.mean, std: opts.std ?? 1 };
  return withMerges(exp);
}

function weightParams(t: Trainer): Map<string, string> {
  return new Map(
    t
      .describeState()
      .params.filter((p) => p.role === 'weight')
      .map((p) => [p.layer, p.name]),
  );
}

/** A trainer on the crossbar model; with `update` in nonideal, wired to a DeviceUpdater as runExperiment does. */
async function crossbarTrainer(exp: PlanExperiment): Promise<{ trainer: Trainer; xb: CrossbarRuntime; updater: DeviceUpdater | null; updateMs: number[] }> {
  const xb = CrossbarRuntime.create(exp, { threads: THREADS })!;
  const trainer = await Trainer.create(exp, { threads: THREADS, mvm: xb.trainSelector, evalMvm: xb.evalSelector, sideFeeds: xb.sideFeeds });
  xb.setWeightSource((layer) => trainer.peekState(`${layer}/weight`));
  const updater = DeviceUpdater.create(exp, trainer.getWeights(), weightParams(trainer));
  const updateMs: number[] = [];
  if (updater) hook(trainer, updater, updateMs);
  return { trainer, xb, updater, updateMs };
}

/**
 * Train on the devices' read-back and write each step through the updater (as runExperiment does),
 * timing each update; `rows`: with the dense layers' inputs, as runExperiment passes them at plain SGD.
 */
function hook(trainer: Trainer, updater: DeviceUpdater, times: number[], rows = false): void {
  trainer.setState(updater.readBack());
  trainer.setStepHook((before, after, step) => {
    const t0 = performance.now();
    updater.update(before, after, 0.01, rows ? step.layerInputs : undefined);
    times.push(performance.now() - t0);
  });
}

function batchOf(n: number, features: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(1, 'bench/devices-batch');
  return { x: rng.fillNormal(new Float32Array(n * features)), y: Int32Array.from({ length: n }, () => rng.int(10)) };
}

export interface UpdateStepResult {
  digitalMs: number;
  deviceMs: number;
  /** Median ms per step spent in DeviceUpdater.update. */
  updateMs: number;
}

/**
 * Median ms of the fast step with the device update model and of the same step with a digital
 * update (nonideal [forward, backward]), interleaved; the device run's learning rate is small
 * enough that the weights stay in range over the repeated batch.
 */
export async function benchUpdateStep(network: () => PlanNetwork, update: UpdateModelSpec, batch = 64, reps = 40): Promise<UpdateStepResult> {
  const digital = await crossbarTrainer(onCrossbar(network(), ['forward', 'backward'], update, batch));
  const device = await crossbarTrainer(onCrossbar(network(), ['forward', 'backward', 'update'], update, batch));
  try {
    const { x, y } = batchOf(batch, 784);
    for (let i = 0; i < 8; i++) {
      await digital.trainer.step(x, y, 0.01);
      await device.trainer.step(x, y, 0.01);
    }
    device.updateMs.length = 0;
    const [digitalMs, deviceMs] = await interleavedMedians([() => digital.trainer.step(x, y, 0.01), () => device.trainer.step(x, y, 0.01)], reps);
    return { digitalMs: digitalMs!, deviceMs: deviceMs!, updateMs: median(device.updateMs) };
  } finally {
    for (const r of [digital, device]) {
      await r.trainer.release();
      await r.xb.release();
    }
  }
}

/**
 * Batch-1 online learning of a 784-300-10 MLP with the NeuroSim pulse model: a digital trainer
 * proposes each sample's ΔW (plain SGD, lr 0.01) and a DeviceUpdater writes it; returns the mean
 * median (and mean) ms of DeviceUpdater.update per sample over `samples` samples of the embedded
 * MNIST set, after 50 warm-up samples. `rows`: the updater gets the layers' inputs and scans only
 * the rows of non-zero inputs (runExperiment's path); else it scans every weight.
 */
export async function benchOnlineUpdate(samples = 400, rawPixels = true, rows = true): Promise<{ msPerSample: number; meanMs: number; samples: number }> {
  const net = (): PlanNetwork => mlp([300]);
  const devExp = onCrossbar(net(), ['forward', 'backward', 'update'], TAOX, 1, { levels: 128, momentum: 0, ...(rawPixels ? { mean: 0, std: 1 } : {}) });
  devExp.data.source = { kind: 'mnist', train: samples, test: 10 };
  const digitalExp = mnistExperiment({ network: net(), train: { epochs: 1, batch: 1, optimizer: sgd(0.01) } });
  digitalExp.data = devExp.data;
  const data = await loadDataset(devExp.data, devExp.seed);
  const trainer = await Trainer.create(digitalExp, { threads: 1, ...(rows ? { layerInputs: ['fc1', 'fc2'] } : {}) });
  try {
    const updater = DeviceUpdater.create(devExp, trainer.getWeights(), weightParams(trainer))!;
    const times: number[] = [];
    hook(trainer, updater, times, rows);
    const per = 784;
    for (let s = 0; s < samples; s++) await trainer.step(data.train.x.subarray(s * per, (s + 1) * per), data.train.y.subarray(s, s + 1), 0.01);
    const warm = Math.min(50, samples >> 2);
    const kept = times.slice(warm);
    return { msPerSample: median(kept), meanMs: kept.reduce((a, b) => a + b, 0) / kept.length, samples: kept.length };
  } finally {
    await trainer.release();
  }
}

/**
 * Whole batch-1 epochs through runExperiment on `samples` digits (pixels in [0, 1]) with the
 * NeuroSim TaOx device: ms per sample of training (no evaluation), with digital forward/backward
 * (train.nonideal = [update]) and with the crossbar model's forward/backward too.
 */
export async function benchOnlineEpochs(samples: number): Promise<{ updateOnly: OnlineEpoch; crossbar: OnlineEpoch; samples: number; stepCpuMs: number }> {
  const run = async (nonideal: NonidealStage[], n: number): Promise<OnlineEpoch & { cpu: number }> => {
    const exp = onCrossbar(mlp([300]), nonideal, TAOX, 1, { levels: 128, momentum: 0, mean: 0, std: 1 });
    exp.data.source = { kind: 'mnist', train: n, test: 10 };
    const data = await loadDataset(exp.data, exp.seed);
    const c0 = process.cpuUsage();
    const out = await runExperiment(exp, data, { trainer: { threads: THREADS } });
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1000;
    return { ms: 1000 / out.stepsPerSecond, cpuMs: cpu / n, cpu };
  };
  const updateOnly = await run(['update'], samples);
  // The set-up (device state of 470k devices, sessions) is the same at any length: a run of a quarter
  // the samples leaves, in the difference, the CPU of the training steps alone.
  const short = await run(['update'], samples >> 2);
  return {
    updateOnly,
    crossbar: await run(['forward', 'backward', 'update'], samples),
    samples,
    stepCpuMs: (updateOnly.cpu - short.cpu) / (samples - (samples >> 2)),
  };
}

/** ms per sample of a training epoch (wall), and CPU ms per sample of the whole run (all threads; set-up and a 10-sample evaluation included). */
interface OnlineEpoch {
  ms: number;
  cpuMs: number;
}

export const section: Section = {
  name: 'device updates (train.nonideal ∋ update, fast fidelity, 2 threads)',
  async run(): Promise<Row[]> {
    const a = await benchUpdateStep(() => mlp([256, 128]), CONSTANT_STEP);
    const b = await benchUpdateStep(lenet5, TXSIM);
    const c = await benchOnlineUpdate(400, true);
    const cFull = await benchOnlineUpdate(400, true, false);
    const cNorm = await benchOnlineUpdate(400, false);
    const epochs = await benchOnlineEpochs(1000);
    const stepRows = (what: string, r: UpdateStepResult, goal: string): Row[] => {
      const base: Row = { name: `${what} step, digital update (median, interleaved in blocks)`, value: r.digitalMs, unit: 'ms' };
      return [
        base,
        { name: `${what} step, device update model (median)`, value: r.deviceMs, unit: 'ms', baseline: { name: base.name, value: base.value }, note: goal },
        { name: `${what} DeviceUpdater.update per step (median)`, value: r.updateMs, unit: 'ms' },
      ];
    };
    return [
      ...stepRows('MLP 784-256-128-10 constant_step, batch 64:', a, 'goal ≤ 1.5× the digital update'),
      ...stepRows('LeNet-5 txsim(v 0.01, γ 5), batch 64:', b, 'goal ≤ 1.3× the digital update'),
      {
        name: 'MLP 784-300-10 NeuroSim pulses (TaOx), batch 1: update per sample, pixels in [0, 1] (median)',
        value: c.msPerSample,
        unit: 'ms',
        note: `${c.samples} samples; mean ${c.meanMs.toFixed(3)} ms`,
      },
      {
        name: 'MLP 784-300-10 NeuroSim pulses (TaOx), batch 1: update of an 8,000-sample epoch (extrapolated)',
        value: (c.msPerSample * 8000) / 1000,
        unit: 's',
        note: `from the median per sample (from the mean: ${((c.meanMs * 8000) / 1000).toFixed(2)} s); goal ≤ 3 s`,
      },
      {
        name: 'MLP 784-300-10 NeuroSim pulses (TaOx), batch 1: update per sample, every weight scanned (median)',
        value: cFull.msPerSample,
        unit: 'ms',
        note: `without the layer inputs (the update before rows were skipped); mean ${cFull.meanMs.toFixed(3)} ms`,
      },
      {
        name: 'MLP 784-300-10 NeuroSim pulses (TaOx), batch 1: digital forward/backward + device update, whole 8,000-sample epoch (extrapolated)',
        value: (epochs.updateOnly.ms * 8000) / 1000,
        unit: 's',
        note: `runExperiment, train.nonideal = [update], ${epochs.samples} samples measured: ${(epochs.updateOnly.ms * 1000).toFixed(0)} µs per sample; goal ≤ 3 s`,
      },
      {
        name: 'same, CPU time of the whole epoch (extrapolated)',
        value: (epochs.updateOnly.cpuMs * 8000) / 1000,
        unit: 's',
        note: `all threads, ${(epochs.updateOnly.cpuMs * 1000).toFixed(0)} µs per sample`,
      },
      {
        name: 'same, CPU time of the training steps alone, 8,000 samples (extrapolated)',
        value: (epochs.stepCpuMs * 8000) / 1000,
        unit: 's',
        note: `all threads, ${(epochs.stepCpuMs * 1000).toFixed(0)} µs per sample: the difference of runs of ${epochs.samples} and ${epochs.samples >> 2} samples (no set-up); goal ≤ 3 s`,
      },
      {
        name: 'same, forward and backward on the crossbar model too (fast fidelity), whole epoch (extrapolated)',
        value: (epochs.crossbar.ms * 8000) / 1000,
        unit: 's',
        note: `train.nonideal = [forward, backward, update]: ${(epochs.crossbar.ms * 1000).toFixed(0)} µs per sample, CPU ${(epochs.crossbar.cpuMs * 1000).toFixed(0)} µs`,
      },
      {
        name: 'MLP 784-300-10 NeuroSim pulses (TaOx), batch 1: update per sample, mean/std-normalized pixels (median)',
        value: cNorm.msPerSample,
        unit: 'ms',
        note: `no zero rows: only the zero columns of inactive ReLUs are exact zeros; mean ${cNorm.meanMs.toFixed(3)} ms`,
      },
    ];
  },
};
