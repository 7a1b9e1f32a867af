/**
 * Benchmark helpers. The machine is shared and noisy, so a number on its own means little:
 * every section reports rows that name a baseline measured in the same run, and the runner
 * turns them into ratios (and also normalizes times by a fixed pure-JS calibration workload).
 */

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Timing {
  medianMs: number;
  minMs: number;
  reps: number;
}

export interface TimeOptions {
  /** Untimed calls first (JIT, caches, lazy session setup). */
  warmup?: number;
  reps?: number;
}

/** One measurement. `ratio` in the report is value / baseline.value (same unit). */
export interface Row {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  note?: string;
}

export interface Section {
  name: string;
  run: () => Promise<Row[]>;
}

/** Thrown by a section that cannot run here (missing tool, missing data); the runner prints why. */
export class SkipSection extends Error {}

/**
 * Contract for a training-step benchmark exported by a section module (engine.bench.ts exports
 * `benchIdealLenetStep` with this type so the PyTorch comparison can time the same step).
 */
export type StepBench = (opts?: { batch?: number; threads?: number } & TimeOptions) => Promise<Timing>;

/** Median and minimum wall time of `fn` over `reps` calls after `warmup` untimed calls. */
export async function timeIt(fn: () => unknown, opts: TimeOptions = {}): Promise<Timing> {
  const warmup = opts.warmup ?? 5;
  const reps = opts.reps ?? 30;
  if (!(reps >= 1)) throw new RangeError(`timeIt: reps must be ≥ 1, got ${reps}`);
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return { medianMs: median(samples), minMs: Math.min(...samples), reps };
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A row measured against a baseline row of the same unit. */
export function versus(row: Row, baseline: Row): Row {
  return { ...row, baseline: { name: baseline.name, value: baseline.value } };
}

/** The repository root: the nearest folder above this module holding package.json (src or dist). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('bench: cannot find package.json above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

/**
 * Median ms per step of each step function, measured interleaved in blocks (a's block, b's
 * block, …) so that load changes on a shared machine hit all alike. Training runs one session
 * step after step, so each block starts after a pause of 20 ms and an untimed step: with
 * spinning on (onnxruntime's own default; xbarc's is off, `DEFAULT_SPIN`) the intra-op threads of
 * the session that ran before keep spinning for a while after its run, and with 2 threads on 2
 * cores the sessions would compete, inflating both times by several ms and compressing their
 * ratio (measured with spinning: ideal 8.0 ms instead of 6.0 ms, ratio 1.17 instead of 1.31).
 */
export async function interleavedMedians(steps: (() => Promise<unknown>)[], reps: number, block = 6): Promise<number[]> {
  const times = steps.map((): number[] => []);
  while (times[0]!.length < reps) {
    for (let k = 0; k < steps.length; k++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await steps[k]!();
      for (let i = 1; i < block; i++) {
        const t0 = performance.now();
        await steps[k]!();
        times[k]!.push(performance.now() - t0);
      }
    }
  }
  return times.map((t) => median(t));
}
