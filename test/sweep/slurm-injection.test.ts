import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile } from '../../src/compiler/compile.js';
import { renderSlurmScript, slurmOptionProblems } from '../../src/runtime/sweep/index.js';
import { tinySweepSpec, tmpDir, writeSpec, xbarc } from './helpers.js';

const HOSTILE = 'res $(touch PWNED1) `touch PWNED2`; touch PWNED3 #50% \'q\' "dq" & x';

/** The arguments of one #SBATCH line as sbatch's own parser reads them (quotes, backslashes, # comments). */
function sbatchArguments(line: string): string[] {
  const args: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    let arg = '';
    let quote = '';
    for (; i < line.length && (quote || !/\s/.test(line[i]!)); i++) {
      const ch = line[i]!;
      if (ch === '\\') arg += line[++i] ?? '';
      else if (quote && ch === quote) quote = '';
      else if (!quote && (ch === '"' || ch === "'")) quote = ch;
      else if (!quote && ch === '#') return [...args, ...(arg ? [arg] : [])];
      else arg += ch;
    }
    args.push(arg);
  }
  return args;
}

/** The directives sbatch would see: #SBATCH lines before the first command. */
function sbatchDirectives(script: string): string[] {
  const directives: string[] = [];
  for (const line of script.split('\n').slice(1)) {
    if (line.startsWith('#SBATCH')) directives.push(...sbatchArguments(line.slice('#SBATCH'.length)));
    else if (line.trim() !== '' && !line.startsWith('#')) break;
  }
  return directives;
}

/** Runs the script as one array task would, with a stub in place of xbarc that records its arguments. */
function runAsArrayTask(script: string, cwd: string): string[] {
  const stub = join(cwd, 'stub.sh');
  writeFileSync(stub, '#!/bin/sh\nprintf "%s\\0" "$@" > "$STUB_ARGS"\n');
  chmodSync(stub, 0o755);
  const argsFile = join(cwd, 'args.bin');
  const r = spawnSync('bash', [script], { cwd, encoding: 'utf8', env: { ...process.env, SLURM_ARRAY_TASK_ID: '1', XBARC: stub, STUB_ARGS: argsFile } });
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(argsFile, 'utf8').split('\0').slice(0, -1);
}

function assertNotPwned(dir: string): void {
  const pwned = readdirSync(dir).filter((f) => /^PWNED\d$/.test(f));
  assert.deepEqual(pwned, [], 'an injected command ran');
}

test('sweep --emit slurm: shell and #SBATCH metacharacters in the spec path and output stay data', () => {
  const dir = tmpDir();
  const spec = writeSpec(
    dir,
    tinySweepSpec('seed in [1, 2]').replace('seed     = 1', `seed     = 1\n  output   = ${JSON.stringify(HOSTILE)}`),
    'spec $(touch PWNED4).xbar',
  );
  const r = xbarc(['sweep', spec, '--emit', 'slurm', '--set', 'train.optimizer.lr=0.05'], dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const outDir = join(dir, HOSTILE);
  const scriptPath = join(outDir, 'tiny.sbatch');
  const script = readFileSync(scriptPath, 'utf8');
  assert.equal(spawnSync('bash', ['-n', scriptPath]).status, 0, 'valid bash');
  const [jobName, array, cpus, mem, time, output, ...rest] = sbatchDirectives(script);
  assert.deepEqual([jobName, array, cpus, rest], ['--job-name=xbarc-tiny', '--array=0-1', '--cpus-per-task=2', []]);
  assert.match(mem ?? '', /^--mem=\d+M$/);
  assert.match(time ?? '', /^--time=\d\d:\d\d:00$/);
  assert.equal(output, `--output=${outDir.replace(/%/g, '%%')}/slurm/%A_%a.out`, 'the whole path, % doubled for Slurm');
  const args = runAsArrayTask(scriptPath, dir);
  assert.deepEqual(args, [
    'run',
    spec,
    '--experiment',
    'tiny',
    '--point',
    '1',
    '--out',
    outDir,
    '--quiet',
    '--threads',
    '2',
    '--spin',
    'off',
    '--set',
    'train.optimizer.lr=0.05',
  ]);
  assertNotPwned(dir);
});

test('sweep --emit slurm: a newline in a value that reaches the script is refused, nothing is written', () => {
  const dir = tmpDir();
  const spec = writeSpec(dir, tinySweepSpec('seed in [1, 2]').replace('seed     = 1', 'seed     = 1\n  output   = "res\\ntouch PWNED1\\n#"'));
  const r = xbarc(['sweep', spec, '--emit', 'slurm'], dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the sweep directory ".*res\\ntouch PWNED1\\n#" contains a newline, which cannot go into a Slurm job script/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(readdirSync(dir), ['spec.xbar']);
  const viaOut = xbarc(['sweep', spec, '--emit', 'slurm', '--out', 'a\rb'], dir);
  assert.equal(viaOut.code, 1);
  assert.match(viaOut.stderr, /contains a carriage return/);
  // --set overrides go into the script's command line too.
  const points = compile(spec).experiments;
  const job = { xbarc: 'xbarc', spec, experiment: 'tiny', outDir: join(dir, 'out'), points };
  assert.throws(() => renderSlurmScript({ ...job, sets: ['output="x\ny"'] }), /--set "output=\\"x\\ny\\"" contains a newline/);
  const script = renderSlurmScript({ ...job, sets: ['output="$(touch PWNED2)"'] });
  assert.match(script, /--set 'output="\$\(touch PWNED2\)"'$/m);
});

test('sweep --emit slurm: hostile or malformed sbatch options are rejected with the option named (exit 2)', () => {
  const dir = tmpDir();
  const spec = writeSpec(dir, tinySweepSpec('seed in [1, 2]'));
  const bad: Array<[string, string]> = [
    ['--partition', 'cpu\n#SBATCH --wrap=x'],
    ['--partition', 'cpu gpu'],
    ['--account', 'lab;id'],
    ['--account', ''],
    ['--time', '1:2:3:4'],
    ['--time', '2h'],
    ['--time', '$(id)'],
    ['--mem', '4GB'],
    ['--mem', '4G\n#SBATCH --x'],
    ['--cpus', '0'],
  ];
  for (const [flag, value] of bad) {
    const r = xbarc(['sweep', spec, '--emit', 'slurm', '--out', join(dir, 'out'), flag, value], dir);
    assert.equal(r.code, 2, `${flag} ${JSON.stringify(value)}: ${r.stderr}`);
    assert.ok(r.stderr.includes(`xbarc sweep: ${flag} expects`), r.stderr);
  }
  assert.deepEqual(readdirSync(dir), ['spec.xbar'], 'nothing written');
  for (const time of ['30', '30:00', '02:00:00', '1-12', '1-12:30', '1-12:30:00']) assert.deepEqual(slurmOptionProblems({ time }), [], time);
  for (const mem of ['4G', '4096M', '4096', '1t']) assert.deepEqual(slurmOptionProblems({ mem }), [], mem);
  assert.deepEqual(slurmOptionProblems({ partition: 'cpu,gpu-large', account: 'my_lab.2' }), []);
  const points = compile(spec).experiments;
  assert.throws(
    () => renderSlurmScript({ xbarc: 'xbarc', spec, experiment: 'tiny', outDir: dir, sets: [], points }, { partition: 'a\nb' }),
    /--partition expects/,
  );
});
