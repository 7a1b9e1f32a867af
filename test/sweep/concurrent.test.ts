import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/compiler/resolve.js';
import { validateResults, type Results } from '../../src/runtime/results/index.js';
import { LOCK_FILE, pidAlive, type LockHolder } from '../../src/runtime/results/lock.js';
import type { SweepSummary } from '../../src/runtime/sweep/index.js';
import { bin, tinySweepSpec, tmpDir, writeSpec, xbarc } from './helpers.js';

interface Ended {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { pid: number; ended: Promise<Ended>; kill: (s: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, [bin, ...args], { cwd: packageRoot, env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const ended = new Promise<Ended>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return { pid: child.pid!, ended, kill: (s) => child.kill(s) };
}

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Alive and not a zombie (an orphan's zombie lingers until its new parent reaps it). */
function running(pid: number): boolean {
  if (!pidAlive(pid)) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc: trust kill(pid, 0)
  }
}

const readLock = (path: string): LockHolder | undefined => {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
};

test('two runs into one experiment directory: the second is refused naming the first, which releases its lock when it ends', async () => {
  const dir = tmpDir();
  const spec = writeSpec(
    dir,
    tinySweepSpec('seed in [1]')
      .replace(/\n {2}sweep .*\n/, '\n')
      .replace('epochs = 1', 'epochs = 100000'),
  );
  const out = join(dir, 'out');
  const first = start(['run', spec, '--out', out, '--quiet']);
  await until('the first run to lock its directory', () => existsSync(join(out, LOCK_FILE)));
  const second = xbarc(['run', spec, '--out', out, '--quiet']);
  assert.equal(second.code, 1, second.stdout + second.stderr);
  assert.match(second.stderr, new RegExp(`run/locked: .*out is in use by xbarc run .*spec\\.xbar \\(pid ${first.pid} on host .*, started `));
  assert.equal(second.stderr.trim().split('\n').length, 1, 'one line');
  first.kill('SIGINT');
  const a = await first.ended;
  assert.equal(a.code, 130, a.stderr);
  assert.equal(existsSync(join(out, LOCK_FILE)), false, 'a run that ends releases its lock');
  assert.equal(existsSync(join(out, 'results.json')), false);
});

test('two run --jobs 1 on one sweep directory share it: every point runs once, both succeed', async () => {
  const dir = tmpDir();
  const spec = writeSpec(dir, tinySweepSpec('train.optimizer.lr in [0.01, 0.02, 0.03, 0.04]'));
  const out = join(dir, 'out');
  const [a, b] = await Promise.all([start(['run', spec, '--out', out, '--jobs', '1']).ended, start(['run', spec, '--out', out, '--jobs', '1']).ended]);
  assert.equal(a.code, 0, a.stdout + a.stderr);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  const ranBy = (r: Ended) => [...r.stdout.matchAll(/^tiny: point (\d+) \(/gm)].map((m) => Number(m[1]));
  const all = [...ranBy(a), ...ranBy(b)].sort();
  assert.deepEqual(all, [0, 1, 2, 3], `each point run exactly once:\n${a.stdout}\n${b.stdout}`);
  for (let i = 0; i < 4; i++) {
    const p = join(out, 'points', String(i).padStart(4, '0'));
    assert.deepEqual(validateResults(JSON.parse(readFileSync(join(p, 'results.json'), 'utf8'))), []);
    assert.equal(existsSync(join(p, LOCK_FILE)), false);
  }
  const summary = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepSummary;
  assert.deepEqual(summary.counts, { total: 4, done: 4, failed: 0, running: 0, pending: 0 });
});

test('kill -9 of a run --jobs 2 parent: its point processes stop within seconds; a rerun takes over the stale locks and finishes', async () => {
  const dir = tmpDir();
  const lrs = [0.01, 0.02, 0.03, 0.04];
  const spec = writeSpec(dir, tinySweepSpec(`train.optimizer.lr in [${lrs.join(', ')}]`).replace('epochs = 1', 'epochs = 400'));
  const out = join(dir, 'out');
  const parent = start(['run', spec, '--out', out, '--jobs', '2']);
  const locks = [0, 1].map((i) => join(out, 'points', String(i).padStart(4, '0'), LOCK_FILE));
  await until('two point processes', () => locks.every((l) => readLock(l)?.workerPid !== undefined));
  const workers = locks.map((l) => readLock(l)!.workerPid!);
  assert.ok(workers.every(running));
  parent.kill('SIGKILL');
  await parent.ended;
  await until('the orphaned point processes to stop', () => !workers.some(running), 8_000);
  assert.deepEqual(
    lrs.map((_, i) => existsSync(join(out, 'points', String(i).padStart(4, '0'), 'results.json'))),
    [false, false, false, false],
  );

  // The rerun (short epochs) finds the dead run's point locks stale and takes them over.
  const rerun = xbarc(['run', spec, '--out', out, '--jobs', '2', '--set', 'train.epochs=1']);
  assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr);
  assert.match(rerun.stderr, /note: .*points\/0000: took over the stale lock of xbarc run .*spec\.xbar \(pid \d+, point process \d+ on host/);
  assert.match(rerun.stdout, /4\/4 points finished \(4 run now, 0 kept from before\)/);
  for (let i = 0; i < 4; i++) {
    const p = join(out, 'points', String(i).padStart(4, '0'));
    const res = JSON.parse(readFileSync(join(p, 'results.json'), 'utf8')) as Results;
    assert.equal(res.point?.index, i);
    assert.deepEqual(
      readdirSync(p).filter((f) => f.endsWith('.tmp') || f.startsWith('.xbarc.lock')),
      [],
    );
  }
});
