import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../../src/compiler/compile.js';
import { packageRoot } from '../../src/compiler/resolve.js';
import { spreadOf } from '../../src/runtime/engine/spread.js';
import { executeExperiment } from '../../src/runtime/execute.js';
import { validateResults, type Results } from '../../src/runtime/results/index.js';

const spec = (readNoise: string, repeats: number) => `import { MLP } from "std/networks"
import { TaOx_HfOx } from "std/devices"

device rram = TaOx_HfOx { read_noise = ${readNoise} }

crossbar xb {
  size        = 64 x 64
  device      = rram
  weight_bits = 4
  cell_bits   = 2
}

experiment e {
  data     = mnist(train = 300, test = 200)
  model    = MLP(hidden1 = 16, hidden2 = 8)
  map      * -> xb
  fidelity = fast
  train    { epochs = 1, batch = 32, optimizer = sgd(lr = 0.05) }
  evaluate { repeats = ${repeats} }
  seed     = 3
}
`;

function write(text: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-repeats-'));
  const file = join(dir, 'spec.xbar');
  writeFileSync(file, text);
  return { dir, file };
}

test('spreadOf: mean, sample sd, min and max', () => {
  assert.deepEqual(spreadOf([2, 4, 4, 4, 5, 5, 7, 9]), { mean: 5, sd: Math.sqrt(32 / 7), min: 2, max: 9 });
  assert.deepEqual(spreadOf([0.5]), { mean: 0.5, sd: 0, min: 0.5, max: 0.5 });
});

test('evaluate.repeats: the final numbers are means over fresh-noise evaluations, with sd, min and max in results.json', async () => {
  const { dir, file } = write(spec('5 %', 4));
  const compiled = compile(file).experiments[0]!;
  assert.equal(compiled.plan.evaluate.repeats, 4);
  const { results, outcome } = await executeExperiment(compiled, { outDir: join(dir, 'out'), threads: 1 });
  const onDisk = JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8')) as Results;
  assert.deepEqual(validateResults(onDisk), []);
  const r = onDisk.final.repeats!;
  assert.equal(r.n, 4);
  assert.equal(onDisk.final.testAccuracy, r.testAccuracy.mean);
  assert.equal(onDisk.final.testLoss, r.testLoss.mean);
  assert.ok(r.testAccuracy.min! <= r.testAccuracy.mean! && r.testAccuracy.mean! <= r.testAccuracy.max!);
  // Read noise differs between the evaluations, so the losses spread.
  assert.ok(r.testLoss.sd! > 0 && r.testLoss.min! < r.testLoss.max!, JSON.stringify(r));
  // The first evaluation is the last epoch's.
  const last = outcome.epochs[outcome.epochs.length - 1]!;
  assert.ok(last.testLoss >= r.testLoss.min! && last.testLoss <= r.testLoss.max!);
  assert.equal(results.final.repeats?.n, 4);
  // Without noise every repeat is the same: no spread.
  const quiet = compile(write(spec('0 %', 3)).file).experiments[0]!;
  const still = await executeExperiment(quiet, { outDir: join(dir, 'quiet'), threads: 1 });
  assert.equal(still.results.final.repeats?.testAccuracy.sd, 0);
  assert.equal(still.results.final.repeats?.testAccuracy.min, still.results.final.repeats?.testAccuracy.max);
});

test('run prints the spread of repeated evaluations; the plan carries evaluate.repeats (1 by default)', () => {
  const { dir, file } = write(spec('5 %', 3));
  const r = spawnSync(process.execPath, [join(packageRoot, 'bin', 'xbarc.js'), 'run', file, '--out', join(dir, 'a')], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /✓ e: test accuracy \d+\.\d\d % ± \d+\.\d\d \(sd; min \d+\.\d\d, max \d+\.\d\d over 3 evaluations\)/);
  const once = compile(write(spec('5 %', 1)).file).experiments[0]!;
  assert.equal(once.plan.evaluate.repeats, 1);
});
