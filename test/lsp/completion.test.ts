import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { completion, type CompletionEntry } from '../../src/lsp/services/index.js';
import { FileSystemHost } from '../../src/compiler/resolve.js';
import { scratchDir, withCursor } from './helpers.js';

const dir = scratchDir();
const path = join(dir, 'spec.xbar');
const HEAD = 'import { AgSi_TxSim } from "std/devices"\nimport { LeNet5 } from "std/networks"\n';

function complete(marked: string, options = {}): CompletionEntry[] {
  const { text, position } = withCursor(marked);
  return completion(text, path, position, options);
}

function labels(marked: string, options = {}): string[] {
  return complete(marked, options).map((e) => e.label);
}

test('parameter names valid in a crossbar body, minus those already set', () => {
  const l = labels(`${HEAD}crossbar c {\n  size = 64 x 64\n  <|>\n}`);
  for (const p of ['device', 'mapping', 'weight_bits', 'adc', 'wires', 'parasitics']) assert.ok(l.includes(p), p);
  assert.ok(!l.includes('size'), 'size is already set');
  assert.ok(!l.includes('levels'), 'levels is a device parameter');
  const entry = complete(`${HEAD}crossbar c {\n  map<|>\n}`).find((e) => e.label === 'mapping');
  assert.equal(entry?.insertText, 'mapping = ');
  assert.match(entry?.documentation ?? '', /Default: `differential`/);
});

test('parameters of a nested block and of a constructor call', () => {
  assert.deepEqual(labels(`${HEAD}crossbar c {\n  adc = { bits = 4, <|> }\n}`), ['range', 'offset', 'gain_error', 'inl', 'rounding']);
  assert.deepEqual(labels(`${HEAD}device d {\n  update = nonlinear(ltp = 1, <|>)\n}`), ['ltd', 'c2c', 'd2d']);
  const train = labels(`${HEAD}experiment e {\n  train {\n    epochs = 1\n    <|>\n  }\n}`);
  assert.deepEqual(train, ['batch', 'optimizer', 'schedule', 'sampling', 'init', 'nonideal', 'loss', 'lr_scale', 'weight_range', 'program_offset', 'headroom']);
});

test('units after a number, filtered by the parameter dimension', () => {
  const l = labels(`${HEAD}device d {\n  r_on = 100 <|>\n}`);
  assert.deepEqual(l, ['Ohm', 'mOhm', 'kOhm', 'MOhm', 'GOhm']);
  assert.deepEqual(labels(`${HEAD}device d {\n  r_on = 100 k<|>\n}`), ['Ohm', 'mOhm', 'kOhm', 'MOhm', 'GOhm']);
  assert.deepEqual(labels(`${HEAD}device d {\n  v_read = 0.2 <|>\n}`), ['V', 'mV', 'uV']);
  assert.deepEqual(labels(`${HEAD}device d {\n  d2d_sigma = 3 <|>\n}`), ['%']);
});

test('enum values after `mapping =`', () => {
  assert.deepEqual(labels(`${HEAD}crossbar c {\n  mapping = <|>\n}`), ['differential', 'offset']);
  assert.deepEqual(labels(`${HEAD}experiment e {\n  fidelity = f<|>\n}`), ['ideal', 'fast', 'exact']);
  assert.deepEqual(labels(`${HEAD}experiment e {\n  train { nonideal = [forward, <|>] }\n}`), ['forward', 'backward', 'update']);
});

test('constructor names after `update =` and other families', () => {
  assert.deepEqual(labels(`${HEAD}device d {\n  update = <|>\n}`), ['ideal', 'nonlinear', 'txsim', 'constant_step', 'soft_bounds', 'exp_step']);
  assert.deepEqual(labels(`${HEAD}crossbar c {\n  parasitics = <|>\n}`), ['none', 'fcm', 'aam', 'surrogate']);
  assert.deepEqual(labels(`${HEAD}experiment e {\n  train { optimizer = <|> }\n}`), ['sgd', 'momentum', 'adam']);
});

test('layer names after `map`, crossbars and digital after `->`', () => {
  const spec = `${HEAD}crossbar xb { device = AgSi_TxSim }\nexperiment e {\n  model = LeNet5(classes = 10)\n  map <|>\n}`;
  const l = labels(spec);
  for (const name of ['*', 'conv1', 'conv2', 'fc1', 'fc2', 'fc3', 'conv*']) assert.ok(l.includes(name), name);
  assert.ok(!l.includes('relu1'), 'only weighted layers can be mapped');
  const after = labels(spec.replace('map <|>', 'map conv1 -> xb, <|>'));
  assert.ok(after.includes('fc3'));
  const targets = labels(spec.replace('map <|>', 'map * -> <|>'));
  assert.ok(targets.includes('xb') && targets.includes('digital'));
  assert.ok(!targets.includes('AgSi_TxSim'), 'a device is not a map target');
});

test('imported names and stdlib names (with the import they need)', () => {
  const devices = complete(`${HEAD}crossbar c {\n  device = <|>\n}`);
  const imported = devices.find((e) => e.label === 'AgSi_TxSim');
  assert.ok(imported && !imported.additionalEdits, 'an imported device needs no edit');
  const std = devices.find((e) => e.label === 'TaOx_HfOx');
  assert.ok(std?.additionalEdits, 'a stdlib device brings its import');
  assert.equal(std.additionalEdits[0]!.newText, ', TaOx_HfOx');
  assert.ok(!devices.some((e) => e.label === 'LeNet5'), 'a network is not a device');
  const models = labels(`${HEAD}experiment e {\n  model = <|>\n}`);
  assert.equal(models[0], 'LeNet5');
  assert.ok(models.includes('ResNet20'));
});

test('names imported from a relative file, and from an unsaved buffer of it', () => {
  const lib = join(dir, 'lib.xbar');
  writeFileSync(lib, 'device mydev {\n  levels = 16\n}\n');
  const spec = `import { mydev } from "./lib"\ncrossbar c {\n  device = <|>\n}`;
  assert.ok(labels(spec).includes('mydev'));
  const host = new FileSystemHost(new Map([[lib, 'device mydev {\n  levels = 16\n}\ndevice other {}\n']]));
  assert.ok(labels(`import { <|> } from "./lib"`, { host }).includes('other'), 'the open buffer is seen');
  assert.deepEqual(labels(`import { x } from "./<|>"`), ['./lib']);
  assert.ok(labels(`import { x } from "std/<|>"`).includes('std/devices'));
});

test('keywords at the top level; network parameters and layers in a network body', () => {
  assert.deepEqual(labels('<|>'), ['import', 'device', 'crossbar', 'network', 'experiment']);
  const body = labels(`network N(width = 8) {\n  conv1 = conv2d(<|>)\n}`);
  assert.deepEqual(body.slice(0, 5), ['out', 'kernel', 'stride', 'padding', 'bias']);
  assert.ok(labels(`network N(width = 8) {\n  fc = dense(units = <|>)\n}`).includes('width'));
  assert.ok(labels(`network N {\n  <|>\n}`).includes('conv2d'));
  const activations = complete(`network N {\n  <|>\n}`).filter((e) => e.label === 'sigmoid' || e.label === 'tanh');
  assert.deepEqual(
    activations.map((e) => e.label),
    ['sigmoid', 'tanh'],
  );
  assert.match(activations[0]!.documentation ?? '', /unsigned inputs/);
});

test('nothing inside comments and strings; no crash on any prefix of a spec', () => {
  assert.deepEqual(labels(`// a comment <|>\n`), []);
  const spec = `${HEAD}crossbar c {\n  device = AgSi_TxSim\n  adc = { bits = 8, range = calibrate(99.9 %) }\n}\n`;
  for (let i = 0; i <= spec.length; i++) {
    assert.doesNotThrow(() => completion(spec.slice(0, i), path, { line: 99, character: 0 }));
  }
});
