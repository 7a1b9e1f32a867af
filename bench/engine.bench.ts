/**
 * Engine benchmarks: the ideal LeNet-5 SGD step (one ORT run), the same step through the explicit
 * im2col MVM layout the crossbar model builds on, a plain 1024² MatMul, and the accuracy of the
 * reference LeNet-5 / MLP runs on the embedded MNIST split (8,000 train / 2,000 test).
 */

import ort from 'onnxruntime-node';
import { loadDataset } from '../src/runtime/data/index.js';
import { im2colMvm, type MvmSelector } from '../src/runtime/engine/mvm.js';
import { GraphBuilder } from '../src/runtime/engine/onnx.js';
import { openSession } from '../src/runtime/engine/session.js';
import { lenet5, mlp, mnistExperiment, sgd } from '../test/support/plan-builder.js';
import { runExperiment } from '../src/runtime/engine/run-experiment.js';
import { Trainer } from '../src/runtime/engine/trainer.js';
import { Rng } from '../src/runtime/rng.js';
import { timeIt, type Row, type Section, type TimeOptions, type Timing } from './harness.js';

export interface LenetStepResult extends Timing {
  /** Median ms of one SGD step (= medianMs). */
  msPerStep: number;
  /** Wall time of one epoch of 8,000 samples (125 steps at batch 64), measured. */
  epochSeconds: number;
}

const EPOCH_SAMPLES = 8000;

/** Median time of one ideal LeNet-5 momentum-SGD step on a fixed random batch. */
export async function benchIdealLenetStep(opts: { batch?: number; threads?: number; mvm?: MvmSelector } & TimeOptions = {}): Promise<LenetStepResult> {
  const batch = opts.batch ?? 64;
  const exp = mnistExperiment({ network: lenet5(), train: { epochs: 1, batch, optimizer: sgd(0.01, 0.9) } });
  const trainer = await Trainer.create(exp, { threads: opts.threads ?? 2, ...(opts.mvm ? { mvm: opts.mvm } : {}) });
  try {
    const rng = new Rng(1, 'bench/lenet-batch');
    const x = rng.fillNormal(new Float32Array(batch * 784));
    const y = Int32Array.from({ length: batch }, () => rng.int(10));
    const step = (): Promise<unknown> => trainer.step(x, y, 0.01);
    const timing = await timeIt(step, { warmup: opts.warmup ?? 10, reps: opts.reps ?? 50 });
    const t0 = performance.now();
    for (let s = 0; s < Math.ceil(EPOCH_SAMPLES / batch); s++) await step();
    return { ...timing, msPerStep: timing.medianMs, epochSeconds: (performance.now() - t0) / 1000 };
  } finally {
    await trainer.release();
  }
}

/** GFLOP/s of a plain n×n·n×n float32 MatMul graph (median of runs). */
export async function benchGemmGflops(opts: { n?: number; threads?: number } & TimeOptions = {}): Promise<number> {
  const n = opts.n ?? 1024;
  const g = new GraphBuilder('gemm');
  g.input('a', 'float', [n, n]);
  g.input('b', 'float', [n, n]);
  g.output('c', g.op('MatMul', ['a', 'b']), 'float', [n, n]);
  const session = await openSession(g.toBytes(), { threads: opts.threads ?? 2 });
  try {
    const rng = new Rng(1, 'bench/gemm');
    const feeds = {
      a: new ort.Tensor('float32', rng.fillNormal(new Float32Array(n * n)), [n, n]),
      b: new ort.Tensor('float32', rng.fillNormal(new Float32Array(n * n)), [n, n]),
    };
    const t = await timeIt(() => session.run(feeds), { warmup: opts.warmup ?? 3, reps: opts.reps ?? 20 });
    return (2 * n ** 3) / (t.medianMs * 1e6);
  } finally {
    await session.release();
  }
}

/**
 * Test accuracy of the reference runs: LeNet-5 and MLP 784-256-128-10, 5 epochs, batch 64,
 * momentum SGD (0.9) with a cosine learning-rate schedule.
 */
export async function benchMnistAccuracy(): Promise<{ lenet: { accuracy: number; msPerStep: number }; mlp: { accuracy: number; msPerStep: number } }> {
  const run = async (network: ReturnType<typeof lenet5>, lr: number): Promise<{ accuracy: number; msPerStep: number }> => {
    const exp = mnistExperiment({ network, train: { epochs: 5, batch: 64, optimizer: sgd(lr, 0.9), schedule: { kind: 'cosine' } }, seed: 7 });
    const outcome = await runExperiment(exp, await loadDataset(exp.data, exp.seed));
    return { accuracy: outcome.final.testAccuracy, msPerStep: 1000 / outcome.stepsPerSecond };
  };
  return { lenet: await run(lenet5(), 0.02), mlp: await run(mlp([256, 128]), 0.05) };
}

export const section: Section = {
  name: 'engine (ONNX Runtime, 2 threads)',
  async run(): Promise<Row[]> {
    const gflops = await benchGemmGflops();
    const ideal = await benchIdealLenetStep();
    const im2col = await benchIdealLenetStep({ mvm: () => im2colMvm });
    const acc = await benchMnistAccuracy();
    const idealRow: Row = { name: 'LeNet-5 step, ideal (median)', value: ideal.medianMs, unit: 'ms' };
    return [
      { name: 'MatMul 1024² throughput', value: gflops, unit: 'GFLOP/s' },
      idealRow,
      { name: 'LeNet-5 step, im2col layout (median)', value: im2col.medianMs, unit: 'ms', baseline: { name: idealRow.name, value: idealRow.value } },
      { name: 'LeNet-5 epoch (8,000 samples, train only)', value: ideal.epochSeconds, unit: 's' },
      { name: 'LeNet-5 MNIST test accuracy (5 epochs)', value: acc.lenet.accuracy * 100, unit: '%' },
      { name: 'MLP 784-256-128-10 MNIST test accuracy (5 epochs)', value: acc.mlp.accuracy * 100, unit: '%' },
    ];
  },
};
