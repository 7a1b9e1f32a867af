/**
 * Scale bench (issue 23, item 5): networks of a realistic size, against PyTorch in the same run.
 *
 *   ResNet-20 (stdlib) on seeded synthetic CIFAR-10 records written by the bench (no download):
 *   one epoch of 2,560 images at batch 128 and an evaluation of 1,024 test images (batch 256), for
 *   ideal, fast crossbar (TxSim 64×64 tiles, 8-bit ADC, non-idealities in forward and backward),
 *   the same with 6 % read noise, and with a device update (TxSim's update model) — epoch and
 *   evaluation time against PyTorch's (bench/torch_resnet.py: same network, same data, 2 threads)
 *   and the peak resident set size of each.
 *   ResNet-18 (stdlib, 3×224×224, 1000 classes), batch 16: one training step and the peak
 *   memory, ideal and fast crossbar, against PyTorch's.
 *
 * Every configuration runs in its own child process (bench/scale-child.ts) so that its peak RSS
 * (`process.resourceUsage().maxRSS`; `resource.getrusage` in Python) is its own. PyTorch rows are
 * skipped, with the reason, where no python3 can import torch.
 *
 * XBARC_BENCH_SCALE=k (default 1) multiplies the training images (k × 2,560).
 *   node dist/bench/run.js scale
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/runtime/rng.js';
import { repoRoot, type Row, type Section } from './harness.js';
import type { ChildJob, ChildResult } from './scale-child.js';

const TRAIN_IMAGES = 2560;
const TEST_IMAGES = 1024;
const BATCH = 128;
const THREADS = 2;
const PYTHON_CANDIDATES = ['python3', '/usr/bin/python3'];

/** CIFAR-10 binary records (label byte + 3072 pixel bytes), seeded: the same bytes on every machine. */
export function writeSyntheticCifar(file: string, count: number, seed: number): void {
  const rng = new Rng(seed, 'bench/synthetic-cifar');
  const buf = new Uint8Array(count * 3073);
  for (let r = 0; r < count; r++) {
    buf[r * 3073] = rng.int(10);
    for (let j = 1; j < 3073; j++) buf[r * 3073 + j] = rng.int(256);
  }
  writeFileSync(file, buf);
}

/** The configurations as one spec: an experiment each, over the synthetic data in `dir`. */
export function resnetSpec(trainImages: number): string {
  const train = (nonideal: string) => `train {
    epochs    = 1
    batch     = ${BATCH}
    optimizer = sgd(lr = 0.02, momentum = 0.9)
    nonideal  = ${nonideal}
  }`;
  const common = `data = cifar10(dir = "data", train = ${trainImages}, test = ${TEST_IMAGES})
  model = ResNet20(classes = 10)
  seed = 1`;
  const xb = (device: string) => `map * -> ${device}, fc -> digital
  fidelity = fast`;
  return `import { ResNet20 } from "std/networks"
import { AgSi_TxSim } from "std/devices"
import { txsim64 } from "std/crossbars"

device rram = AgSi_TxSim { d2d_sigma = 3 %  update = txsim(v = 0.01, gamma = 0) }
device noisy = AgSi_TxSim { d2d_sigma = 3 %  read_noise = 6 % }
crossbar xb = txsim64 { device = rram }
crossbar xb_noise = txsim64 { device = noisy }

experiment ideal { ${common}
  fidelity = ideal
  ${train('[]')} }
experiment fast { ${common}
  ${xb('xb')}
  ${train('[forward, backward]')} }
experiment read_noise { ${common}
  ${xb('xb_noise')}
  ${train('[forward, backward]')} }
experiment device_update { ${common}
  ${xb('xb')}
  ${train('[forward, backward, update]')} }
`;
}

function runChild(job: ChildJob): ChildResult {
  const child = join(repoRoot(), 'dist', 'bench', 'scale-child.js');
  const run = spawnSync(process.execPath, [child, JSON.stringify(job)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`scale-child ${job.experiment} failed (exit ${run.status}): ${run.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as ChildResult;
}

interface TorchResult {
  epochMs?: number;
  evalMs?: number;
  stepMs?: number;
  peakRssKiB: number;
}

function findTorch(): { python: string } | { reason: string } {
  const reasons: string[] = [];
  for (const candidate of PYTHON_CANDIDATES) {
    const probe = spawnSync(candidate, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) return { python: candidate };
    reasons.push(`${candidate}: ${probe.error ? 'not runnable' : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`)}`);
  }
  return { reason: `no python3 can import torch and numpy (${reasons.join('; ')}); install Debian's python3-torch to compare` };
}

function runTorch(python: string, args: string[]): TorchResult {
  const script = join(repoRoot(), 'bench', 'torch_resnet.py');
  const run = spawnSync(python, [script, ...args, '--threads', `${THREADS}`], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`torch_resnet.py failed (exit ${run.status}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as TorchResult;
}

const mib = (kib: number): number => kib / 1024;

export const section: Section = {
  name: 'scale (ResNet-20 on synthetic CIFAR-10, ResNet-18 at 224², vs PyTorch, 2 threads)',
  async run(): Promise<Row[]> {
    const scale = Number(process.env['XBARC_BENCH_SCALE'] ?? '1');
    if (!(scale > 0)) throw new Error(`XBARC_BENCH_SCALE must be a positive number, got ${process.env['XBARC_BENCH_SCALE']}`);
    const trainImages = Math.round(TRAIN_IMAGES * scale);
    const dir = mkdtempSync(join(tmpdir(), 'xbarc-scale-'));
    try {
      const data = join(dir, 'data');
      spawnSync('mkdir', ['-p', data]);
      writeSyntheticCifar(join(data, 'data_batch_1.bin'), trainImages, 1);
      writeSyntheticCifar(join(data, 'test_batch.bin'), TEST_IMAGES, 2);
      const spec = join(dir, 'resnet.xbar');
      writeFileSync(spec, resnetSpec(trainImages));
      const torch = findTorch();
      const rows: Row[] = [];
      const note = 'reason' in torch ? `PyTorch skipped: ${torch.reason}` : undefined;
      const t20 = 'python' in torch ? runTorch(torch.python, ['resnet20', '--data', data, '--batch', `${BATCH}`, '--eval-batch', '256']) : null;
      const vs = (name: string, value: number | undefined): Row['baseline'] => (value === undefined ? undefined : { name, value });
      const push = (row: Omit<Row, 'baseline'> & { baseline: Row['baseline'] | undefined }): void => {
        const { baseline, ...rest } = row;
        rows.push({ ...rest, ...(baseline ? { baseline } : {}), ...(note && !baseline ? { note } : {}) });
      };
      if (t20) {
        rows.push({ name: 'PyTorch ResNet-20 epoch', value: t20.epochMs!, unit: 'ms' });
        rows.push({ name: 'PyTorch ResNet-20 evaluation', value: t20.evalMs!, unit: 'ms' });
        rows.push({ name: 'PyTorch ResNet-20 peak RSS', value: mib(t20.peakRssKiB), unit: 'MiB' });
      }
      for (const experiment of ['ideal', 'fast', 'read_noise', 'device_update']) {
        const r = runChild({ task: 'epoch', spec, experiment });
        push({ name: `ResNet-20 epoch, ${experiment}`, value: r.epochMs!, unit: 'ms', baseline: vs('PyTorch epoch', t20?.epochMs) });
        push({ name: `ResNet-20 evaluation, ${experiment}`, value: r.evalMs!, unit: 'ms', baseline: vs('PyTorch evaluation', t20?.evalMs) });
        push({
          name: `ResNet-20 peak RSS, ${experiment}`,
          value: mib(r.peakRssKiB),
          unit: 'MiB',
          baseline: vs('PyTorch peak RSS', t20 ? mib(t20.peakRssKiB) : undefined),
        });
      }
      const t18 = 'python' in torch ? runTorch(torch.python, ['resnet18', '--batch', '16', '--reps', '2']) : null;
      if (t18) {
        rows.push({ name: 'PyTorch ResNet-18 step, batch 16', value: t18.stepMs!, unit: 'ms' });
        rows.push({ name: 'PyTorch ResNet-18 peak RSS', value: mib(t18.peakRssKiB), unit: 'MiB' });
      }
      for (const experiment of ['ideal', 'fast']) {
        const r = runChild({ task: 'step', spec, experiment, network: 'ResNet18', batch: 16, reps: 2 });
        push({ name: `ResNet-18 step, batch 16, ${experiment}`, value: r.stepMs!, unit: 'ms', baseline: vs('PyTorch step', t18?.stepMs) });
        push({
          name: `ResNet-18 peak RSS, ${experiment}`,
          value: mib(r.peakRssKiB),
          unit: 'MiB',
          baseline: vs('PyTorch peak RSS', t18 ? mib(t18.peakRssKiB) : undefined),
        });
      }
      return rows;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
