/** `xbarc mvm` and `xbarc tile` refuse NaN and ±Inf in their .npy inputs, naming the file and the element. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/compiler/resolve.js';
import { formatNpy64 } from '../../src/runtime/npy.js';
import { assertAllFinite, multiIndex } from '../../src/runtime/finite.js';

const bin = join(packageRoot, 'bin', 'xbarc.js');
const SPEC =
  'device d {\n  levels = 16\n  r_on = 100 kOhm\n  on_off = 10\n}\ncrossbar xb {\n  size = 8 x 8\n  device = d\n  wires = { row = 1 Ohm, col = 1 Ohm }\n}\n';

function xbarc(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function setup(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-finite-'));
  writeFileSync(join(dir, 'spec.xbar'), SPEC);
  const npy = (name: string, data: number[], shape: number[]) => writeFileSync(join(dir, name), formatNpy64(data, shape));
  const w = Array.from({ length: 4 * 3 }, (_, k) => 0.1 * (k - 6));
  npy('W.npy', w, [4, 3]);
  npy(
    'W-nan.npy',
    w.map((v, k) => (k === 5 ? NaN : v)),
    [4, 3],
  );
  npy('X.npy', [0.5, -0.25, 1, 0, 0.1, 0.2, 0.3, 0.4], [2, 4]);
  npy('X-inf.npy', [0.5, -0.25, 1, 0, 0.1, 0.2, -Infinity, 0.4], [2, 4]);
  npy('G.npy', new Array<number>(16).fill(5e-6), [4, 4]);
  npy(
    'G-inf.npy',
    new Array<number>(16).fill(5e-6).map((v, k) => (k === 9 ? Infinity : v)),
    [4, 4],
  );
  npy('V.npy', [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [8]);
  npy('V-nan.npy', [0.1, 0.2, NaN, 0.4, 0.5, 0.6, 0.7, 0.8], [8]);
  return dir;
}

test('mvm: a NaN weight or an infinite input is refused with the file, the element and its flat index; nothing is written', () => {
  const dir = setup();
  const args = (w: string, x: string) => ['mvm', '--spec', 'spec.xbar', '--crossbar', 'xb', '--weights', w, '--inputs', x, '--out', 'Y.npy'];
  const nan = xbarc(args('W-nan.npy', 'X.npy'), dir);
  assert.equal(nan.code, 1);
  assert.match(nan.stderr, /xbarc mvm: weights W-nan\.npy: element \[1, 2\] \(flat index 5\) is NaN; every value must be a finite number/);
  const inf = xbarc(args('W.npy', 'X-inf.npy'), dir);
  assert.equal(inf.code, 1);
  assert.match(inf.stderr, /inputs X-inf\.npy: element \[1, 2\] \(flat index 6\) is -Infinity/);
  assert.ok(!existsSync(join(dir, 'Y.npy')));
  assert.equal(xbarc(args('W.npy', 'X.npy'), dir).code, 0, 'finite inputs still work');
});

test('tile: an infinite conductance or a NaN voltage is refused the same way', () => {
  const dir = setup();
  const g = xbarc(['tile', '--spec', 'spec.xbar', '--conductances', 'G-inf.npy', '--out', 'Gni.npy'], dir);
  assert.equal(g.code, 1);
  assert.match(g.stderr, /--conductances G-inf\.npy: element \[2, 1\] \(flat index 9\) is Infinity/);
  const v = xbarc(['tile', '--spec', 'spec.xbar', '--conductances', 'G.npy', '--inputs', 'V-nan.npy', '--currents', 'I.npy'], dir);
  assert.equal(v.code, 1);
  assert.match(v.stderr, /--inputs V-nan\.npy: element 2 is NaN/);
  assert.ok(!existsSync(join(dir, 'I.npy')));
});

test('multiIndex and assertAllFinite', () => {
  assert.deepEqual(multiIndex(23, [2, 3, 4]), [1, 2, 3]);
  assert.deepEqual(multiIndex(0, [5]), [0]);
  assert.doesNotThrow(() => assertAllFinite([1, -2, 0], [3], 'a'));
  assert.throws(() => assertAllFinite(Float32Array.of(1, NaN), [1, 2], 'x.npy'), /^XbarcRuntimeError: x\.npy: element \[0, 1\] \(flat index 1\) is NaN/);
});
