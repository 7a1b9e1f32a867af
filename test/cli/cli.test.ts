import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/compiler/resolve.js';
import { validateResults } from '../../src/runtime/results/index.js';

const bin = join(packageRoot, 'bin', 'xbarc.js');

function xbarc(args: string[], cwd = packageRoot) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmpSpec(text: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-cli-'));
  const file = join(dir, 'spec.xbar');
  writeFileSync(file, text);
  return { dir, file };
}

test('check: exit 0 for clean files, 1 with located errors, 2 for usage errors', () => {
  const ok = xbarc(['check', 'experiments/txsim-lenet5.xbar', 'stdlib/devices.xbar']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const { file } = tmpSpec('device d {\n  r_on = 100 kohm\n}\n');
  const bad = xbarc(['check', file]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /spec\.xbar:2:14: error unknown-unit: unknown unit kohm; did you mean kOhm\?/);
  assert.doesNotMatch(bad.stdout + bad.stderr, /at .*\.js:\d+/, 'no stack trace');
  assert.equal(xbarc(['check', join(tmpdir(), 'no-such-file.xbar')]).code, 2);
  assert.equal(xbarc(['check']).code, 2);
  assert.equal(xbarc(['frobnicate']).code, 2);
});

test('check --json gives machine-readable diagnostics', () => {
  const { file } = tmpSpec('crossbar c { size = 64 x 64, input_bits = 8, dac_bits = 3 }\n');
  const r = xbarc(['check', '--json', file]);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout) as { diagnostics: { code: string; severity: string; span: { line: number } }[] };
  const codes = out.diagnostics.map((d) => d.code).sort();
  assert.deepEqual(codes, ['missing-field', 'stream-mismatch']);
  assert.ok(out.diagnostics.every((d) => d.span.line === 1));
});

test('plan prints the layer table and --json a plan', () => {
  const table = xbarc(['plan', 'experiments/txsim-lenet5.xbar']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /fc1\s+dense\s+400\s+120\s+48120/);
  assert.match(table.stdout, /7x2 of 64x64/);
  const json = xbarc(['plan', '--json', 'experiments/lenet5-ideal.xbar']);
  const plan = JSON.parse(json.stdout) as { version: number; experiments: unknown[] };
  assert.equal(plan.version, 2);
  assert.equal(plan.experiments.length, 1);
});

const tinyMlp = (opt: string) => `import { MLP } from "std/networks"
experiment tiny {
  data = mnist(train = 1500, test = 500)
  model = MLP(hidden1 = 32, hidden2 = 16)
  fidelity = ideal
  train { epochs = 2, batch = 32, optimizer = ${opt} }
  seed = 11
}
`;

test('run trains on real data, writes valid results atomically, and is reproducible', () => {
  const { dir, file } = tmpSpec(tinyMlp('sgd(lr = 0.05, momentum = 0.9)'));
  const a = xbarc(['run', file, '--out', join(dir, 'a')]);
  assert.equal(a.code, 0, a.stdout + a.stderr);
  assert.match(a.stdout, /epoch 2\/2/);
  const b = xbarc(['run', file, '--out', join(dir, 'b'), '--quiet']);
  assert.equal(b.code, 0, b.stderr);
  const ra = JSON.parse(readFileSync(join(dir, 'a', 'results.json'), 'utf8'));
  const rb = JSON.parse(readFileSync(join(dir, 'b', 'results.json'), 'utf8'));
  assert.deepEqual(validateResults(ra), []);
  assert.ok(ra.final.testAccuracy > 0.8, `accuracy ${ra.final.testAccuracy}`);
  const numbers = (r: { epochs: Record<string, number>[] }) => r.epochs.map(({ seconds: _s, ...rest }) => rest);
  assert.deepEqual(numbers(rb), numbers(ra), 'same spec + seed → identical numbers');
  assert.equal(ra.specHash, rb.specHash);
  assert.equal(ra.resolvedSpec.train.optimizer.momentum, 0.9);
  assert.ok(existsSync(join(dir, 'a', 'plan.json')));
  assert.deepEqual(
    readdirSync(join(dir, 'a')).filter((f) => f.includes('.tmp')),
    [],
    'no temp files left',
  );
  const c = xbarc(['run', file, '--out', join(dir, 'c'), '--quiet', '--set', 'seed=12']);
  assert.equal(c.code, 0, c.stderr);
  const rc = JSON.parse(readFileSync(join(dir, 'c', 'results.json'), 'utf8'));
  assert.notDeepEqual(numbers(rc), numbers(ra), 'another seed gives other numbers');
});

test('a diverging run stops with a message naming the layer and step', () => {
  const { dir, file } = tmpSpec(tinyMlp('sgd(lr = 1e30)'));
  const r = xbarc(['run', file, '--out', join(dir, 'out'), '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /non-finite/);
  assert.match(r.stderr, /layer "(fc1|fc2|fc3)"/);
  assert.match(r.stderr, /step \d+/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
});

test('run refuses crossbar features it cannot execute yet, and a bad --set, with clear messages', () => {
  const { dir, file } = tmpSpec(`import { LeNet5 } from "std/networks"
device d {
  levels     = 4
  read_noise = 1 %
}
crossbar xb {
  device = d
}
experiment e {
  data     = mnist(train = 100, test = 100)
  model    = LeNet5(classes = 10)
  map      * -> xb
  fidelity = exact
  train { epochs = 1 }
}
`);
  const r = xbarc(['run', file, '--out', join(dir, 'out'), '--quiet']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /read noise at fidelity exact is not supported/);
  const s = xbarc(['run', 'experiments/lenet5-ideal.xbar', '--set', 'train.epochs=-1']);
  assert.equal(s.code, 1);
  assert.match(s.stderr, /out-of-range/);
});

test('check and run name a missing data file at its argument; run names a truncated one; no stack trace', () => {
  const { dir, file } = tmpSpec(`import { MLP } from "std/networks"
experiment e {
  data = idx(train_images = "data/train-images.gz", train_labels = "data/train-labels.gz",
             test_images = "data/t10k-images.gz", test_labels = "data/t10k-labels.gz")
  model = MLP()
  fidelity = ideal
  train { epochs = 1 }
}
`);
  const checked = xbarc(['check', file]);
  assert.equal(checked.code, 1);
  assert.match(checked.stdout, /spec\.xbar:3:29: error data-file-missing: idx train_images file "data\/train-images\.gz" does not exist/);
  assert.equal((checked.stdout.match(/data-file-missing/g) ?? []).length, 4);
  const missing = xbarc(['run', file, '--out', join(dir, 'out'), '--quiet']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /data[\\/]train-images\.gz/);
  assert.doesNotMatch(missing.stderr, /at .*\.js:\d+/);
  mkdirSync(join(dir, 'data'));
  for (const f of ['train-labels.gz', 't10k-images.gz', 't10k-labels.gz']) writeFileSync(join(dir, 'data', f), gzipSync(Buffer.alloc(16)));
  // A valid IDX header promising 10 images of 28x28, but only 100 bytes of pixels.
  const header = Buffer.from([0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28]);
  writeFileSync(join(dir, 'data', 'train-images.gz'), gzipSync(Buffer.concat([header, Buffer.alloc(100)])));
  const truncated = xbarc(['run', file, '--out', join(dir, 'out'), '--quiet']);
  assert.equal(truncated.code, 1);
  assert.match(truncated.stderr, /train-images\.gz/);
  assert.match(truncated.stderr, /truncated|expected/i);
});
