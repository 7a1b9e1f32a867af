import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../../src/compiler/compile.js';
import { packageRoot } from '../../src/compiler/resolve.js';

function spec(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-plan-'));
  const file = join(dir, 'spec.xbar');
  writeFileSync(file, text);
  return file;
}

const lenet = (extra = '') => `import { LeNet5 } from "std/networks"
import { PUMA_RRAM } from "std/devices"
crossbar xb { size = 64 x 64, device = PUMA_RRAM, weight_bits = 8, cell_bits = 2, input_bits = 8, dac_bits = 1 }
experiment e {
  data = mnist(train = 1000, test = 500)
  model = LeNet5(classes = 10)
  map * -> xb, fc3 -> digital
  train { epochs = 2, batch = 32, optimizer = sgd(lr = 0.01) }
  ${extra}
}
`;

test('LeNet-5 lowers to a valid plan with shapes, parameters, FLOPs and tile mappings', () => {
  const r = compile(spec(lenet()));
  assert.equal(r.hasErrors, false, r.diagnostics.map((d) => d.message).join('\n'));
  const exp = r.plan!.experiments[0]!;
  const layers = Object.fromEntries(exp.network.layers.map((l) => [l.name, l]));
  assert.equal(
    exp.network.layers.reduce((s, l) => s + l.params, 0),
    61706,
  );
  assert.deepEqual(layers['conv2']!.outputShape, [16, 10, 10]);
  // conv1: 6 outputs x 28x28 positions x 25 MACs x 2 FLOPs.
  assert.equal(layers['conv1']!.flopsPerSample, 2 * 6 * 28 * 28 * 25);
  const fc1 = layers['fc1']!.mapping!;
  assert.equal(fc1.target, 'crossbar');
  assert.deepEqual(fc1.matrix, { rows: 400, cols: 120 });
  assert.deepEqual(fc1.tiles, { rowTiles: 7, colTiles: 2, tileRows: 64, tileCols: 64 });
  assert.equal(fc1.weightSlices, 4);
  assert.equal(fc1.inputStreams, 8);
  // differential: 2 arrays per tile and slice.
  assert.equal(fc1.crossbarCount, 7 * 2 * 4 * 2);
  assert.equal(layers['fc3']!.mapping!.target, 'digital');
  assert.equal(exp.crossbars['xb']!.device.name, 'PUMA_RRAM');
  assert.equal(exp.crossbars['xb']!.device.rOn, 100e3);
  assert.equal(exp.estimate.flopsPerTrainStep, 3 * 32 * exp.estimate.flopsPerEvalSample);
});

test("input streams count the DAC passes of each layer's input encoding", () => {
  // 2-bit DACs: conv1 reads the signed image (sign-magnitude: 2 × ⌈7/2⌉ = 8 passes); conv2 and fc1
  // read ReLU outputs (unsigned: ⌈8/2⌉ = 4); with 1-bit DACs signed inputs are two's complement (8).
  const wide = compile(spec(lenet()), { sets: ['xb.dac_bits=2'] });
  assert.equal(wide.hasErrors, false, wide.diagnostics.map((d) => d.message).join('\n'));
  const streams = (r: typeof wide, name: string): number | undefined =>
    r.plan!.experiments[0]!.network.layers.find((l) => l.name === name)!.mapping!.inputStreams;
  assert.equal(streams(wide, 'conv1'), 8);
  assert.equal(streams(wide, 'conv2'), 4);
  assert.equal(streams(wide, 'fc1'), 4);
  const narrow = compile(spec(lenet()));
  assert.equal(streams(narrow, 'conv1'), 8);
  assert.equal(streams(narrow, 'fc1'), 8);
});

test('input streams after sigmoid are unsigned (⌈bits/dac⌉), after tanh signed', () => {
  const file = spec(`import { PUMA_RRAM } from "std/devices"
crossbar xb { size = 64 x 64, device = PUMA_RRAM, weight_bits = 8, cell_bits = 2, input_bits = 8, dac_bits = 2 }
network Act {
  input = 1 x 20 x 20
  flatten
  fc1 = dense(16)
  sigmoid
  fc2 = dense(16)
  tanh
  fc3 = dense(10)
}
experiment e {
  data = mnist(train = 100, test = 100, crop = 20)
  model = Act
  map * -> xb
  train { epochs = 1, batch = 10, optimizer = sgd(lr = 0.1) }
}
`);
  const streams = (sets: string[]): Record<string, number | undefined> => {
    const r = compile(file, { sets });
    assert.equal(r.hasErrors, false, r.diagnostics.map((d) => d.message).join('\n'));
    const layers = r.plan!.experiments[0]!.network.layers;
    assert.deepEqual(
      layers.map((l) => l.op.kind),
      ['flatten', 'dense', 'sigmoid', 'dense', 'tanh', 'dense'],
    );
    return Object.fromEntries(layers.filter((l) => l.mapping).map((l) => [l.name, l.mapping!.inputStreams]));
  };
  // 2-bit DACs: unsigned ⌈8/2⌉ = 4; signed sign-magnitude 2 × ⌈7/2⌉ = 8 (the image input and tanh).
  assert.deepEqual(streams([]), { fc1: 8, fc2: 4, fc3: 8 });
  // 4-bit DACs: unsigned ⌈8/4⌉ = 2; signed 2 × ⌈7/4⌉ = 4.
  assert.deepEqual(streams(['xb.dac_bits=4']), { fc1: 4, fc2: 2, fc3: 4 });
});

test('mnist(binarize = …) reaches the plan; absent unless written; out of range is a located diagnostic', () => {
  const bw = compile(spec(lenet()), { sets: ['data.binarize=0.5'] });
  assert.equal(bw.hasErrors, false, bw.diagnostics.map((d) => d.message).join('\n'));
  assert.equal(bw.plan!.experiments[0]!.data.binarize, 0.5);
  assert.equal(compile(spec(lenet())).plan!.experiments[0]!.data.binarize, undefined);
  const bad = compile(spec(lenet()), { sets: ['data.binarize=1.5'] });
  assert.ok(bad.hasErrors && bad.diagnostics.some((d) => /binarize/.test(d.message)), bad.diagnostics.map((d) => d.message).join('\n'));
});

test('train.weight_range and train.headroom reach the plan; weight_range is absent unless written, headroom takes the table default', () => {
  const set = compile(spec(lenet()), { sets: ['train.weight_range=1', 'train.headroom=2'] });
  assert.equal(set.hasErrors, false, set.diagnostics.map((d) => d.message).join('\n'));
  assert.equal(set.plan!.experiments[0]!.train!.weightRange, 1);
  assert.equal(set.plan!.experiments[0]!.train!.headroom, 2);
  const plain = compile(spec(lenet()));
  assert.equal(plain.plan!.experiments[0]!.train!.weightRange, undefined);
  assert.equal(plain.plan!.experiments[0]!.train!.headroom, 1);
  const bad = compile(spec(lenet()), { sets: ['train.headroom=0.5'] });
  assert.ok(bad.hasErrors, 'headroom below 1 is rejected');
});

test('train.init, train.program_offset and train.sampling reach the plan; defaults he_normal, 0 and shuffle; levels below 2 is a located error', () => {
  const text = lenet().replace(
    'optimizer = sgd(lr = 0.01) }',
    'optimizer = sgd(lr = 0.01), init = uniform(limit = 1, levels = 7), program_offset = -100 %, sampling = replacement }',
  );
  const set = compile(spec(text));
  assert.equal(set.hasErrors, false, set.diagnostics.map((d) => d.message).join('\n'));
  assert.deepEqual(set.plan!.experiments[0]!.train!.init, { kind: 'uniform', limit: 1, levels: 7 });
  assert.equal(set.plan!.experiments[0]!.train!.programOffset, -1);
  assert.equal(set.plan!.experiments[0]!.train!.sampling, 'replacement');
  const plain = compile(spec(lenet()));
  assert.deepEqual(plain.plan!.experiments[0]!.train!.init, { kind: 'he_normal' });
  assert.equal(plain.plan!.experiments[0]!.train!.programOffset, 0);
  assert.equal(plain.plan!.experiments[0]!.train!.sampling, 'shuffle');
  assert.deepEqual(compile(spec(lenet()), { sets: ['train.init=uniform(limit = 0.5)'] }).plan!.experiments[0]!.train!.init, { kind: 'uniform', limit: 0.5 });
  const bad = compile(spec(text.replace('levels = 7', 'levels = 1')));
  const d = bad.diagnostics.find((x) => x.code === 'out-of-range');
  assert.ok(bad.hasErrors && d && /levels/.test(d.message), bad.diagnostics.map((x) => x.message).join('\n'));
  assert.equal(d.span.line, 8, 'located on the train line');
  assert.ok(compile(spec(lenet()), { sets: ['train.program_offset=-150 %'] }).hasErrors, 'program_offset below −100 % is rejected');
});

test('drift times in days: evaluate.time = 30 days reaches the plan in seconds, as 1 day = 24 h', () => {
  const days = compile(spec(lenet('evaluate { time = 30 days }')));
  assert.equal(days.hasErrors, false, days.diagnostics.map((d) => d.message).join('\n'));
  assert.equal(days.plan!.experiments[0]!.evaluate.time, 30 * 86400);
  const day = compile(spec(lenet('evaluate { time = 1 day }')));
  const hours = compile(spec(lenet('evaluate { time = 24 h }')));
  assert.equal(day.plan!.experiments[0]!.evaluate.time, hours.plan!.experiments[0]!.evaluate.time);
  // Still a time: a day is not a resistance.
  const wrong = compile(spec(lenet('evaluate { time = 1 day }').replace('size = 64 x 64,', 'size = 64 x 64, wires = { row = 1 day },')));
  assert.ok(
    wrong.diagnostics.some((d) => d.code === 'dimension-mismatch'),
    wrong.diagnostics.map((d) => d.code).join(),
  );
});

test('--set overrides are checked like the file and change the plan', () => {
  const file = spec(lenet());
  const r = compile(file, { sets: ['train.batch=16', 'xb.size=32 x 32', 'seed=9'] });
  assert.equal(r.hasErrors, false, r.diagnostics.map((d) => d.message).join('\n'));
  const exp = r.plan!.experiments[0]!;
  assert.equal(exp.train!.batch, 16);
  assert.equal(exp.seed, 9);
  assert.equal(exp.network.layers.find((l) => l.name === 'fc1')!.mapping!.tiles!.rowTiles, 13);
  // 5-bit weights on 2-bit cells: ⌈5/2⌉ = 3 slices (2, 2, 1 bits), not an error.
  const narrow = compile(file, { sets: ['xb.weight_bits=5'] });
  assert.equal(narrow.hasErrors, false, narrow.diagnostics.map((d) => d.message).join('\n'));
  assert.equal(narrow.plan!.experiments[0]!.network.layers.find((l) => l.name === 'fc1')!.mapping!.weightSlices, 3);
  const bad = compile(file, { sets: ['xb.dac_bits=3'] });
  assert.ok(
    bad.diagnostics.some((d) => d.code === 'stream-mismatch'),
    'dac_bits = 3 does not divide 8',
  );
  const unknown = compile(file, { sets: ['xb.adc.bitz=4'] });
  assert.ok(
    unknown.diagnostics.some((d) => /did you mean bits/.test(d.message)),
    unknown.diagnostics.map((d) => d.message).join('\n'),
  );
  const malformed = compile(file, { sets: ['no-equals-sign'] });
  assert.ok(malformed.diagnostics.some((d) => d.code === 'set-invalid'));
  const nowhere = compile(file, { sets: ['nosuch.thing=1'] });
  assert.ok(nowhere.diagnostics.some((d) => d.code === 'sweep-unknown-path'));
});

test('sweep points are numbered, re-checked and written to their own directories', () => {
  const file = spec(lenet('sweep xb.adc.bits in [4, 6] * train.optimizer.lr in [0.01, 0.1, 0.2]'));
  const r = compile(file);
  assert.equal(r.hasErrors, false, r.diagnostics.map((d) => d.message).join('\n'));
  const exps = r.plan!.experiments;
  assert.equal(exps.length, 6);
  assert.deepEqual(
    exps.map((e) => e.point!.index),
    [0, 1, 2, 3, 4, 5],
  );
  // Last axis fastest.
  assert.deepEqual(exps[1]!.point!.assignments, { 'xb.adc.bits': '4', 'train.optimizer.lr': '0.1' });
  assert.equal(exps[3]!.crossbars['xb']!.adc.bits, 6);
  assert.equal(exps[4]!.train!.optimizer.lr, 0.1);
  assert.match(exps[5]!.outDir, /points[\\/]0005$/);
  const one = compile(file, { point: 4 });
  assert.equal(one.plan!.experiments.length, 1);
  assert.equal(one.plan!.experiments[0]!.point!.index, 4);
  const outOfRange = compile(file, { point: 6 });
  assert.ok(outOfRange.hasErrors);
});

test('the spec hash follows values, not formatting', () => {
  const a = compile(spec(lenet()));
  const b = compile(spec(lenet().replace(/\n/g, '\n\n').replace('epochs = 2', 'epochs   =   2 /* two */')));
  const c = compile(spec(lenet().replace('epochs = 2', 'epochs = 3')));
  assert.equal(a.plan!.specHash, b.plan!.specHash);
  assert.notEqual(a.plan!.specHash, c.plan!.specHash);
});

test('a plan that needs more memory than available is a located error before running', () => {
  const r = compile(spec(lenet()), { memoryLimitBytes: 64 * 1024 * 1024 });
  const d = r.diagnostics.find((x) => x.code === 'memory-exceeded');
  assert.ok(d, 'memory-exceeded expected');
  assert.equal(d.span.line, 4);
  assert.match(
    d.message,
    /experiment e needs about .* MiB of memory at train\.batch = \d+, more than the 64\.0 MiB available; even train\.batch = 1 does not fit/,
  );
  assert.equal(r.plan, undefined);
});

test('every experiment under experiments/ compiles to a schema-valid plan', () => {
  for (const name of ['lenet5-ideal', 'mlp-ideal', 'txsim-lenet5', 'neurosim-devices', 'lenet5-exact-inference', 'mlp400-sigmoid']) {
    const r = compile(join(packageRoot, 'experiments', `${name}.xbar`));
    assert.equal(r.hasErrors, false, `${name}: ${r.diagnostics.map((d) => d.message).join('\n')}`);
    assert.ok(r.plan!.experiments.length >= 1);
  }
});

test('sweeps of experiment fields stay within their own experiment when a file has several', () => {
  const file = spec(`import { MLP } from "std/networks"
experiment a {
  model = MLP()
  fidelity = ideal
  train { epochs = 1, optimizer = sgd(lr = 0.01) }
  sweep train.optimizer.lr in [0.1, 0.2] * seed in [1, 2]
}
experiment b {
  model = MLP()
  fidelity = ideal
  sweep seed in [5, 6, 7]
}
`);
  const r = compile(file);
  assert.equal(r.hasErrors, false, r.diagnostics.map((d) => d.message).join('\n'));
  const a = r.plan!.experiments.filter((e) => e.name === 'a');
  const b = r.plan!.experiments.filter((e) => e.name === 'b');
  assert.deepEqual(
    a.map((e) => [e.train!.optimizer.lr, e.seed]),
    [
      [0.1, 1],
      [0.1, 2],
      [0.2, 1],
      [0.2, 2],
    ],
  );
  assert.deepEqual(
    b.map((e) => e.seed),
    [5, 6, 7],
  );
  assert.ok(
    b.every((e) => e.train === undefined),
    "b has no training: a's sweep must not touch it",
  );
});

test('zip sweeps pair their axes value by value; cartesian factors multiply', () => {
  const file = spec(lenet('sweep zip(seed in [1, 2, 3], train.epochs in [1, 3, 5]) * xb.adc.bits in [4, 6]'));
  const r = compile(file);
  assert.equal(r.hasErrors, false, r.diagnostics.map((d) => d.message).join('\n'));
  const pts = r.plan!.experiments.map((e) => [e.seed, e.train!.epochs, e.crossbars['xb']!.adc.bits]);
  assert.deepEqual(pts, [
    [1, 1, 4],
    [1, 1, 6],
    [2, 3, 4],
    [2, 3, 6],
    [3, 5, 4],
    [3, 5, 6],
  ]);
});
