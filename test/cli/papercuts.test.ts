/** Small CLI papercuts: init names, fmt through symlinks, unknown commands with --help. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xbarc } from '../sweep/helpers.js';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'xbarc-papercuts-'));
}

test('init: a keyword as --name is refused (exit 2, nothing written); a folder named like a keyword gets a usable name', () => {
  const dir = scratch();
  for (const name of ['experiment', 'device', 'sweep', 'x']) {
    const r = xbarc(['init', 'a', '--name', name], dir);
    assert.equal(r.code, 2, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`xbarc init: "${name}" is a keyword of the \\.xbar language and cannot name an experiment; choose another, e.g. ${name}_1`),
    );
  }
  assert.deepEqual(readdirSync(dir), [], 'nothing written');
  mkdirSync(join(dir, 'experiment'));
  const r = xbarc(['init', 'experiment'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(join(dir, 'experiment')).sort(), ['.gitignore', 'README.md', 'experiment_exp.xbar']);
  const checked = xbarc(['check', join('experiment', 'experiment_exp.xbar')], dir);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  assert.match(readFileSync(join(dir, 'experiment', 'README.md'), 'utf8'), /npm link/, 'the scaffold says how to get xbarc on PATH');
});

test('fmt writes through a symlink to its target, keeping the link and the permissions', () => {
  const dir = scratch();
  mkdirSync(join(dir, 'real'));
  const target = join(dir, 'real', 'spec.xbar');
  writeFileSync(target, 'device d {\nlevels=4\n}\n');
  chmodSync(target, 0o640);
  symlinkSync(join('real', 'spec.xbar'), join(dir, 'link.xbar'));
  const r = xbarc(['fmt', 'link.xbar'], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(lstatSync(join(dir, 'link.xbar')).isSymbolicLink(), 'still a symlink');
  assert.equal(readFileSync(target, 'utf8'), 'device d {\n  levels = 4\n}\n');
  assert.equal(statSync(target).mode & 0o777, 0o640);
  assert.deepEqual(readdirSync(join(dir, 'real')), ['spec.xbar'], 'no temp file left');
});

test('an unknown command is an error (exit 2) even with --help or after help', () => {
  const dir = scratch();
  for (const args of [['frob', '--help'], ['help', 'frob'], ['frob']]) {
    const r = xbarc(args, dir);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^error: unknown command 'frob'$/m);
    assert.doesNotMatch(r.stdout, /Usage:/, 'no help printed as if all was well');
  }
  const typo = xbarc(['chek', '--help'], dir);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /\(Did you mean check\?\)/);
  for (const args of [['--help'], ['help'], ['help', 'check'], ['check', '--help']]) {
    const r = xbarc(args, dir);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /^Usage: xbarc/m);
  }
});

test('a reader that closes the pipe early gets no stack trace: `xbarc plan … | head -c 1` exits quietly', async () => {
  const { spawn } = await import('node:child_process');
  const { packageRoot } = await import('../../src/model/tool.js');
  const child = spawn(process.execPath, [join(packageRoot, 'bin', 'xbarc.js'), 'plan', join(packageRoot, 'experiments', 'txsim-sensitivity.xbar')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Read the first chunk, then close our end: every later write of the child hits EPIPE.
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.doesNotMatch(stderr, /EPIPE|Unhandled|at .*\.js:\d+/, stderr);
  assert.equal(code, 0, stderr);
});
