/**
 * Sweep and results commands, registered on the main program: `run --jobs/--report` (options on
 * the existing run command), `report`, `sweep` (point status; `--emit slurm`), `merge`, `init`.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import pc from 'picocolors';
import { compile, toolVersion } from '../compiler/compile.js';
import { packageRoot } from '../compiler/resolve.js';
import { XbarcError } from '../model/errors.js';
import { writeFileAtomic } from '../runtime/results/index.js';
import { DEFAULT_SPIN, DEFAULT_THREADS, MAX_THREADS, resolveEngine } from '../runtime/engine/session.js';
import {
  buildSummary,
  classifyPoints,
  mergeSweepDir,
  pendingRecord,
  renderSlurmScript,
  shellQuote,
  slurmOptionProblems,
  writeSummary,
} from '../runtime/sweep/index.js';
import { printDiagnostics } from './diagnostics-output.js';
import { displayPath } from './format.js';
import { initCommand } from './init-command.js';
import { prepareOutputDirs } from './output-dirs.js';
import { formatAssignments, groupExperiments } from './sweep-run.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerSweepCommands(program: Command, setExitCode: (code: number) => void): void {
  const run = program.commands.find((c) => c.name() === 'run');
  if (run) {
    run.option('--jobs <n>', 'run sweep points in N parallel worker processes (or auto: the cores / --threads); reruns resume', '1');
    run.option('--report', 'render report.html and report.md in the output directory at the end');
  }

  program
    .command('report')
    .description('render an HTML or Markdown report (plots as SVG) of a results directory: one experiment or a sweep')
    .argument('<dir>', 'results directory (with results.json, or sweep.json and points/)')
    .addOption(
      new Option('--format <format>', 'html (self-contained report.html) or md (report.md + report-plots/*.svg)')
        .choices(['html', 'md', 'both'])
        .default('html'),
    )
    .option('--template <file>', 'a handlebars template to use instead of templates/report/report.<format>.hbs')
    .action(async (dir: string, opts: { format: 'html' | 'md' | 'both'; template?: string }) => {
      const { renderReport } = await import('../runtime/report/index.js');
      if (opts.template && !existsSync(opts.template)) {
        process.stderr.write(`xbarc report: template ${opts.template} not found\n`);
        return setExitCode(2);
      }
      // The report is written into the results directory: it must be writable before plots are rendered.
      if (existsSync(dir) && !prepareOutputDirs('report', [dir])) return setExitCode(1);
      try {
        const written = await renderReport(dir, {
          formats: opts.format === 'both' ? ['html', 'md'] : [opts.format],
          ...(opts.template ? { template: opts.template } : {}),
        });
        for (const w of written) if (!w.endsWith('.svg')) process.stdout.write(`${pc.green('✓')} ${displayPath(w)}\n`);
        setExitCode(0);
      } catch (err) {
        if (err instanceof XbarcError) {
          process.stderr.write(`xbarc report: ${pc.red('error')} ${err.code}: ${err.message}\n`);
          return setExitCode(1);
        }
        throw err;
      }
    });

  program
    .command('sweep')
    .description('list the points of a sweep and their status in DIR; --emit slurm writes a Slurm job array')
    .argument('<file>', '.xbar file')
    .option('--out <dir>', "sweep directory (default: the spec's output)")
    .option('--set <path=value>', 'override a value (repeatable)', collect)
    .option('--experiment <name>', 'only this experiment')
    .addOption(new Option('--emit <kind>', 'write a job script instead of listing').choices(['slurm']))
    .option('--partition <p>', 'Slurm partition')
    .option('--time <t>', 'Slurm time limit per point (default: estimated from the plan)')
    .option('--account <a>', 'Slurm account')
    .option('--cpus <c>', 'CPUs per point (default: --threads)')
    .option('--threads <n>', `onnxruntime threads of every task, written into its run line (default ${DEFAULT_THREADS}, as xbarc run)`)
    .addOption(
      new Option('--spin <mode>', `whether idle onnxruntime threads spin in every task (default ${DEFAULT_SPIN ? 'on' : 'off'})`).choices(['on', 'off']),
    )
    .option('--mem <m>', "memory per point, e.g. 4G (default: from the plan's estimate)")
    .option('--max-parallel <n>', 'most array tasks running at once')
    .option('--template <file>', 'a handlebars template instead of templates/slurm/array.sbatch.hbs')
    .action(async (file: string, opts: SweepOpts) => {
      setExitCode(await sweepCommand(file, opts));
    });

  program
    .command('merge')
    .description('assemble sweep.json and sweep.csv from the finished points of a sweep directory (after a Slurm array)')
    .argument('<dir>', 'sweep directory')
    .action(async (dir: string) => {
      setExitCode(await mergeCommand(dir));
    });

  program
    .command('init')
    .description('scaffold an experiment folder: a spec using the standard library, a README, a .gitignore')
    .argument('[dir]', 'folder to create or fill (default: the current folder)')
    .option('--name <name>', 'experiment name (default: from the folder name)')
    .action((dir: string | undefined, opts: { name?: string }) => {
      setExitCode(initCommand(dir, opts));
    });
}

interface SweepOpts {
  out?: string;
  set?: string[];
  experiment?: string;
  emit?: 'slurm';
  partition?: string;
  time?: string;
  account?: string;
  cpus?: string;
  mem?: string;
  maxParallel?: string;
  template?: string;
  threads?: string;
  spin?: 'on' | 'off';
}

function positiveInt(name: string, text: string | undefined): number | undefined | null {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    process.stderr.write(`xbarc sweep: ${name} expects a positive integer, got ${JSON.stringify(text)}\n`);
    return null;
  }
  return Number(text);
}

async function sweepCommand(file: string, opts: SweepOpts): Promise<number> {
  if (!existsSync(file)) {
    process.stderr.write(`xbarc sweep: ${file} not found\n`);
    return 2;
  }
  const cpus = positiveInt('--cpus', opts.cpus);
  const maxParallel = positiveInt('--max-parallel', opts.maxParallel);
  const threads = positiveInt('--threads', opts.threads);
  if (cpus === null || maxParallel === null || threads === null) return 2;
  if (threads !== undefined && threads > MAX_THREADS) {
    process.stderr.write(`xbarc sweep: --threads expects at most ${MAX_THREADS} onnxruntime threads, got ${threads}\n`);
    return 2;
  }
  const engine = resolveEngine({ ...(threads !== undefined ? { threads } : {}), ...(opts.spin !== undefined ? { spin: opts.spin === 'on' } : {}) });
  const problems = slurmOptionProblems(opts);
  for (const p of problems) process.stderr.write(`xbarc sweep: ${p}\n`);
  if (problems.length > 0) return 2;
  if (opts.template && !existsSync(opts.template)) {
    process.stderr.write(`xbarc sweep: template ${opts.template} not found\n`);
    return 2;
  }
  const result = compile(file, { ...(opts.set ? { sets: opts.set } : {}), ...(opts.experiment ? { experiment: opts.experiment } : {}) });
  printDiagnostics(result.diagnostics, result.check.program, { summary: result.hasErrors });
  if (result.hasErrors) return 1;
  const groups = groupExperiments(result.experiments, opts.out).filter((g) => g.points.length > 0);
  if (groups.length === 0) {
    process.stderr.write(`xbarc sweep: ${file} has no experiment with a sweep${opts.experiment ? ` named ${opts.experiment}` : ''}\n`);
    return 1;
  }
  for (const g of groups) {
    const points = g.points.map((e) => ({ index: e.plan.point!.index, assignments: e.plan.point!.assignments, specHash: e.specHash }));
    const { done, reasons } = classifyPoints(g.dir, points);
    if (opts.emit === 'slurm') {
      const script = renderOrExplain(() =>
        renderSlurmScript(
          {
            xbarc: `${shellQuote(process.execPath)} ${shellQuote(join(packageRoot, 'bin', 'xbarc.js'))}`,
            spec: resolve(file),
            experiment: g.name,
            outDir: g.dir,
            sets: opts.set ?? [],
            points: g.points,
            engine,
          },
          {
            ...(opts.partition ? { partition: opts.partition } : {}),
            ...(opts.time ? { time: opts.time } : {}),
            ...(opts.account ? { account: opts.account } : {}),
            ...(cpus ? { cpus } : {}),
            ...(opts.mem ? { mem: opts.mem } : {}),
            ...(maxParallel ? { maxParallel } : {}),
            ...(opts.template ? { template: opts.template } : {}),
          },
        ),
      );
      if (script === undefined) return 1;
      if (!prepareOutputDirs('sweep', [join(g.dir, 'slurm')])) return 1; // Slurm does not create the --output folder
      const path = join(g.dir, `${g.name}.sbatch`);
      // The manifest: merge learns from it which points (and spec hashes) to expect.
      const records = points.map((p) => done.get(p.index) ?? pendingRecord(p.index, p.assignments, p.specHash));
      await writeSummary(g.dir, buildSummary(g.name, records, { version: toolVersion, spec: resolve(file) }));
      await writeFileAtomic(path, script);
      process.stdout.write(
        `${pc.green('✓')} ${displayPath(path)}: Slurm array of ${points.length} points (${done.size} already finished)\n  submit: sbatch ${shellQuote(displayPath(path))}\n  then:   xbarc merge ${shellQuote(displayPath(g.dir))}\n`,
      );
      continue;
    }
    process.stdout.write(`${g.name}: ${points.length} points in ${displayPath(g.dir)}, ${done.size} finished\n`);
    for (const p of points) {
      const d = done.get(p.index);
      const status = d ? `done  ${((d.testAccuracy ?? 0) * 100).toFixed(2)} %` : reasons.has(p.index) ? `redo  (${reasons.get(p.index)})` : 'todo';
      process.stdout.write(`  ${String(p.index).padStart(4, '0')}  ${status.padEnd(14)}  ${formatAssignments(p.assignments)}\n`);
    }
  }
  return 0;
}

/** A value the script cannot carry (a newline in the output path, …) or an unreadable template is the user's to fix: one line, exit 1. */
function renderOrExplain(render: () => string): string | undefined {
  try {
    return render();
  } catch (err) {
    if (!(err instanceof XbarcError)) throw err;
    process.stderr.write(`xbarc sweep: ${pc.red('error')} ${err.message}\n`);
    return undefined;
  }
}

async function mergeCommand(dir: string): Promise<number> {
  if (!existsSync(dir)) {
    process.stderr.write(`xbarc merge: ${dir} not found\n`);
    return 2;
  }
  const { summary, missing, invalid } = mergeSweepDir(dir, { version: toolVersion });
  if (summary.points.length === 0) {
    process.stderr.write(`xbarc merge: ${dir} has no sweep.json and no points/ folders\n`);
    return 1;
  }
  await writeSummary(dir, summary);
  process.stdout.write(
    `${missing.length === 0 ? pc.green('✓') : pc.yellow('!')} ${summary.experiment}: ${summary.counts.done}/${summary.counts.total} points finished → ${displayPath(join(dir, 'sweep.json'))}, ${displayPath(join(dir, 'sweep.csv'))}\n`,
  );
  for (const i of invalid) process.stderr.write(`xbarc merge: point ${i.index}: ${i.reason}\n`);
  if (missing.length > 0) {
    process.stderr.write(`xbarc merge: ${missing.length} points not finished: ${missing.join(', ')}\n`);
    return 1;
  }
  return 0;
}
