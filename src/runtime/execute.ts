/**
 * Execute a compiled experiment: load its data, train and evaluate it in a worker thread, and
 * write results.json (validated, atomically) with provenance: resolved spec, spec hash, seed,
 * tool version. The library entry point behind `xbarc run`.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CompiledExperiment } from '../model/plan.js';
import { toolVersion } from '../model/tool.js';
import { loadDataset } from './data/index.js';
import { runExperimentInWorker, type ExperimentOutcome, type Progress, type RepeatedEvaluation } from './engine/run-experiment.js';
import type { Spread } from './engine/spread.js';
import { assertCrossbarSupported } from './crossbar/runtime.js';
import { engineRecord, resolveEngine } from './engine/session.js';
import { formatProfile, summarizeProfiles, type ProfileSummary } from './engine/profile.js';
import { writeFileAtomic, writeResults, type Results } from './results/index.js';
import type { RepeatSpread } from './results/types.js';
import { ensureOutputDir } from './results/output-dir.js';

export interface ExecuteOptions {
  /** Where results go (the plan's outDir by default). */
  outDir?: string;
  onProgress?: (p: Progress) => void;
  /** Called once the data set is loaded (for progress display). */
  onDataLoaded?: (info: { train: number; test: number; seconds: number }) => void;
  signal?: AbortSignal;
  /**
   * onnxruntime intra-op threads of every session (default `DEFAULT_THREADS`, 2, on any machine).
   * The numbers depend on it: results are bit-identical only between runs with the same count.
   */
  threads?: number;
  /** Idle intra-op threads spin instead of sleeping (default `DEFAULT_SPIN`, off); never changes the numbers. */
  spin?: boolean;
  /**
   * Profile the run with onnxruntime's profiler: each session's trace goes to `<outDir>/profile/`,
   * their sum per op type, layer and phase to `<outDir>/profile.txt` and `profile.json`
   * (engine/profile.ts). Never changes the numbers; makes the run slower.
   */
  profile?: boolean;
}

export interface ExecuteResult {
  results: Results;
  resultsPath: string;
  outcome: ExperimentOutcome;
  /** With `profile`: the summed profile and its text report. */
  profile?: { summary: ProfileSummary; text: string; dir: string };
}

/** Where a profiled run's traces go. */
export const profileDir = (outDir: string): string => join(outDir, 'profile');

export async function executeExperiment(compiled: CompiledExperiment, options: ExecuteOptions = {}): Promise<ExecuteResult> {
  const { plan } = compiled;
  assertRunnable(compiled);
  const engine = resolveEngine({
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.spin === undefined ? {} : { spin: options.spin }),
  }); // before any work: a bad thread count is refused at once
  const outDir = options.outDir ?? plan.outDir;
  ensureOutputDir(outDir); // before any work: a run must not train and then find it cannot write
  const startedAt = new Date();
  const t0 = performance.now();
  const data = await loadDataset(plan.data, plan.seed);
  const dataSeconds = (performance.now() - t0) / 1000;
  options.onDataLoaded?.({ train: data.train.count, test: data.test.count, seconds: dataSeconds });
  const outcome = await runExperimentInWorker(plan, data, {
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    threads: engine.threads,
    spin: engine.spin,
    ...(options.profile ? { profile: freshDir(profileDir(outDir)) } : {}),
  });
  const results: Results = {
    xbarc: { version: toolVersion },
    experiment: plan.name,
    specHash: compiled.specHash,
    seed: plan.seed,
    fidelity: plan.fidelity,
    resolvedSpec: compiled.resolved,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    epochs: outcome.epochs.map((e) => ({ ...e, trainLoss: finiteOrNull(e.trainLoss), testLoss: finiteOrNull(e.testLoss) })),
    final: {
      testAccuracy: outcome.final.testAccuracy,
      testLoss: finiteOrNull(outcome.final.testLoss),
      ...(outcome.final.repeats ? { repeats: repeatsForResults(outcome.final.repeats) } : {}),
    },
    engine: engineRecord(outcome.engine),
    timing: { totalSeconds: (performance.now() - t0) / 1000, dataSeconds, trainSeconds: outcome.totalSeconds, stepsPerSecond: outcome.stepsPerSecond },
    ...(plan.point ? { point: plan.point } : {}),
    ...(outcome.layers ? { layers: outcome.layers } : {}),
  };
  ensureOutputDir(outDir);
  await writeFileAtomic(join(outDir, 'plan.json'), JSON.stringify(plan, null, 2) + '\n');
  const resultsPath = await writeResults(outDir, results);
  if (!options.profile) return { results, resultsPath, outcome };
  return { results, resultsPath, outcome, profile: await writeProfile(outDir) };
}

/** An empty directory for this run's traces (an earlier run's would be summed with them). */
function freshDir(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function writeProfile(outDir: string): Promise<NonNullable<ExecuteResult['profile']>> {
  const dir = profileDir(outDir);
  const summary = summarizeProfiles(dir);
  const text = formatProfile(summary);
  await writeFileAtomic(join(outDir, 'profile.json'), JSON.stringify(summary, null, 2) + '\n');
  await writeFileAtomic(join(outDir, 'profile.txt'), text + '\n');
  return { summary, text, dir };
}

/** Crossbar layers at fidelity fast/exact run on the crossbar models; unsupported features fail here, before any data is loaded. */
function assertRunnable(compiled: CompiledExperiment): void {
  assertCrossbarSupported(compiled.plan);
}

/** JSON cannot carry NaN: a diverged repeat's loss spread becomes nulls. */
function repeatsForResults(r: RepeatedEvaluation): RepeatSpread {
  const spread = (s: Spread) => ({ mean: finiteOrNull(s.mean), sd: finiteOrNull(s.sd), min: finiteOrNull(s.min), max: finiteOrNull(s.max) });
  return { n: r.n, testAccuracy: spread(r.testAccuracy), testLoss: spread(r.testLoss) };
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
