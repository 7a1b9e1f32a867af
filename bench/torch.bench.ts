/**
 * xbarc vs PyTorch: the same LeNet-5 SGD step (batch 64, 2 threads) timed in this run by
 * engine.bench's `benchIdealLenetStep` and by bench/torch_lenet_step.py. Skipped, with the
 * reason, where python3 cannot import torch (it is never installed by xbarc).
 */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, SkipSection, type Row, type Section, type StepBench, type Timing } from './harness.js';

const BATCH = 64;
const THREADS = 2;
const WARMUP = 10;
const REPS = 50;

/**
 * Debian's python3-torch installs for the system interpreter, which a version manager's `python3`
 * on PATH may shadow: try PATH first, then the system one.
 */
const PYTHON_CANDIDATES = ['python3', '/usr/bin/python3'];

/** The first python3 that can import torch, or why none can. */
export function findTorchPython(): { ok: true; path: string } | { ok: false; reason: string } {
  const reasons: string[] = [];
  for (const candidate of PYTHON_CANDIDATES) {
    const probe = spawnSync(candidate, ['-c', 'import torch'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0) return { ok: true, path: candidate };
    reasons.push(`${candidate}: ${probe.error ? 'not runnable' : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`)}`);
  }
  return { ok: false, reason: `no python3 can import torch (${reasons.join('; ')}); install Debian's python3-torch to compare` };
}

async function loadXbarcStep(): Promise<StepBench> {
  let mod: { benchIdealLenetStep?: unknown };
  try {
    mod = (await import('./engine.bench.js' as string)) as { benchIdealLenetStep?: unknown };
  } catch (err) {
    throw new SkipSection(`engine.bench could not be loaded (${firstLine(err)})`);
  }
  if (typeof mod.benchIdealLenetStep !== 'function') throw new SkipSection('engine.bench exports no benchIdealLenetStep');
  return mod.benchIdealLenetStep as StepBench;
}

function timeTorchStep(python: string): Timing {
  const script = join(repoRoot(), 'bench', 'torch_lenet_step.py');
  const args = [script, '--batch', `${BATCH}`, '--threads', `${THREADS}`, '--warmup', `${WARMUP}`, '--reps', `${REPS}`];
  const run = spawnSync(python, args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`torch_lenet_step.py failed (exit ${run.status}): ${run.stderr.trim()}`);
  const parsed = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as Timing & { torch?: string };
  if (!(parsed.medianMs > 0)) throw new Error(`torch_lenet_step.py printed no timing: ${run.stdout}`);
  return parsed;
}

function checkTiming(t: unknown): Timing {
  const timing = t as Partial<Timing> | null;
  if (!timing || !(typeof timing.medianMs === 'number' && timing.medianMs > 0)) {
    throw new Error(`benchIdealLenetStep returned ${JSON.stringify(t)}, expected { medianMs, minMs }`);
  }
  return timing as Timing;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

export const section: Section = {
  name: 'pytorch comparison (LeNet-5 SGD step, batch 64, 2 threads)',
  async run(): Promise<Row[]> {
    const found = findTorchPython();
    if (!found.ok) throw new SkipSection(found.reason);
    const python = found.path;
    const xbarcStep = await loadXbarcStep();
    const xbarc = checkTiming(await xbarcStep({ batch: BATCH, threads: THREADS, warmup: WARMUP, reps: REPS }));
    const torch = timeTorchStep(python);
    const torchMedian: Row = { name: 'torch step (median)', value: torch.medianMs, unit: 'ms' };
    const torchMin: Row = { name: 'torch step (fastest)', value: torch.minMs, unit: 'ms' };
    return [
      torchMedian,
      { name: 'xbarc step (median)', value: xbarc.medianMs, unit: 'ms', baseline: { name: torchMedian.name, value: torchMedian.value } },
      torchMin,
      { name: 'xbarc step (fastest)', value: xbarc.minMs, unit: 'ms', baseline: { name: torchMin.name, value: torchMin.value } },
    ];
  },
};
