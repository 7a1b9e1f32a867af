/** Options that used to be ignored in silence: --set on a swept path, --point without a sweep, --jobs above the cores. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { readdirSync } from 'node:fs';
import { parseJobs } from '../../src/cli/sweep-run.js';
import { check, checkCounters } from '../../src/compiler/check.js';
import { compile } from '../../src/compiler/compile.js';
import { tinySweepSpec, tmpDir, writeSpec, xbarc } from './helpers.js';

test('--set of a swept path is an error naming the path and the sweep; run does nothing', () => {
  const dir = tmpDir();
  writeSpec(dir, tinySweepSpec('train.optimizer.lr in [0.01, 0.1]'));
  for (const command of ['run', 'plan', 'sweep']) {
    const r = xbarc([command, 'spec.xbar', '--set', 'train.optimizer.lr=0.5', ...(command === 'plan' ? [] : ['--out', 'out'])], dir);
    assert.equal(r.code, 1, `${command}: ${r.stdout}${r.stderr}`);
    assert.match(
      r.stdout + r.stderr,
      /error set-swept: --set train\.optimizer\.lr: experiment tiny sweeps train\.optimizer\.lr, so every sweep point would replace this value/,
    );
  }
  assert.deepEqual(readdirSync(dir), ['spec.xbar'], 'nothing ran');
  const around = xbarc(['plan', 'spec.xbar', '--set', 'train.optimizer=sgd(lr = 0.3, momentum = 0.9)'], dir);
  assert.equal(around.code, 0, around.stdout + around.stderr);
});

test('--point on a spec without a sweep is a usage error (exit 2) instead of running everything', () => {
  const dir = tmpDir();
  writeSpec(dir, tinySweepSpec('seed in [1]').replace(/\n {2}sweep .*\n/, '\n'));
  for (const command of ['run', 'plan']) {
    const r = xbarc([command, 'spec.xbar', '--point', '3', ...(command === 'plan' ? [] : ['--out', 'out'])], dir);
    assert.equal(r.code, 2, `${command}: ${r.stdout}${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`xbarc ${command}: --point 3: spec\\.xbar has no sweep in experiment tiny, so there are no points to choose from; drop --point`),
    );
  }
  assert.deepEqual(readdirSync(dir), ['spec.xbar'], 'nothing ran');
});

test('--jobs above the number of cores warns on stderr and is kept', () => {
  const cores = Math.max(1, availableParallelism());
  const written: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    assert.equal(parseJobs(String(cores)), cores);
    assert.deepEqual(written, [], 'no warning at the number of cores');
    assert.equal(parseJobs(String(cores + 62)), cores + 62);
  } finally {
    process.stderr.write = original;
  }
  assert.equal(written.length, 1);
  assert.match(written[0]!, new RegExp(`^xbarc run: warning: --jobs ${cores + 62} is more than the ${cores} cores of this machine`));
});

test('compiling N sweep points expands the sweep once (N points), not once per point (N² — minutes for 20,000 seeds)', () => {
  const dir = tmpDir();
  const spec = writeSpec(dir, tinySweepSpec('seed in 1 .. 300'));
  const before = checkCounters.sweepPointsExpanded;
  const result = compile(spec);
  assert.equal(result.hasErrors, false);
  assert.equal(result.experiments.length, 300);
  assert.deepEqual(
    result.experiments.slice(0, 3).map((e) => e.plan.point?.assignments),
    [{ seed: '1' }, { seed: '2' }, { seed: '3' }],
  );
  assert.equal(checkCounters.sweepPointsExpanded - before, 300);
  // A point's own check skips the sweep it belongs to.
  assert.equal(check(spec, { skipSweeps: true }).model?.experiments[0]?.sweep, undefined);
});
