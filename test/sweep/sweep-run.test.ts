import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/compiler/resolve.js';
import { validateResults, type Results } from '../../src/runtime/results/index.js';
import type { SweepSummary } from '../../src/runtime/sweep/index.js';
import { bin, tinySweepSpec, tmpDir, writeSpec, xbarc } from './helpers.js';

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

test('run --jobs 2: every point of a 2 x 2 sweep in points/NNNN, numbered like the sweep expands, summarized in sweep.json/csv', () => {
  const dir = tmpDir();
  const spec = writeSpec(dir, tinySweepSpec('train.optimizer.lr in [0.01, 0.1] * train.batch in [16, 32]'));
  const out = join(dir, 'out');
  const r = xbarc(['run', spec, '--out', out, '--jobs', '2']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // Plain lines (not a TTY): points done/total with an ETA.
  assert.match(r.stdout, /tiny: 4 points, 0 already finished, 4 to run \(2 at a time\)/);
  assert.match(r.stdout, /\[4\/4 done, ETA 0 s\]/);
  assert.match(r.stdout, /4\/4 points finished \(4 run now, 0 kept from before\)/);
  assert.deepEqual(readdirSync(join(out, 'points')).sort(), ['0000', '0001', '0002', '0003']);
  const expected = [
    { 'train.optimizer.lr': '0.01', 'train.batch': '16' },
    { 'train.optimizer.lr': '0.01', 'train.batch': '32' },
    { 'train.optimizer.lr': '0.1', 'train.batch': '16' },
    { 'train.optimizer.lr': '0.1', 'train.batch': '32' },
  ];
  for (let i = 0; i < 4; i++) {
    const res = readJson<Results>(join(out, 'points', String(i).padStart(4, '0'), 'results.json'));
    assert.deepEqual(validateResults(res), []);
    assert.deepEqual(res.point, { index: i, of: 4, assignments: expected[i] });
    assert.equal((res.resolvedSpec['train'] as { batch: number }).batch, Number(expected[i]!['train.batch']));
    assert.ok(existsSync(join(out, 'points', String(i).padStart(4, '0'), 'plan.json')));
  }
  const summary = readJson<SweepSummary>(join(out, 'sweep.json'));
  assert.equal(summary.experiment, 'tiny');
  assert.deepEqual(summary.counts, { total: 4, done: 4, failed: 0, running: 0, pending: 0 });
  assert.deepEqual(summary.axes, [
    { path: 'train.optimizer.lr', values: ['0.01', '0.1'] },
    { path: 'train.batch', values: ['16', '32'] },
  ]);
  assert.deepEqual(
    summary.points.map((p) => [p.index, p.assignments, p.status]),
    expected.map((a, i) => [i, a, 'done']),
  );
  for (const p of summary.points) {
    const res = readJson<Results>(join(out, p.dir, 'results.json'));
    assert.equal(p.testAccuracy, res.final.testAccuracy);
    assert.equal(p.specHash, res.specHash);
    assert.ok(p.seconds! > 0);
  }
  const csv = readFileSync(join(out, 'sweep.csv'), 'utf8').trimEnd().split('\n');
  assert.equal(csv.length, 5);
  assert.equal(csv[0], 'index,train.optimizer.lr,train.batch,status,test_accuracy,test_loss,seconds,dir,error');
  assert.match(csv[3]!, /^2,0\.1,16,done,0\.\d+,\d/);

  // The same spec run point by point (--point K) gives the same numbers as the parallel run.
  const single = join(dir, 'single');
  const one = xbarc(['run', spec, '--out', single, '--point', '2', '--quiet']);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(readdirSync(join(single, 'points')), ['0002']);
  const a = readJson<Results>(join(single, 'points', '0002', 'results.json'));
  const b = readJson<Results>(join(out, 'points', '0002', 'results.json'));
  assert.equal(a.specHash, b.specHash);

  // `xbarc sweep` lists the points with their status.
  const list = xbarc(['sweep', spec, '--out', out]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /tiny: 4 points in .*, 4 finished/);
  assert.match(list.stdout, /0003 {2}done/);

  // Changing a value changes every point's spec hash: a rerun redoes them all.
  const changed = xbarc(['run', spec, '--out', out, '--jobs', '2', '--set', 'seed=2', '--quiet']);
  assert.equal(changed.code, 0, changed.stderr);
  assert.match(changed.stdout, /4\/4 points finished \(4 run now, 0 kept from before\)/);
});

test('a failing point is reported with its error, the others finish, and the exit status is 1', () => {
  const dir = tmpDir();
  // lr = 1e30 diverges (engine/non-finite); lr = 0.05 trains.
  const spec = writeSpec(dir, tinySweepSpec('train.optimizer.lr in [0.05, 1e30]'));
  const out = join(dir, 'out');
  const r = xbarc(['run', spec, '--out', out, '--jobs', '2']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const summary = readJson<SweepSummary>(join(out, 'sweep.json'));
  assert.deepEqual(
    summary.points.map((p) => p.status),
    ['done', 'failed'],
  );
  assert.match(summary.points[1]!.error!, /engine\/non-finite/);
  assert.match(r.stderr, /point 1 \(train\.optimizer\.lr=1e30\): engine\/non-finite/);
  assert.match(readFileSync(join(out, 'points', '0001', 'run.log'), 'utf8'), /non-finite/);
});

test('resume after kill -9 of a running sweep: finished points kept untouched, the rest run once, nothing duplicated', async () => {
  const dir = tmpDir();
  const lrs = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08];
  const spec = writeSpec(dir, tinySweepSpec(`train.optimizer.lr in [${lrs.join(', ')}]`));
  const out = join(dir, 'out');
  const pointsDir = join(out, 'points');
  const finished = () =>
    existsSync(pointsDir)
      ? readdirSync(pointsDir)
          .filter((n) => existsSync(join(pointsDir, n, 'results.json')))
          .sort()
      : [];

  // Its own process group, so kill -9 takes the sweep and its point processes at once.
  const child = spawn(process.execPath, [bin, 'run', spec, '--out', out, '--jobs', '2'], { cwd: packageRoot, detached: true, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  while (finished().length === 0) {
    assert.ok(Date.now() < deadline, 'no point finished within 60 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  process.kill(-child.pid!, 'SIGKILL');
  await exited;
  await new Promise((r) => setTimeout(r, 200)); // let the kernel reap the group
  const before = finished();
  assert.ok(before.length >= 1);
  assert.ok(before.length < lrs.length, `the kill came too late to test resuming: all ${lrs.length} points had finished`);
  const snapshot = new Map(
    before.map((n) => {
      const p = join(pointsDir, n, 'results.json');
      return [n, { mtimeMs: statSync(p).mtimeMs, text: readFileSync(p, 'utf8') }];
    }),
  );

  const r = xbarc(['run', spec, '--out', out, '--jobs', '2']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`${before.length} already finished, ${lrs.length - before.length} to run`));
  assert.match(
    r.stdout,
    new RegExp(`${lrs.length}/${lrs.length} points finished \\(${lrs.length - before.length} run now, ${before.length} kept from before\\)`),
  );

  // Every point exactly once, in its own folder, with its own results.
  const names = readdirSync(pointsDir).sort();
  assert.deepEqual(
    names,
    lrs.map((_, i) => String(i).padStart(4, '0')),
  );
  for (const [i, n] of names.entries()) {
    const files = readdirSync(join(pointsDir, n));
    assert.deepEqual(
      files.filter((f) => f.endsWith('.tmp')),
      [],
      `temp files left in ${n}`,
    );
    const res = readJson<Results>(join(pointsDir, n, 'results.json'));
    assert.deepEqual(validateResults(res), []);
    assert.equal(res.point?.index, i);
    assert.equal(res.point?.assignments['train.optimizer.lr'], String(lrs[i]));
  }
  for (const [n, snap] of snapshot) {
    const p = join(pointsDir, n, 'results.json');
    assert.equal(statSync(p).mtimeMs, snap.mtimeMs, `point ${n} was rewritten`);
    assert.equal(readFileSync(p, 'utf8'), snap.text);
  }
  const summary = readJson<SweepSummary>(join(out, 'sweep.json'));
  assert.deepEqual(
    summary.points.map((p) => p.index),
    lrs.map((_, i) => i),
  );
  assert.ok(summary.points.every((p) => p.status === 'done'));
  assert.equal(readFileSync(join(out, 'sweep.csv'), 'utf8').trimEnd().split('\n').length, lrs.length + 1);

  // A third run has nothing left to do.
  const again = xbarc(['run', spec, '--out', out, '--jobs', '2', '--quiet', '--report']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /0 run now, 8 kept from before/);
  // --report renders the sweep's report at the end: HTML with the epoch and sweep plots, and Markdown.
  assert.match(again.stdout, /report → .*report\.html/);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.equal((html.match(/<svg\b/g) ?? []).length, 3);
  assert.match(html, /id="plot-sweep-accuracy"/);
  assert.ok(existsSync(join(out, 'report.md')) && existsSync(join(out, 'report-plots', 'sweep-accuracy.svg')));
});

test('--jobs is validated', () => {
  const dir = tmpDir();
  const spec = writeSpec(dir, tinySweepSpec('seed in [1, 2]'));
  const r = xbarc(['run', spec, '--out', join(dir, 'o'), '--jobs', 'zero']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--jobs expects a positive number/);
});
