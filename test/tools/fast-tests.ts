/**
 * `npm run test:fast`: the unit-level test files — compiler, plan contract, editor services,
 * runtime numerics against their references — each of which ran in under about 3 s on a 2-core
 * machine. Left out: training runs, property sweeps over the stdlib, the CLI, sweeps and the
 * language-server process; `npm test` still runs every file.
 *
 * A file renamed or removed must be renamed here too: a missing file fails the run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/model/tool.js';

const FAST_TESTS = [
  'compiler/docs',
  'compiler/golden',
  'compiler/parser',
  'compiler/plan',
  'compiler/stdlib',
  'compiler/textmate',
  'model/contract',
  'lsp/actions',
  'lsp/completion',
  'lsp/hover',
  'lsp/navigation',
  'runtime/activations',
  'runtime/crossbar-models',
  'runtime/crossbar-mvm',
  'runtime/data',
  'runtime/engine-gradients',
  'runtime/engine-onnx',
  'runtime/engine-session',
  'runtime/engine-optimizers',
  'runtime/frozen-eval',
  'runtime/nchwc',
  'runtime/nonlinear',
  'runtime/parasitics',
  'runtime/results',
  'runtime/surrogate-nonlinear',
  'runtime/update',
  'runtime/weight-init',
] as const;

const files = FAST_TESTS.map((t) => join(packageRoot, 'dist', 'test', `${t}.test.js`));
const missing = files.filter((f) => !existsSync(f));
if (missing.length > 0) {
  process.stderr.write(`test:fast: no such compiled test file${missing.length === 1 ? '' : 's'}: ${missing.join(', ')} (update test/tools/fast-tests.ts)\n`);
  process.exit(1);
}
const run = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(run.status ?? 1);
