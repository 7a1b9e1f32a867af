/**
 * `xbarc run` for sweeps: every point runs in its own worker process (`--jobs N` at a time),
 * into DIR/points/NNNN/; a rerun keeps the points that finished and runs the rest; sweep.json
 * and sweep.csv summarize the points as they finish. `--report` renders the report at the end.
 */
import { fork } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import pc from 'picocolors';
import { toolVersion, type CompileResult, type CompiledExperiment } from '../compiler/compile.js';
import { runSweep, type SweepEvent, type SweepPointJob } from '../runtime/sweep/index.js';
import { displayPath } from './format.js';
import { prepareOutputDirs } from './output-dirs.js';
import { onInterrupt } from './interrupt.js';
import type { PointJobArgs } from './sweep-point.js';
import type { EngineSettings } from '../runtime/engine/session.js';

export interface SweepRunOptions {
  out?: string;
  set?: string[];
  quiet?: boolean;
  point?: string;
  experiment?: string;
  jobs?: string;
  report?: boolean;
}

/** Runs one non-sweep experiment the ordinary way (run-command's runOne); returns an exit code. */
export type RunSingle = (compiled: CompiledExperiment, outDir: string, signal: AbortSignal) => Promise<number>;

/** Should `xbarc run` hand this compile result to the sweep runner? */
export function wantsSweepRunner(result: CompileResult, options: SweepRunOptions): boolean {
  return options.report === true || (options.point === undefined && result.experiments.some((e) => e.plan.point !== undefined));
}

/**
 * `--jobs N`: a positive integer, or `auto` for as many points as the cores hold at `threads`
 * onnxruntime threads each (the thread count never depends on the number of jobs: it changes the
 * numbers). More jobs than cores is allowed (the user may know better) but said.
 */
export function parseJobs(text: string | undefined, threads = 1): number | null {
  if (text === undefined) return 1;
  const cores = Math.max(1, availableParallelism());
  if (text === 'auto') return Math.max(1, Math.floor(cores / threads));
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    process.stderr.write(`xbarc: --jobs expects a positive number of parallel points (or auto), got ${JSON.stringify(text)}\n`);
    return null;
  }
  const jobs = Number(text);
  if (jobs > cores)
    process.stderr.write(
      `xbarc run: warning: --jobs ${jobs} is more than the ${cores} cores of this machine; up to ${jobs} points will run at once and share them (--jobs auto: the cores divided by --threads)\n`,
    );
  return jobs;
}

export interface ExperimentGroup {
  name: string;
  dir: string;
  points: CompiledExperiment[];
  single?: CompiledExperiment;
}

/** Group compiled experiments: one group per sweep (its points) or per plain experiment, with its directory. */
export function groupExperiments(experiments: CompiledExperiment[], out: string | undefined): ExperimentGroup[] {
  const names = new Set(experiments.map((e) => e.plan.name));
  const groups = new Map<string, ExperimentGroup>();
  for (const e of experiments) {
    const plan = e.plan;
    const base = out ? (names.size > 1 ? join(out, plan.name) : out) : plan.point ? dirname(dirname(plan.outDir)) : plan.outDir;
    let g = groups.get(plan.name);
    if (!g) {
      g = { name: plan.name, dir: resolve(base), points: [] };
      groups.set(plan.name, g);
    }
    if (plan.point) g.points.push(e);
    else g.single = e;
  }
  return [...groups.values()];
}

const pointEntry = join(dirname(fileURLToPath(import.meta.url)), 'sweep-point.js');

export async function runWithSweeps(
  file: string,
  result: CompileResult,
  options: SweepRunOptions,
  engine: EngineSettings,
  runSingle: RunSingle,
): Promise<number> {
  const jobs = parseJobs(options.jobs, engine.threads);
  if (jobs === null) return 2;
  const groups = groupExperiments(result.experiments, options.out);
  if (
    !prepareOutputDirs(
      'run',
      groups.map((g) => groupDir(g, options)),
    )
  )
    return 1;
  const interrupt = onInterrupt('xbarc run');
  let code = 0;
  try {
    for (const group of groups) {
      if (interrupt.signal.aborted) return 130;
      const dir = groupDir(group, options);
      // A single experiment, or one point chosen with --point: the ordinary in-process run.
      if (group.single || options.point !== undefined) {
        code = await runSingle(group.single ?? group.points[0]!, dir, interrupt.signal);
        if (code !== 0) return code;
      } else {
        const c = await runGroup(file, group, options, jobs, engine, interrupt.signal);
        if (c === 130) return 130;
        if (c !== 0) code = c;
      }
      if (options.report) {
        const { renderReport } = await import('../runtime/report/index.js');
        try {
          const written = await renderReport(dir, { formats: ['html', 'md'] });
          for (const w of written) if (!w.endsWith('.svg')) process.stdout.write(`report → ${displayPath(w)}\n`);
        } catch (err) {
          process.stderr.write(`xbarc run: ${pc.red('error')} report: ${err instanceof Error ? err.message : String(err)}\n`);
          code = code || 1;
        }
      }
    }
    // Several experiments under one --out: also a side-by-side report (e.g. ideal baseline vs a crossbar sweep).
    if (options.report && options.out && groups.length > 1) {
      const { renderReport } = await import('../runtime/report/index.js');
      const written = await renderReport(options.out, { formats: ['html', 'md'] });
      for (const w of written) if (!w.endsWith('.svg')) process.stdout.write(`report → ${displayPath(w)}\n`);
    }
    return code;
  } finally {
    interrupt.dispose();
  }
}

/** Where a group's run writes: its folder, or the folder of the one point chosen with --point. */
function groupDir(group: ExperimentGroup, options: SweepRunOptions): string {
  if (group.single || options.point === undefined) return group.dir;
  return join(group.dir, 'points', String(group.points[0]!.plan.point!.index).padStart(4, '0'));
}

async function runGroup(
  file: string,
  group: ExperimentGroup,
  options: SweepRunOptions,
  jobs: number,
  engine: EngineSettings,
  signal: AbortSignal,
): Promise<number> {
  const points: SweepPointJob[] = group.points.map((e) => ({ index: e.plan.point!.index, assignments: e.plan.point!.assignments, specHash: e.specHash }));
  const total = group.points[0]?.plan.point?.of ?? points.length;
  const reporter = createSweepReporter(group.name, options.quiet === true, process.stdout.isTTY === true);
  const specFile = resolve(file);
  const outcome = await runSweep({
    sweepDir: group.dir,
    experiment: group.name,
    version: toolVersion,
    spec: relative(group.dir, specFile).split('\\').join('/'),
    points,
    jobs,
    signal,
    command: `xbarc run ${specFile}`,
    onNote: (note) => process.stderr.write(`xbarc run: note: ${note}\n`),
    onEvent: reporter.event,
    launch: (job, dir) => {
      // Every point runs with the run's engine settings, however many run at once: --jobs 1 and --jobs N give the same numbers.
      const args: PointJobArgs = {
        file: specFile,
        experiment: group.name,
        point: job.index,
        sets: options.set ?? [],
        outDir: dir,
        specHash: job.specHash,
        threads: engine.threads,
        spin: engine.spin,
      };
      const log = openSync(join(dir, 'run.log'), 'w');
      try {
        return fork(pointEntry, [JSON.stringify(args)], { stdio: ['ignore', log, log, 'ipc'], env: { ...process.env, NO_COLOR: '1' } });
      } finally {
        closeSync(log);
      }
    },
  });
  reporter.stop();
  const s = outcome.summary.counts;
  const where = displayPath(join(group.dir, 'sweep.json'));
  if (outcome.interrupted) {
    process.stderr.write(
      `xbarc run: ${group.name}: interrupted; ${s.done}/${s.total} points finished (kept); rerun the same command to finish the rest → ${where}\n`,
    );
    return 130;
  }
  const best = outcome.summary.points.filter((p) => p.status === 'done').sort((a, b) => (b.testAccuracy ?? 0) - (a.testAccuracy ?? 0))[0];
  const bestText = best ? `; best ${((best.testAccuracy ?? 0) * 100).toFixed(2)} % at ${formatAssignments(best.assignments)}` : '';
  const mark = outcome.failed.length > 0 ? pc.red('✗') : pc.green('✓');
  const others = outcome.elsewhere.size > 0 ? `, ${outcome.elsewhere.size} running in another run` : '';
  process.stdout.write(
    `${mark} ${group.name}: ${s.done}/${total} points finished (${outcome.ran.length} run now, ${outcome.kept.length} kept from before${outcome.failed.length ? `, ${outcome.failed.length} failed` : ''}${others})${bestText} → ${where}\n`,
  );
  for (const [index, holder] of outcome.elsewhere) process.stdout.write(`  point ${index} is being run by ${holder}\n`);
  for (const f of outcome.failed) {
    const rec = outcome.summary.points.find((p) => p.index === f);
    process.stderr.write(
      `xbarc run: ${pc.red('error')} point ${f} (${formatAssignments(rec?.assignments ?? {})}): ${rec?.error ?? 'failed'} (log: ${displayPath(join(group.dir, rec?.dir ?? '', 'run.log'))})\n`,
    );
  }
  return outcome.failed.length > 0 ? 1 : 0;
}

export function formatAssignments(a: Record<string, string>): string {
  return (
    Object.entries(a)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ') || '(no assignments)'
  );
}

export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** A points bar on terminals; one plain line per finished point otherwise. */
function createSweepReporter(name: string, quiet: boolean, tty: boolean): { event: (e: SweepEvent) => void; stop: () => void } {
  if (quiet) return { event: () => undefined, stop: () => undefined };
  if (!tty) {
    return {
      event: (e) => {
        if (e.type === 'start')
          process.stdout.write(`${name}: ${e.total} points, ${e.alreadyDone} already finished, ${e.toRun} to run (${e.jobs} at a time)\n`);
        if (e.type === 'point-end') {
          const r = e.record;
          const what =
            r.status === 'done'
              ? `test accuracy ${((r.testAccuracy ?? 0) * 100).toFixed(2)} % in ${(r.seconds ?? 0).toFixed(1)} s`
              : `FAILED: ${r.error ?? ''}`;
          process.stdout.write(
            `${name}: point ${r.index} (${formatAssignments(r.assignments)}): ${what}  [${e.done}/${e.total} done, ETA ${formatEta(e.etaSeconds)}]\n`,
          );
        }
      },
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: `${name} |{bar}| {value}/{total} points | {failed} failed | ETA {eta} | {last}`, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    event: (e) => {
      if (e.type === 'start') {
        bar.start(e.total, e.alreadyDone, { failed: 0, eta: '?', last: e.alreadyDone ? `${e.alreadyDone} kept from before` : '' });
        started = true;
      }
      if (e.type === 'point-end' && started) {
        const r = e.record;
        bar.update(e.done, {
          failed: e.failed,
          eta: formatEta(e.etaSeconds),
          last: r.status === 'done' ? `point ${r.index}: ${((r.testAccuracy ?? 0) * 100).toFixed(2)} %` : `point ${r.index} failed`,
        });
      }
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}
