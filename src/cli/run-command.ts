/**
 * `xbarc run <file>`: compile, then train and evaluate every experiment (or sweep point) with a
 * live progress bar on terminals and one plain line per epoch elsewhere; results are written
 * atomically to the output directory.
 */
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { displayPath } from './format.js';
import cliProgress from 'cli-progress';
import pc from 'picocolors';
import { compile, type CompiledExperiment } from '../compiler/compile.js';
import type { Progress } from '../runtime/engine/run-experiment.js';
import { XbarcError } from '../model/errors.js';
import { executeExperiment } from '../runtime/execute.js';
import { MAX_THREADS, resolveEngine, type EngineSettings } from '../runtime/engine/session.js';
import type { Results } from '../runtime/results/index.js';
import { lockDirOrThrow, type DirLock } from '../runtime/results/lock.js';
import { printDiagnostics } from './diagnostics-output.js';
import { prepareOutputDirs } from './output-dirs.js';
import { onInterrupt } from './interrupt.js';
import { parsePoint, pointWithoutSweep } from './plan-command.js';
import { runWithSweeps, wantsSweepRunner } from './sweep-run.js';

export interface RunCommandOptions {
  out?: string;
  set?: string[];
  quiet?: boolean;
  point?: string;
  experiment?: string;
  jobs?: string;
  report?: boolean;
  threads?: string;
  spin?: 'on' | 'off';
  profile?: boolean;
}

export async function runCommand(file: string, options: RunCommandOptions): Promise<number> {
  const point = parsePoint(options.point);
  if (point === null) return 2;
  const engine = parseEngine(options);
  if (engine === null) return 2;
  // Refuse a run whose estimated peak exceeds the memory available now (memory-exceeded), rather than be killed by the kernel.
  const result = compile(file, {
    memoryLimitBytes: availableMemoryBytes(),
    ...(options.set ? { sets: options.set } : {}),
    ...(point !== undefined ? { point } : {}),
    ...(options.experiment ? { experiment: options.experiment } : {}),
  });
  printDiagnostics(result.diagnostics, result.check.program, { summary: result.hasErrors });
  if (result.hasErrors) return 1;
  if (result.experiments.length === 0) {
    process.stderr.write(
      `xbarc run: ${relative(process.cwd(), file) || file} declares no experiment to run${options.experiment ? ` named ${options.experiment}` : ''}\n`,
    );
    return 1;
  }
  if (pointWithoutSweep('run', file, point, result.experiments)) return 2;
  const profile = options.profile === true;
  // Sweeps (parallel, resumable) and --report: src/cli/sweep-run.ts.
  if (wantsSweepRunner(result, options)) {
    if (profile) {
      process.stderr.write(`xbarc run: --profile profiles one run: choose a sweep point with --point k\n`);
      return 2;
    }
    return runWithSweeps(file, result, options, engine, (compiled, outDir, signal) =>
      runOne(compiled, outDir, { quiet: options.quiet === true, signal, file, engine, profile: false }),
    );
  }
  const names = new Set(result.experiments.map((e) => e.plan.name)).size;
  const outDirs = result.experiments.map((compiled) => outDirFor(compiled, options.out, names));
  if (!prepareOutputDirs('run', outDirs)) return 1;
  const interrupt = onInterrupt('xbarc run');
  try {
    for (const [i, compiled] of result.experiments.entries()) {
      const code = await runOne(compiled, outDirs[i]!, { quiet: options.quiet === true, signal: interrupt.signal, file, engine, profile });
      if (code !== 0) return code;
      // Ctrl-C while the finished results were being written: they are complete, but the run was interrupted.
      if (interrupt.signal.aborted) return 130;
    }
    return 0;
  } finally {
    interrupt.dispose();
  }
}

/**
 * --out DIR replaces the spec's output directory; with several experiments each gets DIR/<name>;
 * sweep points keep their points/NNNN suffix.
 */
function outDirFor(compiled: CompiledExperiment, out: string | undefined, experimentCount: number): string {
  const plan = compiled.plan;
  if (!out) return plan.outDir;
  const base = experimentCount > 1 ? join(out, plan.name) : out;
  return plan.point ? join(base, 'points', String(plan.point.index).padStart(4, '0')) : base;
}

/**
 * `--threads N` and `--spin on|off`, resolved against the engine's defaults (fixed numbers, not
 * the machine's: the numbers depend on the thread count); null after printing why they are invalid.
 */
export function parseEngine(options: { threads?: string; spin?: 'on' | 'off' }): EngineSettings | null {
  let threads: number | undefined;
  if (options.threads !== undefined) {
    threads = /^\d+$/.test(options.threads) ? Number(options.threads) : NaN;
    if (!(threads >= 1 && threads <= MAX_THREADS)) {
      process.stderr.write(
        `xbarc run: --threads expects a whole number of onnxruntime threads from 1 to ${MAX_THREADS}, got ${JSON.stringify(options.threads)}\n`,
      );
      return null;
    }
  }
  return resolveEngine({ ...(threads !== undefined ? { threads } : {}), ...(options.spin !== undefined ? { spin: options.spin === 'on' } : {}) });
}

interface RunOneOptions {
  quiet: boolean;
  signal: AbortSignal;
  /** The spec, for the lock's description of this run. */ file: string;
  engine: EngineSettings;
  /** `--profile`: onnxruntime's profiler on; the summary is printed and written beside results.json. */
  profile: boolean;
}

/** One experiment into `outDir`, which it locks for the duration (a second run into it is refused). */
async function runOne(compiled: CompiledExperiment, outDir: string, { quiet, signal, file, engine, profile }: RunOneOptions): Promise<number> {
  const plan = compiled.plan;
  const label = plan.point
    ? `${plan.name} [point ${plan.point.index + 1}/${plan.point.of}: ${Object.entries(plan.point.assignments)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}]`
    : plan.name;
  let lock: DirLock;
  try {
    lock = lockDirOrThrow(outDir, { command: `xbarc run ${resolve(file)}`, onNote: (note) => process.stderr.write(`xbarc run: note: ${note}\n`) });
  } catch (err) {
    if (!(err instanceof XbarcError)) throw err;
    process.stderr.write(`xbarc run: ${pc.red('error')} ${err.code}: ${err.message}\n`);
    return 1;
  }
  const reporter = quiet ? undefined : createReporter(label, process.stdout.isTTY === true);
  try {
    const {
      results,
      resultsPath,
      profile: profiled,
    } = await executeExperiment(compiled, {
      outDir,
      signal,
      threads: engine.threads,
      spin: engine.spin,
      profile,
      ...(reporter ? { onProgress: reporter.progress, onDataLoaded: reporter.dataLoaded } : {}),
    });
    reporter?.stop();
    process.stdout.write(
      `${pc.green('✓')} ${label}: test accuracy ${accuracyText(results.final)} in ${results.timing.totalSeconds.toFixed(1)} s → ${displayPath(resultsPath)}\n`,
    );
    if (profiled) process.stdout.write(`${profiled.text}\nprofile: ${displayPath(join(outDir, 'profile.txt'))} (traces in ${displayPath(profiled.dir)})\n`);
    return 0;
  } catch (err) {
    reporter?.stop();
    if (err instanceof XbarcError && err.code === 'engine/aborted') {
      process.stderr.write(`xbarc run: ${label}: interrupted; no results written for it\n`);
      return 130;
    }
    if (err instanceof XbarcError) {
      process.stderr.write(`xbarc run: ${pc.red('error')} ${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    lock.release();
  }
}

/** `91.80 %`, or with evaluate.repeats `91.80 % ± 0.21 (sd; min 91.50, max 92.10 over 5 evaluations)`. */
export function accuracyText(final: Results['final']): string {
  const p = (x: number | null) => (x === null ? '—' : (x * 100).toFixed(2));
  const r = final.repeats;
  if (!r) return `${p(final.testAccuracy)} %`;
  const a = r.testAccuracy;
  return `${p(final.testAccuracy)} % ± ${p(a.sd)} (sd; min ${p(a.min)}, max ${p(a.max)} over ${r.n} evaluations)`;
}

interface Reporter {
  progress: (p: Progress) => void;
  dataLoaded: (i: { train: number; test: number; seconds: number }) => void;
  stop: () => void;
}

/** A live bar on terminals; one line per finished epoch otherwise (logs, CI). */
function createReporter(label: string, tty: boolean): Reporter {
  if (!tty) {
    let lastTrain: Progress | undefined;
    return {
      dataLoaded: (i) => process.stdout.write(`${label}: data loaded (${i.train} train, ${i.test} test) in ${i.seconds.toFixed(1)} s\n`),
      progress: (p) => {
        if (p.phase === 'train') lastTrain = p;
        if (p.phase === 'eval' && p.batch === p.batches) {
          process.stdout.write(`${label}: ${epochLine(p, lastTrain)}\n`);
        }
      },
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} {phase} {epoch} |{bar}| {value}/{total} batches | loss {loss} | acc {acc} | ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let key = '';
  let lastTrain: Progress | undefined;
  return {
    dataLoaded: () => undefined,
    progress: (p) => {
      if (p.phase === 'train') lastTrain = p;
      const phaseKey = `${p.phase}${p.epoch}`;
      const payload = {
        phase: p.phase === 'train' ? 'train' : 'test ',
        epoch: p.epochs ? `epoch ${p.epoch}/${p.epochs}` : '',
        loss: fmt(p.loss),
        acc: pct(p.accuracy),
      };
      if (!started || phaseKey !== key) {
        if (started) bar.stop();
        bar.start(p.batches, p.batch, payload);
        started = true;
        key = phaseKey;
      } else bar.update(p.batch, payload);
      if (p.phase === 'eval' && p.batch === p.batches) {
        bar.stop();
        started = false;
        process.stdout.write(`${label}: ${epochLine(p, lastTrain)}\n`);
      }
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}

/** `epoch 2/5  train loss … acc …  test loss … acc …  (3.1 s)`, the same on terminals and in logs. */
function epochLine(evalProgress: Progress, lastTrain: Progress | undefined): string {
  const p = evalProgress;
  const epoch = p.epochs ? `epoch ${p.epoch}/${p.epochs}  ` : '';
  const train = lastTrain ? `train loss ${fmt(lastTrain.loss)} acc ${pct(lastTrain.accuracy)}  ` : '';
  return `${epoch}${train}test loss ${fmt(p.loss)} acc ${pct(p.accuracy)}  (${(p.elapsedMs / 1000).toFixed(1)} s)`;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(4) : String(x);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)} %`;
}

/**
 * Memory a run can have now: Linux's MemAvailable (free memory plus the page cache and buffers the
 * kernel can reclaim), else the free memory Node reports. Not the total: other processes' memory
 * is not the run's.
 */
export function availableMemoryBytes(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: fall through
  }
  return freemem();
}
