import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Results } from '../../src/runtime/results/index.js';
import { tmpDir, writeSpec, xbarc } from './helpers.js';

/**
 * The default MLP (784-256-128-10) at batch 16: its GEMMs are large enough for onnxruntime to
 * split them among threads, so a different thread count would change the numbers (before the
 * thread count was fixed, `--jobs 2` ran each point on 1 thread and `--jobs 1` on the machine's).
 */
const SPEC = `import { MLP } from "std/networks"

experiment repro {
  data     = mnist(train = 300, test = 100)
  model    = MLP(classes = 10)
  fidelity = ideal
  train { epochs = 1, batch = 16, optimizer = sgd(lr = 0.01, momentum = 0.9) }
  sweep    seed in [1, 2]
  seed     = 1
}
`;

function numbers(dir: string, point: number): { epochs: unknown; final: unknown; engine: Results['engine'] } {
  const r = JSON.parse(readFileSync(join(dir, 'points', String(point).padStart(4, '0'), 'results.json'), 'utf8')) as Results;
  return { epochs: r.epochs.map(({ seconds: _s, ...metrics }) => metrics), final: r.final, engine: r.engine };
}

test('run --jobs 1 and --jobs 2 give bit-identical numbers: every point runs with the same fixed thread count', () => {
  const dir = tmpDir('xbarc-repro-');
  const spec = writeSpec(dir, SPEC);
  const one = xbarc(['run', spec, '--out', join(dir, 'one'), '--jobs', '1', '--quiet']);
  assert.equal(one.code, 0, one.stdout + one.stderr);
  const two = xbarc(['run', spec, '--out', join(dir, 'two'), '--jobs', '2', '--quiet']);
  assert.equal(two.code, 0, two.stdout + two.stderr);
  for (const p of [0, 1]) {
    const a = numbers(join(dir, 'one'), p);
    const b = numbers(join(dir, 'two'), p);
    assert.deepEqual(b, a, `point ${p}`);
    assert.equal(a.engine?.threads, 2, 'the default thread count, on any machine');
    assert.equal(a.engine?.spin, false);
  }
});

test('run --threads N is recorded in results.json; invalid thread counts and spin modes are refused', () => {
  const dir = tmpDir('xbarc-repro-');
  const spec = writeSpec(dir, SPEC);
  const r = xbarc(['run', spec, '--point', '0', '--out', join(dir, 'out'), '--threads', '1', '--spin', 'on', '--quiet']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const engine = numbers(join(dir, 'out'), 0).engine;
  assert.equal(engine?.threads, 1);
  assert.equal(engine?.spin, true);
  assert.match(engine?.onnxruntime ?? '', /^\d+\.\d+/);
  for (const bad of ['0', 'two', '1.5', '-1', '100000']) {
    const e = xbarc(['run', spec, '--point', '0', '--out', join(dir, 'bad'), '--threads', bad, '--quiet']);
    assert.equal(e.code, 2, `--threads ${bad}`);
    assert.match(e.stderr, /--threads expects a whole number/);
  }
  assert.equal(xbarc(['run', spec, '--point', '0', '--out', join(dir, 'bad'), '--spin', 'sometimes']).code, 2);
});
