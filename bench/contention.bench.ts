/**
 * Training under CPU contention: an ideal LeNet-5 epoch (125 SGD steps of batch 64, 2 threads)
 * in xbarc and in PyTorch while a second CPU-bound process — started and stopped by this section
 * — keeps one core busy. Rounds alternate xbarc and PyTorch so a change in the host's load hits
 * both alike; xbarc runs with its default (idle threads sleep) and with spinning on, the
 * onnxruntime default, to show why the default is off (docs/running.md, "Threads and spinning").
 *
 * PyTorch runs with OMP_WAIT_POLICY=PASSIVE (its threads sleep when idle, like xbarc's default).
 * Skipped, with the reason, where no python3 can import torch.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { lenet5, mnistExperiment, sgd } from '../test/support/plan-builder.js';
import { Trainer } from '../src/runtime/engine/trainer.js';
import { Rng } from '../src/runtime/rng.js';
import { median, repoRoot, SkipSection, type Row, type Section } from './harness.js';
import { findTorchPython } from './torch.bench.js';

const BATCH = 64;
const THREADS = 2;
const EPOCH_STEPS = 125; // 8,000 samples at batch 64
const ROUNDS = 3;

/** One CPU-bound process: a busy loop on one core, until killed. */
function startBackgroundLoad(): ChildProcess {
  return spawn(process.execPath, ['-e', 'let x = 0; for (;;) x = (x + Math.sqrt(x + 1)) % 1e9;'], { stdio: 'ignore' });
}

async function stopBackgroundLoad(load: ChildProcess): Promise<void> {
  if (load.exitCode !== null) return;
  const exited = new Promise((resolve) => load.once('exit', resolve));
  load.kill('SIGKILL');
  await exited;
}

/** A warm trainer whose `epoch()` times 125 consecutive steps on a fixed batch. */
async function xbarcEpoch(spin: boolean): Promise<{ epoch: () => Promise<number>; release: () => Promise<void> }> {
  const exp = mnistExperiment({ network: lenet5(), train: { epochs: 1, batch: BATCH, optimizer: sgd(0.01, 0.9) } });
  const trainer = await Trainer.create(exp, { threads: THREADS, spin });
  const rng = new Rng(1, 'bench/contention-batch');
  const x = rng.fillNormal(new Float32Array(BATCH * 784));
  const y = Int32Array.from({ length: BATCH }, () => rng.int(10));
  for (let i = 0; i < 10; i++) await trainer.step(x, y, 0.01);
  return {
    epoch: async () => {
      const t0 = performance.now();
      for (let s = 0; s < EPOCH_STEPS; s++) await trainer.step(x, y, 0.01);
      return (performance.now() - t0) / 1000;
    },
    release: () => trainer.release(),
  };
}

function torchEpoch(python: string): number {
  const script = join(repoRoot(), 'bench', 'torch_lenet_step.py');
  const args = [script, '--batch', `${BATCH}`, '--threads', `${THREADS}`, '--warmup', '10', '--reps', '5', '--epoch-steps', `${EPOCH_STEPS}`];
  const run = spawnSync(python, args, { encoding: 'utf8', env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' } });
  if (run.status !== 0) throw new Error(`torch_lenet_step.py failed (exit ${run.status}): ${run.stderr.trim()}`);
  const parsed = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as { epochSeconds?: number | null };
  if (!(typeof parsed.epochSeconds === 'number' && parsed.epochSeconds > 0)) throw new Error(`torch_lenet_step.py printed no epoch time: ${run.stdout}`);
  return parsed.epochSeconds;
}

export const section: Section = {
  name: 'contention (ideal LeNet-5 epoch vs PyTorch beside a CPU-bound process)',
  async run(): Promise<Row[]> {
    const python = findTorchPython();
    if (!python.ok) throw new SkipSection(python.reason);
    const sleeping = await xbarcEpoch(false);
    const spinning = await xbarcEpoch(true);
    const times = { xbarc: [] as number[], spin: [] as number[], torch: [] as number[] };
    const load = startBackgroundLoad();
    try {
      for (let r = 0; r < ROUNDS; r++) {
        times.xbarc.push(await sleeping.epoch());
        times.torch.push(torchEpoch(python.path));
        times.spin.push(await spinning.epoch());
      }
    } finally {
      await stopBackgroundLoad(load);
      await sleeping.release();
      await spinning.release();
    }
    const torchRow: Row = { name: 'PyTorch epoch under load (median of rounds)', value: median(times.torch), unit: 's' };
    const base = { name: torchRow.name, value: torchRow.value };
    const range = (t: number[]): string => `rounds: ${t.map((v) => v.toFixed(2)).join(', ')} s`;
    return [
      { ...torchRow, note: range(times.torch) },
      { name: 'xbarc epoch under load, spinning off (default)', value: median(times.xbarc), unit: 's', baseline: base, note: range(times.xbarc) },
      { name: 'xbarc epoch under load, spinning on', value: median(times.spin), unit: 's', baseline: base, note: range(times.spin) },
    ];
  },
};
