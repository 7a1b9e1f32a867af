/**
 * A bad output directory is reported before any work: `run` does not train and then fail to
 * write; sweeps, Slurm emission and init check theirs too. One line, exit 1, no stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputDirError, ensureOutputDir } from '../../src/runtime/results/output-dir.js';
import { tinySweepSpec, writeSpec, xbarc } from '../sweep/helpers.js';

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-outdir-'));
  writeFileSync(join(dir, 'afile'), 'not a folder\n');
  return dir;
}

const PLAIN = tinySweepSpec('seed in [1]').replace(/\n {2}sweep .*\n/, '\n');

test('run: --out naming a file, a path through a file, or a folder the file system refuses fails before training', () => {
  const dir = scratch();
  writeSpec(dir, PLAIN);
  const cases: [string, RegExp][] = [
    ['afile', /^xbarc run: error output\/unusable: the output directory afile is a file, not a directory$/m],
    ['afile/sub', /^xbarc run: error output\/unusable: cannot create the output directory afile\/sub: .*afile is a file, not a directory$/m],
    ['/proc/xbarc', /^xbarc run: error output\/unusable: cannot create the output directory \/proc\/xbarc: the file system does not allow it$/m],
  ];
  for (const [out, message] of cases) {
    const r = xbarc(['run', 'spec.xbar', '--out', out], dir, 60_000);
    assert.equal(r.code, 1, `--out ${out}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stdout, /data loaded|epoch/, `--out ${out}: no work was done`);
  }
  assert.equal(statSync(join(dir, 'afile')).isFile(), true, 'the file is untouched');
});

test('sweeps, --emit slurm and init check their folders first', () => {
  const dir = scratch();
  writeSpec(dir, tinySweepSpec('seed in [1, 2]'));
  const sweep = xbarc(['run', 'spec.xbar', '--out', 'afile/s', '--jobs', '2'], dir, 60_000);
  assert.equal(sweep.code, 1);
  assert.match(sweep.stderr, /xbarc run: error output\/unusable: cannot create the output directory .*afile is a file/);
  const point = xbarc(['run', 'spec.xbar', '--out', 'afile', '--point', '1'], dir, 60_000);
  assert.equal(point.code, 1);
  assert.match(point.stderr, /output\/unusable/);
  const emit = xbarc(['sweep', 'spec.xbar', '--emit', 'slurm', '--out', 'afile'], dir);
  assert.equal(emit.code, 1);
  assert.match(emit.stderr, /xbarc sweep: error output\/unusable: cannot create the output directory .*afile is a file, not a directory/);
  const init = xbarc(['init', 'afile'], dir);
  assert.equal(init.code, 1);
  assert.match(init.stderr, /xbarc init: error output\/unusable: the output directory .*afile is a file, not a directory/);
  assert.equal(statSync(join(dir, 'afile')).isFile(), true);
});

test('ensureOutputDir creates nested folders, accepts existing ones, and names what is wrong', () => {
  const dir = scratch();
  ensureOutputDir(join(dir, 'a', 'b', 'c'));
  assert.ok(statSync(join(dir, 'a', 'b', 'c')).isDirectory());
  ensureOutputDir(join(dir, 'a', 'b', 'c'));
  assert.deepEqual(existsSync(join(dir, 'a', 'b', 'c', `.xbarc-write-probe.${process.pid}.tmp`)), false, 'the probe is removed');
  assert.throws(
    () => ensureOutputDir(join(dir, 'afile', 'x')),
    (err: unknown) => err instanceof OutputDirError && /afile is a file/.test(err.message),
  );
});
