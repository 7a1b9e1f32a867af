/**
 * `parasitics = surrogate(file, refresh)` end to end: the checker's located diagnostics (missing
 * file, not a surrogate, tile size mismatch), lowering into the strict plan, the per-tile
 * application in the crossbar MVM (a surrogate with constant f against the ideal tile), a short
 * training run whose mean distortion matches FCM's, and `xbarc surrogate` itself.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { check } from '../../src/compiler/check.js';
import { compile } from '../../src/compiler/compile.js';
import { registerSurrogateCommand } from '../../src/cli/surrogate-command.js';
import type { ParasiticsSpec } from '../../src/model/crossbar.js';
import type { PlanCrossbar } from '../../src/model/plan.js';
import { crossbarMvm } from '../../src/runtime/crossbar/mvm-api.js';
import { loadDataset } from '../../src/runtime/data/index.js';
import { runExperiment } from '../../src/runtime/engine/run-experiment.js';
import { buildSurrogate } from '../../src/runtime/parasitics/surrogate-build.js';
import { saveSurrogate } from '../../src/runtime/parasitics/surrogate-file.js';
import type { SurrogateModel } from '../../src/runtime/parasitics/surrogate-model.js';
import { planCrossbar, smallCrossbarExperiment } from './crossbar-helpers.js';
import { PUMA_WIRES } from '../support/surrogate-fixtures.js';

const WIRES = PUMA_WIRES;
const dir = mkdtempSync(join(tmpdir(), 'xbarc-surrogate-spec-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** A surrogate that predicts the same f for every column and input: w2 = 0, f = 1 + fScale·b2. */
function constantSurrogate(rows: number, cols: number, f: number): SurrogateModel {
  const hidden = 4;
  return {
    rows,
    cols,
    hidden,
    norm: { vRead: 0.25, gOn: 1e-5, gOff: 1e-6 },
    fScale: 1,
    referenceDrive: 0.5,
    w1: new Float32Array((rows + rows * cols) * hidden),
    b1: new Float32Array(hidden),
    w2: new Float32Array(hidden * cols),
    b2: new Float32Array(cols).fill(f - 1),
    meta: { solver: 'constant (test)', wires: WIRES },
  };
}

const spec = (file: string, size = '8 x 8') => `
device cell {
  levels = 4
  r_on   = 100 kOhm
  on_off = 10
  v_read = 0.25 V
}

crossbar xb {
  size       = ${size}
  device     = cell
  wires      = { row = 2.5 Ohm, col = 2.5 Ohm, source = 500 Ohm, sense = 100 Ohm }
  parasitics = surrogate(file = "${file}", refresh = 10)
}
`;

test('check: a missing, foreign or mis-sized surrogate file is a diagnostic at its argument', () => {
  saveSurrogate(join(dir, 'c8.json'), constantSurrogate(8, 8, 1.25));
  writeFileSync(join(dir, 'other.json'), '{"format": "not-this"}');
  const cases: [string, string, string | null][] = [
    ['ok.xbar', spec('c8.json'), null],
    ['missing.xbar', spec('nope.json'), 'surrogate-file-missing'],
    ['foreign.xbar', spec('other.json'), 'surrogate-file-bad'],
    ['size.xbar', spec('c8.json', '16 x 16'), 'surrogate-size-mismatch'],
  ];
  for (const [name, text, code] of cases) {
    writeFileSync(join(dir, name), text);
    const r = check(join(dir, name));
    const errors = r.diagnostics.filter((d) => d.severity === 'error');
    if (code === null) {
      assert.deepEqual(errors, [], name);
      continue;
    }
    assert.equal(errors.length, 1, `${name}: ${JSON.stringify(errors)}`);
    assert.equal(errors[0]!.code, code);
    // Located at the string literal: line 13 of the spec, after `file = `.
    assert.equal(errors[0]!.span.line, 13, name);
  }
  const size = check(join(dir, 'size.xbar')).diagnostics[0]!;
  assert.match(size.message, /trained for 8 x 8 tiles, but this crossbar has size = 16 x 16/);
});

test('lowering: the plan carries the surrogate with an absolute file path, accepted by the strict schema', () => {
  writeFileSync(
    join(dir, 'exp.xbar'),
    spec('c8.json') +
      `
import { MLP } from "std/networks"
experiment e {
  data     = mnist(train = 100, test = 100)
  model    = MLP(hidden1 = 16, classes = 10)
  map      * -> xb
  fidelity = fast
}
`,
  );
  const c = compile(join(dir, 'exp.xbar'));
  assert.ok(c.plan, JSON.stringify(c.diagnostics));
  const p = c.plan.experiments[0]!.crossbars['xb']!.parasitics;
  assert.deepEqual(p, { kind: 'surrogate', file: join(dir, 'c8.json'), refresh: 10 });
});

test('crossbar MVM: a surrogate with constant f scales every output by 1/f against the ideal tile', async () => {
  saveSurrogate(join(dir, 'c16.json'), constantSurrogate(16, 16, 1.25));
  const K = 30;
  const N = 20; // two row tiles, two column tiles
  const W = { data: Float32Array.from({ length: K * N }, (_, i) => (((i * 13) % 29) - 14) / 10), shape: [K, N] };
  const X = { data: Float32Array.from({ length: 3 * K }, (_, i) => ((i * 7) % 17) / 16), shape: [3, K] };
  const adc = { bits: 24, range: { kind: 'max' as const }, offset: 0, gainError: 0, inl: 0, rounding: 'nearest' as const };
  const xb = (parasitics: ParasiticsSpec): PlanCrossbar => planCrossbar({ rows: 16, cols: 16, weightBits: 4, wires: WIRES, parasitics, adc });
  const none = await crossbarMvm(xb({ kind: 'none' }), W, X, { fidelity: 'fast', seed: 1 });
  const sur = await crossbarMvm(xb({ kind: 'surrogate', file: join(dir, 'c16.json'), refresh: 1 }), W, X, { fidelity: 'fast', seed: 1 });
  let moved = 0;
  for (let k = 0; k < none.data.length; k++) {
    const want = none.data[k]! / 1.25;
    // The 24-bit ADC rounds each partial sum to one level: at most half a level per output.
    assert.ok(Math.abs(sur.data[k]! - want) <= 1e-3 * (1 + Math.abs(want)), `y[${k}] = ${sur.data[k]}, ideal/1.25 = ${want}`);
    if (none.data[k] !== 0) moved++;
  }
  assert.ok(moved > 40);
  // A surrogate trained for other tiles is refused with the file and both sizes.
  await assert.rejects(
    crossbarMvm(planCrossbar({ rows: 8, cols: 8, wires: WIRES, parasitics: { kind: 'surrogate', file: join(dir, 'c16.json'), refresh: 1 } }), W, X, {
      fidelity: 'fast',
      seed: 1,
    }),
    /c16\.json: the surrogate was trained for 16 × 16 tiles, the crossbar's are 8 × 8/,
  );
});

test('training with a trained surrogate: mean distortion per layer within 25 % of FCM on the same run', async () => {
  const b = await buildSurrogate({
    rows: 16,
    cols: 16,
    wires: WIRES,
    gOn: 1e-5,
    gOff: 1e-6,
    vRead: 0.25,
    weightBits: 8,
    cellBits: 2,
    inputBits: 8,
    dacBits: 1,
    seed: 2,
    vectorsPerTile: 8,
    tiles: 200,
    testTiles: 20,
    hidden: 128,
    epochs: 10,
    batch: 64,
    lr: 1e-3,
  });
  saveSurrogate(join(dir, 't16.json'), b.model);
  const run = async (parasitics: ParasiticsSpec) => {
    const exp = smallCrossbarExperiment('fast', ['forward', 'backward'], planCrossbar({ rows: 16, cols: 16, wires: WIRES, parasitics }), {
      train: 320,
      test: 100,
    });
    return runExperiment(exp, await loadDataset(exp.data, exp.seed), { trainer: { threads: 1 } });
  };
  const sur = await run({ kind: 'surrogate', file: join(dir, 't16.json'), refresh: 5 });
  const ref = await run({ kind: 'fcm', refresh: 5, backward: 'reuse' });
  for (let l = 0; l < 2; l++) {
    const ps = sur.layers![l]!['parasitics'] as { model: string; backward: string; trainRefreshes: number; meanDistortion: number };
    const pf = ref.layers![l]!['parasitics'] as { meanDistortion: number };
    assert.equal(ps.model, 'surrogate');
    assert.equal(ps.backward, 'reuse');
    assert.equal(ps.trainRefreshes, 2); // 10 batches, refresh 5
    assert.ok(
      Math.abs(ps.meanDistortion - pf.meanDistortion) < 0.25 * pf.meanDistortion,
      `layer ${l}: surrogate D ${ps.meanDistortion}, FCM ${pf.meanDistortion}`,
    );
  }
  assert.ok(Number.isFinite(sur.final.testLoss));
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let code = -1;
  const program = new Command().exitOverride();
  const [out, err] = [[] as string[], [] as string[]];
  registerSurrogateCommand(program, (c) => (code = c), { out: (s) => out.push(s), err: (s) => err.push(s) });
  await program.parseAsync(['surrogate', ...args], { from: 'user' });
  return { code, out: out.join(''), err: err.join('') };
}

test('xbarc surrogate --iv sinh:V0: trains against the nonlinear solver, records it, prints the linear and linearised baselines', async () => {
  const out = join(dir, 'cli-sinh.json');
  const r = await cli([
    '--out',
    out,
    '--size',
    '4x6',
    '--iv',
    'sinh:0.25',
    '--tiles',
    '20',
    '--test-tiles',
    '5',
    '--vectors',
    '4',
    '--hidden',
    '16',
    '--epochs',
    '2',
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /trained against nonlinear-sinh\(v0=0\.25\)/);
  assert.match(r.out, /linear \(FCM, linear cells\)\s+[1-9]\.\d+e-\d/);
  assert.match(r.out, /linearised per tile \(at 1 V_read\)/);
  assert.match(r.out, /vs linear \(FCM\): \d+\.\d×/);
  const header = JSON.parse(readFileSync(out, 'utf8')) as { meta: { solver: string; iv: unknown; foldAt: number } };
  assert.equal(header.meta.solver, 'nonlinear-sinh(v0=0.25)');
  assert.deepEqual(header.meta.iv, { kind: 'sinh', v0: 0.25 });
  assert.equal(header.meta.foldAt, 1);
});

test('xbarc surrogate: trains, writes the header and arrays, prints the RMSE table; bad options exit 2', async () => {
  const out = join(dir, 'cli.json');
  const r = await cli(['--out', out, '--size', '4x6', '--tiles', '20', '--test-tiles', '5', '--vectors', '4', '--hidden', '16', '--epochs', '2', '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /surrogate 4 × 6, wires 2\.5 \/ 2\.5 Ω, R_source 500 Ω, R_sense 100 Ω/);
  assert.match(r.out, /held out: tiles 20–24, 20 vectors/);
  assert.match(r.out, /linear \(FCM, linear cells\)\s+0\.000e\+0/);
  assert.match(r.out, /the solver is linear, so the linear model is exact/);
  const header = JSON.parse(readFileSync(out, 'utf8')) as { rows: number; cols: number; weights: Record<string, string> };
  assert.equal(header.rows, 4);
  assert.equal(header.cols, 6);
  for (const f of Object.values(header.weights)) assert.ok(existsSync(join(dir, f)), f);
  for (const [args, msg] of [
    [['--out', out, '--size', '4'], /--size must be ROWSxCOLS/],
    [['--out', join(dir, 'x.npy')], /--out must name a \.json header/],
    [['--out', out, '--wires', '1,2,3'], /--wires must be four resistances/],
    [['--out', out, '--epochs', '0'], /--epochs must be an integer ≥ 1/],
    [['--out', out, '--on-off', '1'], /--on-off must be > 1/],
    [['--out', out, '--iv', 'sinh:0'], /--iv must be linear, sinh:V0/],
    [['--out', out, '--iv', 'tanh:1'], /--iv must be linear, sinh:V0/],
    [['--out', out, '--iv', 'sinh:0.25', '--fold-at', '2'], /--fold-at must be a fraction in \(0, 1\]/],
  ] as const) {
    const bad = await cli([...args]);
    assert.equal(bad.code, 2, args.join(' '));
    assert.match(bad.err, msg);
  }
});
