/**
 * Slurm job arrays for sweeps: one array task per sweep point, each running
 * `xbarc run SPEC --experiment NAME --point $SLURM_ARRAY_TASK_ID --out DIR`, rendered from a
 * handlebars template (templates/slurm/array.sbatch.hbs, replaceable). Memory and time come
 * from the plan's estimate unless the user sets them.
 */
import { join } from 'node:path';
import Handlebars from 'handlebars';
import type { CompiledExperiment } from '../../model/plan.js';
import { readTemplate } from '../templates.js';
import { packageRoot } from '../../model/tool.js';
import { DEFAULT_SPIN, DEFAULT_THREADS, type EngineSettings } from '../engine/session.js';
import { SlurmValueError, assertNoControlCharacters, sbatchValue, slurmOptionProblems, slurmPatternPath } from './slurm-values.js';

export interface SlurmOptions {
  partition?: string;
  time?: string;
  account?: string;
  cpus?: number;
  /** As sbatch takes it: `4G`, `3500M`, or a number of MiB. */
  mem?: string;
  /** Most array tasks running at once (`--array=0-N%M`). */
  maxParallel?: number;
  jobName?: string;
  template?: string;
}

export interface SlurmJob {
  /** The command that runs xbarc on the cluster nodes, e.g. `node /opt/xbarc/bin/xbarc.js`. */
  xbarc: string;
  /** Absolute path of the spec. */
  spec: string;
  experiment: string;
  /** Absolute sweep directory. */
  outDir: string;
  sets: string[];
  points: CompiledExperiment[];
  /**
   * The engine settings every task runs with, written into the run line (`--threads N --spin
   * on|off`) so the points' numbers match a local `xbarc run` with the same settings; `--cpus`
   * defaults to `threads`. Default: the engine's (`DEFAULT_THREADS`, `DEFAULT_SPIN`).
   */
  engine?: EngineSettings;
}

export interface SlurmEstimate {
  memMiB: number;
  timeMinutes: number;
}

/**
 * Per-task resources from the plan: the largest point's memory estimate plus headroom for Node
 * and onnxruntime, and a deliberately generous time from its FLOPs at 1 GFLOP/s per core.
 */
export function estimateSlurmResources(points: CompiledExperiment[], cpus: number): SlurmEstimate {
  let mem = 0;
  let seconds = 0;
  for (const p of points) {
    const plan = p.plan;
    mem = Math.max(mem, plan.estimate.memoryBytes);
    const src = plan.data.source;
    const train = src.train ?? (src.kind === 'cifar10' ? 50000 : 60000);
    const test = src.test ?? 10000;
    const steps = plan.train ? Math.ceil(train / plan.train.batch) * plan.train.epochs : 0;
    const flops = steps * plan.estimate.flopsPerTrainStep + (plan.train ? plan.train.epochs : 1) * test * plan.estimate.flopsPerEvalSample;
    const factor = plan.fidelity === 'ideal' ? 1 : plan.fidelity === 'fast' ? 3 : 20;
    seconds = Math.max(seconds, (factor * flops) / (1e9 * Math.max(1, cpus)));
  }
  const memMiB = Math.ceil(((mem * 1.5) / 2 ** 20 + 1024) / 256) * 256;
  const timeMinutes = Math.max(15, Math.ceil((seconds * 3 + 120) / 60 / 5) * 5);
  return { memMiB, timeMinutes };
}

export function formatSlurmTime(minutes: number): string {
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  const hm = `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00`;
  return d > 0 ? `${d}-${hm}` : hm;
}

/** POSIX single-quoting for the shell. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function defaultSlurmTemplate(): string {
  return join(packageRoot, 'templates', 'slurm', 'array.sbatch.hbs');
}

/**
 * The job script. Every value is checked (slurm-values.ts) and escaped for where the template
 * puts it: `jobName`, `array`, `partition`, `account`, `time`, `mem`, `logPattern` for `#SBATCH`
 * lines; `xbarc` (a command line), `spec`, `experiment`, `outDir`, `logDir`, `sets` as shell words;
 * `engine` (`--threads N --spin off`) and `threads` are generated, never user text.
 */
export function renderSlurmScript(job: SlurmJob, options: SlurmOptions = {}): string {
  if (job.points.length === 0) throw new Error('a Slurm array needs at least one sweep point');
  const jobName = options.jobName ?? `xbarc-${job.experiment}`;
  const problems = slurmOptionProblems({ ...options, jobName });
  if (problems.length > 0) throw new SlurmValueError(problems.join('; '));
  assertJobValues(job);
  const engine = job.engine ?? { threads: DEFAULT_THREADS, spin: DEFAULT_SPIN };
  const cpus = options.cpus ?? engine.threads;
  const est = estimateSlurmResources(job.points, cpus);
  const indices = job.points.map((p) => p.plan.point?.index ?? 0).sort((a, b) => a - b);
  const contiguous = indices.every((v, i) => v === indices[0]! + i);
  const range = contiguous ? `${indices[0]}-${indices[indices.length - 1]}` : indices.join(',');
  const hb = Handlebars.create();
  const template = hb.compile(readTemplate(options.template ?? defaultSlurmTemplate()), { noEscape: true });
  return template({
    jobName: sbatchValue(jobName),
    array: `${range}${options.maxParallel ? `%${options.maxParallel}` : ''}`,
    points: job.points.length,
    partition: options.partition,
    account: options.account,
    time: options.time ?? formatSlurmTime(est.timeMinutes),
    timeEstimated: options.time === undefined,
    cpus,
    mem: options.mem ?? `${est.memMiB}M`,
    memEstimated: options.mem === undefined,
    logDir: shellQuote(join(job.outDir, 'slurm')),
    logPattern: sbatchValue(join(slurmPatternPath('the sweep directory', job.outDir), 'slurm', '%A_%a.out')),
    xbarc: job.xbarc,
    spec: shellQuote(job.spec),
    experiment: shellQuote(job.experiment),
    outDir: shellQuote(job.outDir),
    sets: job.sets.map((s) => `--set ${shellQuote(s)}`).join(' '),
    engine: `--threads ${engine.threads} --spin ${engine.spin ? 'on' : 'off'}`,
    threads: engine.threads,
  });
}

/** Paths, names and overrides that reach the script: a control character in any is refused. */
function assertJobValues(job: SlurmJob): void {
  assertNoControlCharacters('the xbarc command', job.xbarc);
  assertNoControlCharacters('the spec path', job.spec);
  assertNoControlCharacters('the experiment name', job.experiment);
  assertNoControlCharacters('the sweep directory', job.outDir);
  for (const s of job.sets) assertNoControlCharacters('--set', s);
}
