import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/compiler/resolve.js';
import { validateResults } from '../../src/runtime/results/index.js';

const bin = join(packageRoot, 'bin', 'xbarc.js');

// Big batches make every step a long native session.run(), where a terminated worker used to
// abort the process; many epochs keep the run alive long enough to interrupt it anywhere (the
// whole 40-epoch run took under a second once small batches got faster: 400 epochs, ~8 s).
const spec = `import { MLP } from "std/networks"
experiment stop_me {
  data     = mnist(train = 1500, test = 1500)
  model    = MLP(classes = 10)
  fidelity = ideal
  train    { epochs = 400, batch = 500, optimizer = sgd(lr = 0.05) }
  evaluate { batch = 750 }
  seed     = 1
}
`;

interface Interrupted {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stopSeconds: number;
  out: string;
}

/** Start a run, wait until stdout matches `when`, wait `delayMs` more, send SIGINT, collect the end. */
async function interruptRun(file: string, when: RegExp, delayMs: number): Promise<Interrupted> {
  const out = mkdtempSync(join(tmpdir(), 'xbarc-int-out-'));
  const child = spawn(process.execPath, [bin, 'run', file, '--out', out], { cwd: packageRoot, env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let sentAt = 0;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no output matching ${when} within 20 s: ${stdout}${stderr}`)), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (sentAt === 0 && when.test(stdout)) {
        sentAt = -1;
        clearTimeout(timer);
        setTimeout(() => {
          sentAt = performance.now();
          child.kill('SIGINT');
          resolve();
        }, delayMs);
      }
    });
    child.once('exit', () => reject(new Error(`the run ended before it was interrupted: ${stdout}${stderr}`)));
  });
  const end = await exited;
  return { ...end, stderr, stopSeconds: (performance.now() - sentAt) / 1000, out };
}

function assertClean(r: Interrupted, where: string): void {
  assert.equal(r.signal, null, `${where}: killed by ${r.signal}; stderr: ${r.stderr}`);
  assert.equal(r.code, 130, `${where}: exit ${r.code}; stderr: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /terminate called|Napi::Error|Aborted|core dumped/, where);
  assert.match(r.stderr, /interrupted; no results written/, where);
  assert.ok(r.stopSeconds < 10, `${where}: took ${r.stopSeconds.toFixed(1)} s to stop`);
  // Nothing half-written: results.json absent or complete and valid, no temp files.
  const results = join(r.out, 'results.json');
  if (existsSync(results)) assert.deepEqual(validateResults(JSON.parse(readFileSync(results, 'utf8'))), [], where);
  assert.deepEqual(
    readdirSync(r.out).filter((n) => n.endsWith('.tmp')),
    [],
    where,
  );
}

test('Ctrl-C during start-up, training and evaluation stops cleanly with exit 130, nothing half-written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-int-'));
  const file = join(dir, 'spec.xbar');
  writeFileSync(file, spec);
  // Start-up: sessions are being created right after the data is loaded.
  assertClean(await interruptRun(file, /data loaded/, 0), 'start-up');
  // Training and evaluation: random moments after the first epoch (each epoch trains 3 steps, evaluates 2 batches).
  for (let i = 0; i < 4; i++) {
    const delay = Math.floor(Math.random() * 400);
    assertClean(await interruptRun(file, /epoch 1\/400/, delay), `after epoch 1 + ${delay} ms`);
  }
});
