/**
 * Online learning (batch 1, NeuroSim/CrossSim's protocol) against numpy: one epoch of 8,000
 * embedded MNIST digits (pixels in [0, 1]) through a 784-300-10 MLP, plain SGD (lr 0.01), every
 * sample one optimizer step —
 *  - xbarc's training loop (runExperiment; 64 steps per run of the Loop graph, Trainer.steps),
 *  - the same steps one run each (Trainer.step in a loop: the loop before chunking),
 *  - bench/numpy_online_mlp.py, plain float32 numpy, started from xbarc's initial weights on the
 *    same samples in the same order.
 * Each is timed three times, alternating; the rows are medians of wall time, and of CPU time
 * (all threads of the process: on a shared machine the steadier measure of the work done).
 * Goal: xbarc ≥ 3× faster than numpy (ratio ≤ 0.33). The final weights of numpy and xbarc are compared (the same run up to
 * float32 summation order). Skipped, with the reason, where no python3 imports numpy.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlanExperiment } from '../src/model/plan.js';
import { epochOrder, loadDataset, type Dataset } from '../src/runtime/data/index.js';
import { runExperiment } from '../src/runtime/engine/run-experiment.js';
import { Trainer } from '../src/runtime/engine/trainer.js';
import { mlp, mnistExperiment, sgd } from '../test/support/plan-builder.js';
import { median, repoRoot, SkipSection, type Row, type Section } from './harness.js';

const SAMPLES = 8000;
const HIDDEN = 300;
const LR = 0.01;
const ROUNDS = 3;
const THREADS = 2;

/** Debian's python3-numpy installs for the system interpreter, which a `python3` on PATH may shadow (as in torch.bench.ts). */
const PYTHON_CANDIDATES = ['python3', '/usr/bin/python3'];

function findNumpy(): string {
  const reasons: string[] = [];
  for (const candidate of PYTHON_CANDIDATES) {
    const probe = spawnSync(candidate, ['-c', 'import numpy'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) return candidate;
    reasons.push(`${candidate}: ${probe.error ? 'not runnable' : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`)}`);
  }
  throw new SkipSection(`no python3 can import numpy (${reasons.join('; ')}); install Debian's python3-numpy to compare`);
}

export function onlineExperiment(samples = SAMPLES): PlanExperiment {
  const exp = mnistExperiment({
    network: mlp([HIDDEN]),
    train: { epochs: 1, batch: 1, optimizer: sgd(LR) },
    mnist: { train: samples, test: 100 },
    evalBatch: 100,
  });
  exp.data.normalize = { mean: 0, std: 1 };
  return exp;
}

interface EpochTiming {
  seconds: number;
  cpuSeconds: number;
}

const cpuSince = (c0: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
};

/**
 * Training seconds of one epoch through runExperiment (the test evaluation not counted), its CPU
 * seconds (the whole run: session set-up and the 100-sample evaluation included), and the final weights.
 */
export async function xbarcEpoch(exp: PlanExperiment, data: Dataset): Promise<EpochTiming & { weights: Record<string, Float32Array> }> {
  const c0 = process.cpuUsage();
  const out = await runExperiment(exp, data, { trainer: { threads: THREADS }, returnWeights: true });
  return { seconds: out.steps / out.stepsPerSecond, cpuSeconds: cpuSince(c0), weights: out.weights! };
}

/** The same epoch as one Trainer.step (one run) per sample. */
async function perStepEpoch(exp: PlanExperiment, data: Dataset): Promise<EpochTiming> {
  const trainer = await Trainer.create(exp, { threads: THREADS });
  try {
    const order = epochOrder(data.train.count, exp.seed, 1);
    const x = new Float32Array(784);
    const y = new Int32Array(1);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let s = 0; s < order.length; s++) {
      const k = order[s]!;
      x.set(data.train.x.subarray(k * 784, (k + 1) * 784));
      y[0] = data.train.y[k]!;
      await trainer.step(x, y, LR);
    }
    return { seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSince(c0) };
  } finally {
    await trainer.release();
  }
}

/** Write the run's inputs for numpy_online_mlp.py: xbarc's initial weights, the samples in visiting order. */
async function writeNumpyInputs(exp: PlanExperiment, data: Dataset, folder: string): Promise<void> {
  const trainer = await Trainer.create(exp, { threads: 1 });
  const init = trainer.getWeights();
  await trainer.release();
  const order = epochOrder(data.train.count, exp.seed, 1);
  const x = new Float32Array(order.length * 784);
  const y = new Int32Array(order.length);
  order.forEach((k, i) => {
    x.set(data.train.x.subarray(k * 784, (k + 1) * 784), i * 784);
    y[i] = data.train.y[k]!;
  });
  const raw = (a: Float32Array | Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  writeFileSync(join(folder, 'meta.json'), JSON.stringify({ samples: order.length, inputs: 784, hidden: HIDDEN, classes: 10, lr: LR }));
  writeFileSync(join(folder, 'x.f32'), raw(x));
  writeFileSync(join(folder, 'y.i32'), raw(y));
  for (const name of ['fc1/weight', 'fc1/bias', 'fc2/weight', 'fc2/bias']) writeFileSync(join(folder, `${name.replace('/', '_')}.f32`), raw(init[name]!));
}

function numpyEpoch(python: string, folder: string): EpochTiming {
  const run = spawnSync(python, [join(repoRoot(), 'bench', 'numpy_online_mlp.py'), folder], {
    encoding: 'utf8',
    // One BLAS thread: a batch-1 step is far too small to split, and extra threads would only compete.
    env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
  });
  if (run.status !== 0) throw new Error(`numpy_online_mlp.py failed (exit ${run.status}): ${run.stderr.trim()}`);
  const parsed = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as Partial<EpochTiming>;
  if (!(typeof parsed.seconds === 'number' && parsed.seconds > 0 && typeof parsed.cpuSeconds === 'number'))
    throw new Error(`numpy_online_mlp.py printed no timing: ${run.stdout}`);
  return { seconds: parsed.seconds, cpuSeconds: parsed.cpuSeconds };
}

/** max |W_numpy − W_xbarc| / max |W_xbarc| over the final fc1 weights. */
function weightGap(folder: string, weights: Record<string, Float32Array>): number {
  const bytes = readFileSync(join(folder, 'final_fc1_weight.f32'));
  const theirs = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const ours = weights['fc1/weight']!;
  let gap = 0;
  let scale = 0;
  for (let i = 0; i < ours.length; i++) {
    gap = Math.max(gap, Math.abs(theirs[i]! - ours[i]!));
    scale = Math.max(scale, Math.abs(ours[i]!));
  }
  return gap / scale;
}

export const section: Section = {
  name: 'online learning (batch 1, MLP 784-300-10, 8,000 samples) vs numpy',
  async run(): Promise<Row[]> {
    const python = findNumpy();
    const exp = onlineExperiment();
    const data = await loadDataset(exp.data, exp.seed);
    const folder = mkdtempSync(join(tmpdir(), 'xbarc-online-'));
    try {
      await writeNumpyInputs(exp, data, folder);
      const numpy: EpochTiming[] = [];
      const chunked: EpochTiming[] = [];
      const perStep: EpochTiming[] = [];
      let weights: Record<string, Float32Array> = {};
      for (let r = 0; r < ROUNDS; r++) {
        numpy.push(numpyEpoch(python, folder));
        const x = await xbarcEpoch(exp, data);
        chunked.push(x);
        weights = x.weights;
        perStep.push(await perStepEpoch(exp, data));
      }
      const rows: Row[] = [];
      for (const [what, key] of [
        ['', 'seconds'],
        ['CPU time: ', 'cpuSeconds'],
      ] as const) {
        const of = (v: EpochTiming[]): number => median(v.map((t) => t[key]));
        const range = (v: EpochTiming[]): string => `runs ${v.map((t) => t[key].toFixed(2)).join(', ')} s`;
        const numpyRow: Row = { name: `${what}numpy epoch (plain float32 numpy, one BLAS thread; median)`, value: of(numpy), unit: 's' };
        const perStepRow: Row = { name: `${what}xbarc epoch, one run per sample (Trainer.step loop; median)`, value: of(perStep), unit: 's' };
        rows.push(
          { ...numpyRow, note: range(numpy) },
          {
            name: `${what}xbarc online epoch (training loop, 64 steps per run; median)`,
            value: of(chunked),
            unit: 's',
            baseline: { name: numpyRow.name, value: numpyRow.value },
            note: `${range(chunked)}; goal ≥ 3× faster than numpy (ratio ≤ 0.33)`,
          },
          { ...perStepRow, baseline: { name: numpyRow.name, value: numpyRow.value }, note: range(perStep) },
          {
            name: `${what}xbarc online epoch vs one run per sample`,
            value: of(chunked),
            unit: 's',
            baseline: { name: perStepRow.name, value: perStepRow.value },
          },
        );
      }
      return [
        ...rows,
        {
          name: 'final fc1 weights, numpy vs xbarc: max |ΔW| / max |W|',
          value: weightGap(folder, weights),
          unit: '',
          note: 'the same SGD run up to float32 summation order',
        },
      ];
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  },
};
