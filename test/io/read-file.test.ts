/** src/io/read-file.ts: only regular files are read, FIFOs never block, caps hold whatever fstat says. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FILE_SIZE_LIMITS, FileReadError, probeFile, readRegularFile, readRegularText } from '../../src/io/read-file.js';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'xbarc-io-'));
}

function problemOf(fn: () => unknown): FileReadError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FileReadError) return err;
    throw err;
  }
  assert.fail('expected a FileReadError');
}

test('regular files are read whole; a missing one says so', () => {
  const dir = scratch();
  writeFileSync(join(dir, 'a.xbar'), 'device d {}\n');
  assert.equal(readRegularText(join(dir, 'a.xbar'), 'spec'), 'device d {}\n');
  assert.equal(probeFile(join(dir, 'a.xbar'), 'spec'), undefined);
  const missing = problemOf(() => readRegularFile(join(dir, 'nope.xbar'), 'spec'));
  assert.equal(missing.problem, 'missing');
  assert.equal(missing.message, `${join(dir, 'nope.xbar')}: no such file`);
});

test('a FIFO is refused at once instead of blocking, a device or a symlink to one too, and a directory', () => {
  const dir = scratch();
  const fifo = join(dir, 'f.xbar');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  const f = problemOf(() => readRegularFile(fifo, 'spec'));
  assert.equal(f.problem, 'not-regular');
  assert.match(f.message, /f\.xbar: is not a regular file \(it is a FIFO\)$/);
  symlinkSync('/dev/zero', join(dir, 'z.xbar'));
  const z = problemOf(() => readRegularFile(join(dir, 'z.xbar'), 'data'));
  assert.match(z.reason, /^is not a regular file \(it is a character device\)$/);
  assert.equal(probeFile(join(dir, 'z.xbar'), 'spec')?.problem, 'not-regular');
  mkdirSync(join(dir, 'd.xbar'));
  assert.equal(problemOf(() => readRegularFile(join(dir, 'd.xbar'), 'spec')).problem, 'directory');
});

test('the size cap of each kind holds: a file above it is refused before it is read', () => {
  const dir = scratch();
  const big = join(dir, 'big.xbar');
  writeFileSync(big, '');
  truncateSync(big, FILE_SIZE_LIMITS.spec + 1); // sparse: no 4 MiB written
  const e = problemOf(() => readRegularText(big, 'spec'));
  assert.equal(e.problem, 'too-large');
  assert.match(e.reason, /^is larger than the 4 MiB limit for \.xbar specs \(4\.1 MiB\)$/);
  truncateSync(big, FILE_SIZE_LIMITS.spec);
  assert.equal(readRegularFile(big, 'spec').length, FILE_SIZE_LIMITS.spec, 'exactly the cap is fine');
  assert.equal(readRegularFile(big, 'json').length, FILE_SIZE_LIMITS.spec, 'another kind, another cap');
});

test('files whose size fstat does not know (procfs) are read to their end', () => {
  const text = readRegularText('/proc/self/status', 'spec');
  assert.match(text, /^Name:/m);
});
