import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as xbarc from '../../src/index.js';
import { packageRoot } from '../../src/compiler/resolve.js';

test('the library entry point exposes check, compile and friends that work', () => {
  for (const name of ['check', 'compile', 'executeExperiment', 'formatXbar', 'loadDataset', 'validateResults', 'Rng']) {
    assert.equal(typeof (xbarc as Record<string, unknown>)[name], 'function', `${name} is exported`);
  }
  const spec = join(packageRoot, 'experiments', 'lenet5-ideal.xbar');
  assert.deepEqual(xbarc.check(spec).diagnostics, []);
  const compiled = xbarc.compile(spec);
  assert.equal(compiled.plan?.experiments[0]?.network.name, 'LeNet5');
  assert.ok(xbarc.diagnosticCodes['unknown-unit']);
});

test('package.json points at the compiled entry point', async () => {
  const pkg = (await import(join(packageRoot, 'package.json'), { with: { type: 'json' } })).default as { main: string; exports: Record<string, string> };
  assert.equal(pkg.main, 'dist/src/index.js');
  const loaded = (await import(join(packageRoot, pkg.main))) as Record<string, unknown>;
  assert.equal(typeof loaded['compile'], 'function');
});
