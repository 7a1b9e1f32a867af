/**
 * Special files where a spec, a data set or an array is expected: a FIFO must not block, a device
 * such as /dev/zero must not be read forever, a file of garbage must not produce a diagnostic per
 * token. Each case ends quickly (the spawn timeout would fail it) with a message naming the path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/compiler/resolve.js';

const bin = join(packageRoot, 'bin', 'xbarc.js');

function xbarc(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
  assert.equal(r.error, undefined, `xbarc ${args.join(' ')} did not finish: ${r.error?.message}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A folder with a FIFO f.xbar, a symlink z.xbar → /dev/zero and a FIFO data file. */
function specialDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-special-'));
  assert.equal(spawnSync('mkfifo', [join(dir, 'f.xbar'), join(dir, 'images.idx')]).status, 0, 'mkfifo');
  symlinkSync('/dev/zero', join(dir, 'z.xbar'));
  return dir;
}

test('check: importing a FIFO or /dev/zero is a located error, not a hang or an exhausted heap', () => {
  const dir = specialDir();
  writeFileSync(join(dir, 'spec.xbar'), 'import * from "./z"\nimport * from "./f"\n\ndevice d { levels = 4 }\n');
  const r = xbarc(['check', 'spec.xbar'], dir);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /spec\.xbar:1:15: error import-unreadable: cannot import "\.\/z": z\.xbar is not a regular file \(it is a character device\)/);
  assert.match(r.stdout, /spec\.xbar:2:15: error import-unreadable: cannot import "\.\/f": f\.xbar is not a regular file \(it is a FIFO\)/);
  const root = xbarc(['check', 'f.xbar', 'z.xbar'], dir);
  assert.equal(root.code, 2);
  assert.match(root.stderr, /xbarc check: cannot read f\.xbar: is not a regular file \(it is a FIFO\)/);
  assert.match(root.stderr, /xbarc check: cannot read z\.xbar: is not a regular file \(it is a character device\)/);
});

test('run: a data file that is a device or a FIFO is refused before training, naming it', () => {
  const dir = specialDir();
  const spec = (images: string) => `import { MLP } from "std/networks"
experiment e {
  data     = idx(train_images = "${images}", train_labels = "${images}", test_images = "${images}", test_labels = "${images}")
  model    = MLP(hidden1 = 8, hidden2 = 8)
  fidelity = ideal
  train { epochs = 1, batch = 8, optimizer = sgd(lr = 0.05) }
}
`;
  writeFileSync(join(dir, 'zero.xbar'), spec('/dev/zero'));
  const zero = xbarc(['run', 'zero.xbar', '--out', 'out', '--quiet'], dir);
  assert.equal(zero.code, 1);
  assert.match(zero.stderr, /error data\/read-failed: \/dev\/zero: is not a regular file \(it is a character device\)/);
  writeFileSync(join(dir, 'fifo.xbar'), spec('images.idx'));
  const fifo = xbarc(['run', 'fifo.xbar', '--out', 'out', '--quiet'], dir);
  assert.equal(fifo.code, 1);
  assert.match(fifo.stderr, /images\.idx: is not a regular file \(it is a FIFO\)/);
});

test('fmt and mvm refuse special files with a message', () => {
  const dir = specialDir();
  const fmt = xbarc(['fmt', 'f.xbar'], dir);
  assert.equal(fmt.code, 1);
  assert.match(fmt.stderr, /xbarc fmt: cannot read f\.xbar: is not a regular file \(it is a FIFO\)/);
  writeFileSync(join(dir, 'xb.xbar'), 'device d { levels = 4 }\ncrossbar xb { size = 8 x 8, device = d }\n');
  const mvm = xbarc(['mvm', '--spec', 'xb.xbar', '--crossbar', 'xb', '--weights', 'z.xbar', '--inputs', 'z.xbar', '--out', 'y.npy'], dir);
  assert.equal(mvm.code, 1);
  assert.match(mvm.stderr, /xbarc mvm: weights z\.xbar: cannot read z\.xbar: is not a regular file \(it is a character device\)/);
});

test('check: megabytes of garbage give a bounded number of diagnostics and a note that the rest is not checked', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-garbage-'));
  const words = ['}', ')', '=', 'x', '1', '"s"', '@', '{', '(', ',', '..', '->', 'device', 'experiment', 'import', '#'];
  let text = '';
  for (let i = 0; text.length < 3_500_000; i++) text += words[(i * 7919) % words.length] + (i % 13 === 0 ? '\n' : ' ');
  writeFileSync(join(dir, 'garbage.xbar'), text);
  writeFileSync(join(dir, 'at.xbar'), '@ '.repeat(1_500_000));
  for (const file of ['garbage.xbar', 'at.xbar']) {
    const r = xbarc(['check', '--json', file], dir);
    assert.equal(r.code, 1);
    const diagnostics = (JSON.parse(r.stdout) as { diagnostics: { code: string; message: string }[] }).diagnostics;
    assert.ok(diagnostics.length > 0 && diagnostics.length <= 101, `${file}: ${diagnostics.length} diagnostics`);
    assert.match(diagnostics[diagnostics.length - 1]!.message, /^too many syntax errors \(more than 100\); the rest of the file is not checked$/);
  }
});
