import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { definition, references, documentSymbols } from '../../src/lsp/services/index.js';
import { stdlibDir } from '../../src/compiler/resolve.js';
import { positionOf, scratchDir, TXSIM_SPEC } from './helpers.js';

const dir = scratchDir();
const path = join(dir, 'spec.xbar');

function lineOf(file: string, needle: string): number {
  return readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(needle));
}

test('a preset name goes to its declaration in stdlib/devices.xbar', () => {
  const defs = definition(TXSIM_SPEC, path, positionOf(TXSIM_SPEC, 'AgSi_TxSim {', 3));
  assert.equal(defs.length, 1);
  assert.equal(defs[0]!.path, join(stdlibDir, 'devices.xbar'));
  assert.equal(defs[0]!.range.start.line, lineOf(join(stdlibDir, 'devices.xbar'), 'device AgSi_TxSim'));
  assert.equal(defs[0]!.range.start.character, 'device '.length);
});

test('a crossbar name in map goes to its declaration; digital goes nowhere', () => {
  const defs = definition(TXSIM_SPEC, path, positionOf(TXSIM_SPEC, '-> xb64', 4));
  assert.deepEqual(
    defs.map((d) => [d.path, d.range.start.line, d.range.start.character]),
    [[path, TXSIM_SPEC.split('\n').findIndex((l) => l.startsWith('crossbar xb64')), 'crossbar '.length]],
  );
  assert.deepEqual(definition(TXSIM_SPEC, path, positionOf(TXSIM_SPEC, 'digital', 2)), []);
});

test('a network, an import, a map pattern and an inherited value go to their sources', () => {
  const net = definition(TXSIM_SPEC, path, positionOf(TXSIM_SPEC, 'LeNet5(', 2));
  assert.equal(net[0]!.path, join(stdlibDir, 'networks.xbar'));
  const fromImport = definition(TXSIM_SPEC, path, positionOf(TXSIM_SPEC, 'txsim64 }', 2));
  assert.equal(fromImport[0]!.path, join(stdlibDir, 'crossbars.xbar'));
  const file = definition(TXSIM_SPEC, path, positionOf(TXSIM_SPEC, '"std/networks"', 3));
  assert.equal(file[0]!.path, join(stdlibDir, 'networks.xbar'));
  const layer = definition(TXSIM_SPEC, path, positionOf(TXSIM_SPEC, 'fc3 ->', 1));
  assert.equal(layer.length, 1);
  const nets = readFileSync(join(stdlibDir, 'networks.xbar'), 'utf8').split('\n');
  const lenet = nets.findIndex((l) => l.startsWith('network LeNet5'));
  assert.equal(
    layer[0]!.range.start.line,
    nets.findIndex((l, i) => i > lenet && l.includes('fc3 = dense(classes)')),
  );
  const glob = definition(TXSIM_SPEC, path, positionOf(TXSIM_SPEC, '* ->', 0));
  assert.equal(glob.length, 5, 'the glob matches the five weighted layers');
  // `xb64.adc.bits` in the sweep: adc is written in this file.
  const swept = definition(TXSIM_SPEC, path, positionOf(TXSIM_SPEC, 'xb64.adc', 6));
  assert.equal(
    swept[0]!.range.start.line,
    TXSIM_SPEC.split('\n').findIndex((l) => l.includes('adc     = { bits = 8 }')),
  );
});

test('references of a device across the file and the stdlib', () => {
  const refs = references(TXSIM_SPEC, path, positionOf(TXSIM_SPEC, 'AgSi_TxSim', 1), { includeDeclaration: true });
  const where = refs.map((r) => `${r.path === path ? 'spec' : r.path.slice(stdlibDir.length + 1)}:${r.range.start.line}`);
  assert.ok(where.includes('spec:0'), 'the import');
  assert.ok(where.includes('spec:4'), 'the preset use');
  assert.ok(
    where.some((w) => w.startsWith('devices.xbar:')),
    'the declaration',
  );
  assert.ok(
    where.some((w) => w.startsWith('crossbars.xbar:')),
    'the use in std/crossbars',
  );
  const noDecl = references(TXSIM_SPEC, path, positionOf(TXSIM_SPEC, 'AgSi_TxSim', 1), { includeDeclaration: false });
  assert.equal(noDecl.length, refs.length - 1);
});

test('references of a local crossbar include map targets and sweep paths, and other open files', () => {
  const refs = references(TXSIM_SPEC, path, positionOf(TXSIM_SPEC, 'crossbar xb64', 10), { includeDeclaration: true });
  assert.deepEqual(
    refs.map((r) => r.range.start.line),
    [9, 18, 24],
  );
  const lib = join(dir, 'lib.xbar');
  writeFileSync(lib, 'device mine {\n  levels = 8\n}\n');
  const user = 'import { mine } from "./lib"\ncrossbar c {\n  device = mine\n}\n';
  const libText = readFileSync(lib, 'utf8');
  const fromLib = references(libText, lib, positionOf(libText, 'mine', 1), { roots: [{ path: join(dir, 'user.xbar'), text: user }] });
  assert.equal(fromLib.length, 3, JSON.stringify(fromLib));
});

test('document symbols: declarations with their fields, blocks and statements', () => {
  const symbols = documentSymbols(TXSIM_SPEC, path);
  assert.deepEqual(
    symbols.map((s) => `${s.kind} ${s.name}`),
    ['import import AgSi_TxSim', 'import import txsim64', 'import import LeNet5', 'device rram', 'crossbar xb64', 'experiment txsim_lenet5'],
  );
  const xb = symbols[4]!;
  assert.equal(xb.detail, 'crossbar = txsim64');
  assert.deepEqual(
    xb.children.map((c) => `${c.kind} ${c.name}`),
    ['field device', 'field mapping', 'block adc'],
  );
  assert.deepEqual(
    xb.children[2]!.children.map((c) => c.name),
    ['bits'],
  );
  const exp = symbols[5]!;
  assert.deepEqual(
    exp.children.map((c) => c.name),
    ['data', 'model', 'map', 'fidelity', 'train', 'sweep', 'seed'],
  );
  const nets = documentSymbols(readFileSync(join(stdlibDir, 'networks.xbar'), 'utf8'), join(stdlibDir, 'networks.xbar'));
  const lenet = nets.find((s) => s.name === 'LeNet5')!;
  assert.equal(lenet.kind, 'network');
  assert.deepEqual(
    lenet.children.filter((c) => c.kind === 'parameter').map((c) => c.name),
    ['classes', 'channels'],
  );
  assert.ok(lenet.children.some((c) => c.kind === 'layer' && c.name === 'conv1'));
  for (const s of [...symbols, ...nets]) {
    const inside = (a: { line: number; character: number }, b: { line: number; character: number }) =>
      a.line < b.line || (a.line === b.line && a.character <= b.character);
    assert.ok(inside(s.range.start, s.selectionRange.start) && inside(s.selectionRange.end, s.range.end), `${s.name}: selection inside range`);
  }
});
