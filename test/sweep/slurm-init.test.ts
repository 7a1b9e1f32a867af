import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile } from '../../src/compiler/compile.js';
import { estimateSlurmResources, formatSlurmTime, renderSlurmScript, shellQuote, type SweepSummary } from '../../src/runtime/sweep/index.js';
import { fixtureResults, tinySweepSpec, tmpDir, writeResultsFile, writeSpec, xbarc } from './helpers.js';

test('sweep --emit slurm: one array task per point running xbarc run --point, resources from the plan, overrides applied', () => {
  const dir = tmpDir();
  const spec = writeSpec(dir, tinySweepSpec('train.optimizer.lr in [0.01, 0.05, 0.1]'), 'my spec.xbar');
  const out = join(dir, 'out');
  const r = xbarc(['sweep', spec, '--emit', 'slurm', '--out', out, '--set', 'train.epochs=1']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const script = readFileSync(join(out, 'tiny.sbatch'), 'utf8');
  assert.match(script, /^#!\/bin\/bash\n/);
  assert.match(script, /^#SBATCH --array=0-2$/m);
  assert.match(script, /^#SBATCH --job-name=xbarc-tiny$/m);
  assert.match(script, /^#SBATCH --cpus-per-task=2$/m);
  assert.match(script, /^#SBATCH --mem=\d+M$/m);
  assert.match(script, /^#SBATCH --time=\d\d:\d\d:00$/m);
  assert.match(script, new RegExp(`^#SBATCH --output=${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/slurm/%A_%a\\.out$`, 'm'));
  assert.doesNotMatch(script, /--partition|--account/);
  assert.match(
    script,
    /run '[^']*my spec\.xbar' --experiment tiny --point "\$\{SLURM_ARRAY_TASK_ID\}" --out \S+ --quiet --threads 2 --spin off --set train\.epochs=1/,
  );
  assert.ok(existsSync(join(out, 'slurm')), 'the log folder exists before sbatch (Slurm does not create it)');
  // The manifest merge uses: every point pending, with its spec hash.
  const manifest = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepSummary;
  assert.deepEqual(
    manifest.points.map((p) => [p.index, p.status]),
    [
      [0, 'pending'],
      [1, 'pending'],
      [2, 'pending'],
    ],
  );
  assert.ok(manifest.points.every((p) => /^[0-9a-f]{64}$/.test(p.specHash ?? '')));
  // The script is valid bash.
  const syntax = spawnSync('bash', ['-n', join(out, 'tiny.sbatch')], { encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);

  const over = xbarc([
    'sweep',
    spec,
    '--emit',
    'slurm',
    '--out',
    out,
    '--partition',
    'gpu',
    '--account',
    'lab',
    '--time',
    '2:00:00',
    '--cpus',
    '4',
    '--mem',
    '6G',
    '--max-parallel',
    '2',
  ]);
  assert.equal(over.code, 0, over.stderr);
  const s2 = readFileSync(join(out, 'tiny.sbatch'), 'utf8');
  for (const line of ['--array=0-2%2', '--partition=gpu', '--account=lab', '--time=2:00:00', '--cpus-per-task=4', '--mem=6G'])
    assert.match(s2, new RegExp(`^#SBATCH ${line.replace(/[.*+?^${}()|[\]\\%]/g, '\\$&')}$`, 'm'));
  assert.equal(xbarc(['sweep', spec, '--emit', 'slurm', '--cpus', 'many']).code, 2);
  assert.equal(xbarc(['sweep', spec, '--emit', 'pbs']).code, 2);
  // --threads pins every task's engine (the numbers depend on it) and sizes --cpus by default.
  const threads = xbarc(['sweep', spec, '--emit', 'slurm', '--out', out, '--threads', '4', '--spin', 'on']);
  assert.equal(threads.code, 0, threads.stderr);
  const s3 = readFileSync(join(out, 'tiny.sbatch'), 'utf8');
  assert.match(s3, /^#SBATCH --cpus-per-task=4$/m);
  assert.match(s3, / --quiet --threads 4 --spin on\b/);
  assert.equal(xbarc(['sweep', spec, '--emit', 'slurm', '--threads', '0']).code, 2);
});

test('Slurm resources: memory from the plan estimate with headroom; time grows with the work', () => {
  const dir = tmpDir();
  const small = compile(writeSpec(dir, tinySweepSpec('seed in [1, 2]'), 'a.xbar'));
  const big = compile(
    writeSpec(
      dir,
      tinySweepSpec('seed in [1, 2]')
        .replace('epochs = 1', 'epochs = 200')
        .replace('train = 300', 'train = 8000')
        .replace('MLP(hidden1 = 16, hidden2 = 8)', 'MLP(classes = 10)'),
      'b.xbar',
    ),
  );
  const e1 = estimateSlurmResources(small.experiments, 2);
  const e2 = estimateSlurmResources(big.experiments, 2);
  const memBytes = Math.max(...small.experiments.map((e) => e.plan.estimate.memoryBytes));
  assert.ok(e1.memMiB * 2 ** 20 >= memBytes * 1.5, 'at least 1.5x the estimate');
  assert.equal(e1.memMiB % 256, 0);
  assert.ok(e2.timeMinutes > e1.timeMinutes, `${e2.timeMinutes} > ${e1.timeMinutes}`);
  assert.equal(formatSlurmTime(90), '01:30:00');
  assert.equal(formatSlurmTime(60 * 24 + 5), '1-00:05:00');
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(shellQuote('plain/path.xbar'), 'plain/path.xbar');
  assert.throws(() => renderSlurmScript({ xbarc: 'x', spec: 's', experiment: 'e', outDir: 'o', sets: [], points: [] }), /at least one sweep point/);
});

test('merge: finds finished points, lists missing ones (exit 1), then succeeds once all are there', () => {
  const dir = tmpDir();
  const spec = writeSpec(dir, tinySweepSpec('train.optimizer.lr in [0.01, 0.05, 0.1]'));
  const out = join(dir, 'out');
  assert.equal(xbarc(['sweep', spec, '--emit', 'slurm', '--out', out]).code, 0);
  // What two array tasks would do.
  for (const k of ['0', '2']) {
    const r = xbarc(['run', spec, '--point', k, '--out', out, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
  }
  const partial = xbarc(['merge', out]);
  assert.equal(partial.code, 1);
  assert.match(partial.stdout, /tiny: 2\/3 points finished/);
  assert.match(partial.stderr, /1 points not finished: 1/);
  let summary = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepSummary;
  assert.deepEqual(
    summary.points.map((p) => p.status),
    ['done', 'pending', 'done'],
  );
  assert.equal(readFileSync(join(out, 'sweep.csv'), 'utf8').split('\n')[2], '1,0.05,pending,,,,points/0001,');
  // A results.json from another spec version does not count.
  writeResultsFile(
    join(out, 'points', '0001'),
    fixtureResults({ experiment: 'tiny', point: { index: 1, of: 3, assignments: { 'train.optimizer.lr': '0.05' } } }),
  );
  const stale = xbarc(['merge', out]);
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, /point 1: the point's spec changed/);
  const r1 = xbarc(['run', spec, '--point', '1', '--out', out, '--quiet']);
  assert.equal(r1.code, 0, r1.stderr);
  const full = xbarc(['merge', out]);
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stdout, /tiny: 3\/3 points finished/);
  summary = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepSummary;
  assert.deepEqual(
    summary.points.map((p) => [p.index, p.status, p.assignments['train.optimizer.lr']]),
    [
      [0, 'done', '0.01'],
      [1, 'done', '0.05'],
      [2, 'done', '0.1'],
    ],
  );
  // And a later `run --jobs` over the same folder finds nothing left to do.
  const again = xbarc(['run', spec, '--out', out, '--jobs', '2', '--quiet']);
  assert.match(again.stdout, /0 run now, 3 kept from before/);
  assert.equal(xbarc(['merge', join(dir, 'nowhere')]).code, 2);
});

test('init scaffolds a clean experiment folder and refuses to overwrite', () => {
  const root = tmpDir('xbarc-init-');
  const dir = join(root, 'My Experiment-1');
  const r = xbarc(['init', dir]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(readdirSync(dir).sort(), ['.gitignore', 'README.md', 'my_experiment_1.xbar']);
  const spec = readFileSync(join(dir, 'my_experiment_1.xbar'), 'utf8');
  assert.match(spec, /import \{ MLP \} from "std\/networks"/);
  assert.match(spec, /experiment my_experiment_1 \{/);
  const check = xbarc(['check', '--json', join(dir, 'my_experiment_1.xbar')]);
  assert.equal(check.code, 0, check.stdout);
  assert.deepEqual((JSON.parse(check.stdout) as { diagnostics: unknown[] }).diagnostics, [], 'no errors and no warnings');
  const plan = xbarc(['plan', '--json', join(dir, 'my_experiment_1.xbar')]);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(readFileSync(join(dir, '.gitignore'), 'utf8'), /^results\/$/m);
  assert.match(readFileSync(join(dir, 'README.md'), 'utf8'), /xbarc run my_experiment_1\.xbar --jobs 2 --report/);

  writeFileSync(join(dir, 'README.md'), 'mine\n');
  const again = xbarc(['init', dir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /refusing to overwrite existing files: .*README\.md/);
  assert.equal(readFileSync(join(dir, 'README.md'), 'utf8'), 'mine\n');
  // One clashing file: nothing at all is written.
  const partial = join(root, 'partial');
  mkdirSync(partial);
  writeFileSync(join(partial, '.gitignore'), 'keep\n');
  const p = xbarc(['init', partial]);
  assert.equal(p.code, 1);
  assert.deepEqual(readdirSync(partial), ['.gitignore']);
  assert.equal(readFileSync(join(partial, '.gitignore'), 'utf8'), 'keep\n');
  // --name chooses the experiment (and file) name; invalid names are usage errors.
  const named = join(root, 'named');
  assert.equal(xbarc(['init', named, '--name', 'adc_study']).code, 0);
  assert.ok(existsSync(join(named, 'adc_study.xbar')));
  const bad = xbarc(['init', join(root, 'x'), '--name', '9lives']);
  assert.equal(bad.code, 2);
});
