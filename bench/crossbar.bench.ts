/**
 * Crossbar benchmarks (issue 4): the fast-fidelity (TxSim) LeNet-5 train step with forward and
 * backward on 64×64 crossbars (D2D variation fed as inputs) against the ideal step; exact-fidelity
 * inference (8 input streams × 4 weight slices, one 8-bit ADC per tile × stream × slice) in
 * images/s, and its effective GFLOP/s (the MatMul work of all conversions) against the plain
 * GEMM throughput measured in the same run.
 */

import { withMerges } from '../src/compiler/merges.js';
import type { PlanCrossbar, PlanExperiment, NonidealStage } from '../src/compiler/plan-types.js';
import { weightSlices, crossbarConfig, inputEncoding, inputSigned } from '../src/runtime/crossbar/config.js';
import { CrossbarRuntime } from '../src/runtime/crossbar/runtime.js';
import { lenet5, mnistExperiment, sgd } from '../src/runtime/engine/plan-builder.js';
import { Trainer } from '../src/runtime/engine/trainer.js';
import { Rng } from '../src/runtime/rng.js';
import { benchGemmGflops } from './engine.bench.js';
import { timeIt, type Row, type Section } from './harness.js';

const THREADS = 2;

function xb64(d2d: number): PlanCrossbar {
  const adc = { bits: 8, range: { kind: 'calibrate', percentile: 0.999 }, offset: 0, gain_error: 0, inl: 0 };
  return {
    name: 'xb64',
    settings: { size: [64, 64], mapping: 'differential', weight_bits: 8, cell_bits: 2, input_bits: 8, dac_bits: 1, adc, parasitics: { kind: 'none' }, backward: { input_bits: 8, dac_bits: 1, adc } },
    device: { name: 'rram', levels: 4, r_on: 100e3, on_off: 10, v_read: 0.25, d2d_sigma: d2d, d2d_dist: 'normal', read_noise: 0, drift_nu: 0, drift_t0: 1, p_sa0: 0, p_sa1: 0, update: { kind: 'ideal' } },
  };
}

function crossbarLenet(fidelity: 'fast' | 'exact', nonideal: NonidealStage[], d2d: number, batch: number): PlanExperiment {
  const exp = mnistExperiment({ network: lenet5(), train: { epochs: 1, batch, optimizer: sgd(0.01, 0.9) } });
  for (const l of exp.network.layers) if (l.mapping) Object.assign(l.mapping, { target: 'crossbar', crossbar: 'xb64' });
  exp.fidelity = fidelity;
  exp.crossbars = { xb64: xb64(d2d) };
  exp.train!.nonideal = nonideal;
  return withMerges(exp);
}

async function trainer(exp: PlanExperiment, mergeLossless = true): Promise<{ trainer: Trainer; xb: CrossbarRuntime }> {
  const xb = CrossbarRuntime.create(exp, THREADS, { mergeLossless })!;
  const t = await Trainer.create(exp, { threads: THREADS, mvm: xb.trainSelector, evalMvm: xb.evalSelector, sideFeeds: xb.sideFeeds });
  return { trainer: t, xb };
}

function batchOf(n: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(1, 'bench/lenet-batch');
  return { x: rng.fillNormal(new Float32Array(n * 784)), y: Int32Array.from({ length: n }, () => rng.int(10)) };
}

/**
 * Median ms of one fast-fidelity LeNet-5 SGD step (forward + backward on the crossbar) and of the
 * ideal step, measured interleaved (ideal, fast, ideal, …) so that load changes on a shared
 * machine hit both alike.
 */
export async function benchFastVsIdealStep(batch = 64, reps = 60): Promise<{ fastMs: number; idealMs: number }> {
  const { trainer: fast, xb } = await trainer(crossbarLenet('fast', ['forward', 'backward', 'update'], 0.03, batch));
  const idealExp = crossbarLenet('fast', [], 0, batch);
  idealExp.fidelity = 'ideal';
  const ideal = await Trainer.create(idealExp, { threads: THREADS });
  try {
    const { x, y } = batchOf(batch);
    for (let i = 0; i < 10; i++) {
      await ideal.step(x, y, 0.01);
      await fast.step(x, y, 0.01);
    }
    const ti: number[] = [];
    const tf: number[] = [];
    for (let i = 0; i < reps; i++) {
      let t0 = performance.now();
      await ideal.step(x, y, 0.01);
      ti.push(performance.now() - t0);
      t0 = performance.now();
      await fast.step(x, y, 0.01);
      tf.push(performance.now() - t0);
    }
    const median = (a: number[]): number => a.sort((p, q) => p - q)[a.length >> 1]!;
    return { fastMs: median(tf), idealMs: median(ti) };
  } finally {
    await fast.release();
    await ideal.release();
    await xb.release();
  }
}

/** Multiply–accumulates of all exact conversions for one image (padded tiles, every stream, plane and slice). */
function exactMacsPerImage(exp: PlanExperiment): number {
  let macs = 0;
  for (const l of exp.network.layers) {
    if (l.mapping?.target !== 'crossbar') continue;
    const c = crossbarConfig(exp.crossbars['xb64']!);
    const { rows: K, cols: N } = l.mapping.matrix;
    const R = Math.min(c.rows, K);
    const J = inputEncoding(c.inputBits, c.dacBits, inputSigned(exp.network, l)).streams;
    const L = l.op.kind === 'conv2d' ? l.outputShape[1]! * l.outputShape[2]! : 1;
    macs += J * 2 * weightSlices(c) * Math.ceil(K / R) * R * N * L;
  }
  return macs;
}

/** Exact-fidelity inference: images/s and effective GFLOP/s on batches of `batch`. */
export async function benchExactInference(batch = 64, mergeLossless = false): Promise<{ imagesPerSecond: number; gflops: number; streams: number; slices: number }> {
  const exp = crossbarLenet('exact', [], 0, batch);
  const { trainer: t, xb } = await trainer(exp, mergeLossless);
  try {
    const { x, y } = batchOf(batch);
    await xb.calibrate(t, x, y);
    const timing = await timeIt(() => t.evaluate(x, y), { warmup: 2, reps: 10 });
    const imagesPerSecond = batch / (timing.medianMs / 1000);
    const c = crossbarConfig(exp.crossbars['xb64']!);
    return { imagesPerSecond, gflops: (2 * exactMacsPerImage(exp) * imagesPerSecond) / 1e9, streams: c.inputBits / c.dacBits, slices: weightSlices(c) };
  } finally {
    await t.release();
    await xb.release();
  }
}

export const section: Section = {
  name: 'crossbar (fast / exact fidelity, 2 threads)',
  async run(): Promise<Row[]> {
    const gemm = await benchGemmGflops({ threads: THREADS });
    const steps = await benchFastVsIdealStep();
    const exact = await benchExactInference();
    const merged = await benchExactInference(64, true);
    const idealRow: Row = { name: 'LeNet-5 step, ideal (median, interleaved)', value: steps.idealMs, unit: 'ms' };
    const gemmRow: Row = { name: 'MatMul 1024² throughput', value: gemm, unit: 'GFLOP/s' };
    return [
      gemmRow,
      idealRow,
      { name: 'LeNet-5 step, fast crossbar fwd+bwd, D2D 3 % (median)', value: steps.fastMs, unit: 'ms', baseline: { name: idealRow.name, value: idealRow.value }, note: 'goal ≤ 1.3× ideal' },
      { name: `LeNet-5 exact inference (${exact.streams} streams × ${exact.slices} slices, every conversion, batch 64)`, value: exact.imagesPerSecond, unit: 'images/s' },
      { name: 'LeNet-5 exact inference, lossless merge applied (one GEMM per MVM)', value: merged.imagesPerSecond, unit: 'images/s', note: 'the same numbers as per-conversion exact (8-bit ADC on 64-row tiles is lossless)' },
      { name: 'LeNet-5 exact inference, effective throughput', value: exact.gflops, unit: 'GFLOP/s', baseline: { name: gemmRow.name, value: gemmRow.value }, note: 'MatMul work of every conversion; goal ≥ 0.5× GEMM' },
    ];
  },
};
