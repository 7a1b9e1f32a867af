/**
 * Device update models in training (train.nonideal ∋ update, fidelity fast): the optimizer's ΔW
 * is written through the device's update model on differential pairs and the next step trains on
 * the read-back weights (src/runtime/devices/training.ts).
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NonidealStage, PlanCrossbar, PlanExperiment } from '../../src/model/plan.js';
import { loadDataset, type Dataset } from '../../src/runtime/data/index.js';
import { runExperiment, type ExperimentOutcome, type RunOptions } from '../../src/runtime/engine/run-experiment.js';
import { planCrossbar, smallCrossbarExperiment } from './crossbar-helpers.js';
import { sgd } from '../support/plan-builder.js';
import { DeviceUpdater } from '../../src/runtime/devices/training.js';

/** Crossbar fixture with one 8-bit cell per weight and an effectively continuous device. */
const crossbar = (settings: Record<string, unknown> = {}, device: Record<string, unknown> = {}): PlanCrossbar =>
  planCrossbar({ cellBits: 8, ...settings }, { levels: 65536, ...device });

function experiment(nonideal: NonidealStage[], xb: PlanCrossbar, seed = 3): PlanExperiment {
  return smallCrossbarExperiment('fast', nonideal, xb, { seed, train: 640, test: 200 });
}

let cached: Dataset | null = null;
async function data(exp: PlanExperiment): Promise<Dataset> {
  cached ??= await loadDataset(exp.data, exp.seed);
  return cached;
}

const run = async (exp: PlanExperiment, extra: RunOptions = {}): Promise<ExperimentOutcome> =>
  runExperiment(exp, await data(exp), { trainer: { threads: 1 }, returnWeights: true, returnDevices: true, ...extra });

function dist(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('ideal update: exact on a continuum, within 1e-3 of digital training with 2^20 levels; the results name the model', async () => {
  // Forward and backward digital (nonideal = [update]): the only difference is the device write.
  // Headroom 4: no weight reaches the pair's bounds in these 20 steps.
  const digital = await run(experiment([], crossbar()));
  const continuum = await run(experiment(['update'], crossbar({}, { levels: 0 })), { deviceUpdate: { headroom: 4 } });
  const fine = await run(experiment(['update'], crossbar({}, { levels: 2 ** 20 })), { deviceUpdate: { headroom: 4 } });
  for (const p of ['conv1/weight', 'fc1/weight']) {
    const d = digital.weights![p]!;
    const norm = Math.sqrt(d.reduce((s, v) => s + v * v, 0));
    assert.ok(dist(d, continuum.weights![p]!) / norm < 1e-6, `${p}: continuum ${dist(d, continuum.weights![p]!) / norm}`);
    const rel = dist(d, fine.weights![p]!) / norm;
    assert.ok(rel < 1e-3, `${p}: relative distance to digital training ${rel}`);
  }
  assert.ok(Math.abs(fine.final.testAccuracy - digital.final.testAccuracy) <= 0.01, `${fine.final.testAccuracy} vs ${digital.final.testAccuracy}`);
  for (const l of fine.layers!) {
    assert.match(l.update, /^device: ideal on differential pairs, 1048576 levels/);
    assert.equal((l['deviceUpdate'] as { updates: number }).updates, 20);
  }
  for (const l of digital.layers!) assert.equal(l.update, 'digital');
});

test('txsim asymmetric nonlinearity: the realized ΔW follows the ASYM gain, large near W = 0 and shrinking toward the bound', async () => {
  const v = 5;
  const digital = await run(experiment([], crossbar()));
  // The trained fc1 weights of a digital run, programmed on a continuum (no rounding).
  const w = digital.weights!['fc1/weight']!;
  const exp = experiment(['update'], crossbar({}, { levels: 0, update: { kind: 'txsim', v, gamma: 0, noise: 'gradient', nonlinearity: 'step', pulses: 1 } }));
  const u = DeviceUpdater.create(exp, { 'fc1/weight': w }, new Map([['fc1', 'fc1/weight']]))!;
  const d = u.layers[0]!;
  const R = d.range.gMax - d.range.gMin;
  const before = u.readBack()['fc1/weight']!;
  const delta = 1e-5 * maxAbs(w);
  const proposed = before.map((x, k) => x + (k % 2 === 0 ? delta : -delta));
  const after = new Map([['fc1/weight', Float32Array.from(proposed)]]);
  u.update(new Map([['fc1/weight', before]]), after, 1);
  const got = after.get('fc1/weight')!;
  // Pair at x = W·s/R ∈ [−1, 1] (G± = G_mid ± x·R/2): both devices see the same gain,
  // k = v·(1/(1 − e^(−v)) − 1/2 ∓ x/2) for ΔW ≷ 0, k(0) = (v/2)·coth(v/2).
  const w0r = 1 / -Math.expm1(-v);
  let center = 0;
  for (let k = 0; k < w.length; k++) {
    const x = (before[k]! * d.scale) / R;
    const up = k % 2 === 0;
    const gain = v * (w0r - 0.5 + (up ? -x : x) / 2);
    const ratio = (got[k]! - before[k]!) / (up ? delta : -delta);
    // A device already at its bound clips the (tiny) outward step to 0.
    const atBound = Math.abs(x) > 0.999 && (up ? x > 0 : x < 0);
    if (atBound) assert.ok(ratio >= 0 && ratio <= gain + 1e-3, `w[${k}] at the bound: ${ratio}`);
    else assert.ok(Math.abs(ratio - gain) < 0.02 * gain + 2e-3, `w[${k}] = ${before[k]}: realized/proposed ${ratio}, ASYM gain ${gain}`);
    if (Math.abs(x) < 0.1) center++;
    if ((up && x > 0.9) || (!up && x < -0.9)) assert.ok(ratio < 0.3, `outward update at the bound: ${ratio}`);
    if (Math.abs(x) < 0.1) assert.ok(ratio > 2.2, `update near W = 0 amplified: ${ratio}`);
  }
  assert.ok(center > w.length / 4, `${center} of ${w.length} weights near 0`);
  // End to end: most weights sit near 0, where the gain exceeds 1: training moves them further than digital.
  const init = experiment([], crossbar());
  init.train!.optimizer = sgd(0, 0);
  const w0 = (await run(init)).weights!;
  const asym = await run(experiment(['update'], crossbar({}, { update: { kind: 'txsim', v, gamma: 0, noise: 'gradient', nonlinearity: 'step', pulses: 1 } })));
  for (const p of ['conv1/weight', 'fc1/weight']) {
    const moveDigital = dist(digital.weights![p]!, w0[p]!);
    const moveAsym = dist(asym.weights![p]!, w0[p]!);
    assert.ok(moveAsym > 1.1 * moveDigital, `${p}: moved ${moveAsym} vs digital ${moveDigital}`);
  }
  for (const l of asym.layers!) assert.match(l.update, /^device: txsim\(v=5, gamma=0, noise=gradient, nonlinearity=step, pulses=1\)/);
});

test('conductances stay within [G_min, G_max] and on the level grid on trained layers; saturation at headroom 1', async () => {
  const levels = 16;
  // One cell per weight (weight_bits = cell_bits = 4): the device's 16 levels are the update grid.
  const exp = experiment(
    ['forward', 'backward', 'update'],
    crossbar({ weightBits: 4, cellBits: 4 }, { levels, update: { kind: 'txsim', v: 0.5, gamma: 0.5, noise: 'step', nonlinearity: 'step', pulses: 1 } }),
  );
  const r = await run(exp);
  assert.equal(r.devices!.length, 2);
  for (const d of r.devices!) {
    assert.equal(d.range.levels, levels);
    const step = (d.range.gMax - d.range.gMin) / (levels - 1);
    let pinned = 0;
    for (const g of d.g) {
      assert.ok(g >= d.range.gMin && g <= d.range.gMax, `${d.layer}: G = ${g} outside [${d.range.gMin}, ${d.range.gMax}]`);
      const k = (g - d.range.gMin) / step;
      assert.ok(Math.abs(k - Math.round(k)) < 1e-6, `${d.layer}: G = ${g} is off the level grid (k = ${k})`);
      if (g === d.range.gMax || g === d.range.gMin) pinned++;
    }
    // With noise γ = 0.5 some devices hit a bound: the bound is reached, never crossed.
    assert.ok(pinned > 0, `${d.layer}: no device at a bound`);
    // Read-back: the trained weight is (G⁺ − G⁻)/scale, so |W| ≤ (G_max − G_min)/scale = max|W₀|.
    const w = r.weights![d.param]!;
    const n = w.length;
    for (let k = 0; k < n; k += 17) assert.ok(Math.abs(w[k]! - (d.g[k]! - d.g[n + k]!) / d.scale) < 1e-6 * (1 + Math.abs(w[k]!)));
    assert.ok(maxAbs(w) <= ((d.range.gMax - d.range.gMin) / d.scale) * (1 + 1e-6));
  }
  assert.match(r.layers![0]!.update, /device: txsim\(v=0.5, gamma=0.5, noise=step, nonlinearity=step, pulses=1\) on differential pairs, 16 levels/);
});

test('NeuroSim nonlinear pulses and write noise are deterministic by seed', async () => {
  const dev = { levels: 64, update: { kind: 'nonlinear', ltp: 2.4, ltd: -4.88, c2c: 0.035, d2d: 0.1 } };
  const a = await run(experiment(['forward', 'backward', 'update'], crossbar({ weightBits: 6, cellBits: 6 }, dev)));
  const b = await run(experiment(['forward', 'backward', 'update'], crossbar({ weightBits: 6, cellBits: 6 }, dev)));
  const c = await run(experiment(['forward', 'backward', 'update'], crossbar({ weightBits: 6, cellBits: 6 }, dev), 4));
  assert.deepEqual(a.weights!['fc1/weight'], b.weights!['fc1/weight']);
  assert.deepEqual(a.devices![1]!.g, b.devices![1]!.g);
  assert.equal(a.final.testAccuracy, b.final.testAccuracy);
  assert.notDeepEqual(a.weights!['fc1/weight'], c.weights!['fc1/weight']);
  for (const d of a.devices!) for (const g of d.g) assert.ok(g >= d.range.gMin && g <= d.range.gMax);
});

test('DeviceUpdater: programming is write-verify to the nearest level, ΔW lands as ΔG = ΔW·scale split over the pair', () => {
  const exp = experiment(['update'], crossbar({ weightBits: 4, cellBits: 4 }, { levels: 11 }));
  const w0 = Float32Array.of(0.5, -0.25, 0.1, 0);
  const u = DeviceUpdater.create(exp, { 'fc1/weight': w0 }, new Map([['fc1', 'fc1/weight']]))!;
  const d = u.layers[0]!;
  const range = d.range.gMax - d.range.gMin;
  assert.ok(Math.abs(d.scale - range / 0.5) < 1e-12 * d.scale);
  // 11 levels: the pair holds W in steps of 2·step/scale = 0.1 (each device moves by a whole level).
  const back = u.readBack()['fc1/weight']!;
  assert.deepEqual(
    Array.from(back, (v) => Math.round(v * 1000) / 1000),
    [0.5, -0.2, 0.1, 0],
  );
  const before = new Map([['fc1/weight', back]]);
  const after = new Map([['fc1/weight', Float32Array.of(0.9, -0.1, 0.11, -0.1)]]);
  u.update(before, after, 1);
  // 0.5 + 0.4 saturates at 0.5; −0.2 + 0.1 lands; +0.01 is below half a level step: lost; −0.1 lands.
  assert.deepEqual(
    Array.from(after.get('fc1/weight')!, (v) => Math.round(v * 1000) / 1000),
    [0.5, -0.1, 0.1, -0.1],
  );
  assert.equal(DeviceUpdater.create({ ...exp, fidelity: 'ideal' }, { 'fc1/weight': w0 }, new Map([['fc1', 'fc1/weight']])), null);
  assert.equal(DeviceUpdater.create(experiment(['forward'], crossbar()), { 'fc1/weight': w0 }, new Map([['fc1', 'fc1/weight']])), null);
});

test('DeviceUpdater: train.weight_range fixes the scale for every layer; headroom widens the auto range', () => {
  const exp = experiment(['update'], crossbar({ weightBits: 4, cellBits: 4 }, { levels: 11 }));
  const w0 = Float32Array.of(0.5, -0.25, 0.1, 0);
  const layers = new Map([['fc1', 'fc1/weight']]);
  const scaleOf = (o: { weightRange?: number; headroom?: number }): number => DeviceUpdater.create(exp, { 'fc1/weight': w0 }, layers, o)!.layers[0]!.scale;
  const range = DeviceUpdater.create(exp, { 'fc1/weight': w0 }, layers)!.layers[0]!.range;
  const span = range.gMax - range.gMin;
  assert.ok(Math.abs(scaleOf({ weightRange: 1 }) - span) < 1e-12 * span);
  assert.ok(Math.abs(scaleOf({ headroom: 2 }) - span / 1.0) < 1e-12 * span, 'headroom 2 × max|W₀| 0.5 = 1');
  assert.ok(Math.abs(scaleOf({ weightRange: 0.25, headroom: 2 }) - span / 0.25) < 1e-12 * span, 'weight_range wins');
  // With weight_range 0.25 the initial 0.5 does not fit: programming saturates at the bound.
  const tight = DeviceUpdater.create(exp, { 'fc1/weight': w0 }, layers, { weightRange: 0.25 })!;
  assert.ok(Math.abs(tight.readBack()['fc1/weight']![0]! - 0.25) < 1e-6);
});

test('xbarc run: results.json (validated) names the update model and the parasitic solves per layer', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { packageRoot } = await import('../../src/compiler/resolve.js');
  const { validateResults } = await import('../../src/runtime/results/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-update-'));
  const file = join(dir, 'spec.xbar');
  writeFileSync(
    file,
    `import { MLP400 } from "std/networks"
device d {
  levels = 64
  r_on   = 100 kOhm
  on_off = 10
  update = nonlinear(ltp = 0.5, ltd = -0.5, c2c = 1 %)
}
crossbar xb {
  size        = 64 x 64
  device      = d
  weight_bits = 6
  cell_bits   = 6
  wires       = { row = 1 Ohm, col = 4.6 Ohm }
  parasitics  = fcm(refresh = 4, backward = reuse)
}
experiment e {
  data     = mnist(train = 160, test = 100, crop = 20)
  model    = MLP400(hidden = 20)
  map      * -> xb
  fidelity = fast
  train {
    epochs    = 1
    batch     = 16
    optimizer = sgd(lr = 0.05)
    nonideal  = [forward, backward, update]
  }
  seed     = 5
}
`,
  );
  const out = join(dir, 'out');
  const r = spawnSync(process.execPath, [join(packageRoot, 'bin', 'xbarc.js'), 'run', file, '--out', out, '--quiet'], {
    cwd: packageRoot,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(validateResults(results), []);
  assert.ok(results.layers.length >= 2);
  for (const l of results.layers) {
    assert.match(l.update, /^device: nonlinear\(ltp=0.5, ltd=-0.5, c2c=0.01, d2d=0\) on differential pairs, 64 levels/);
    assert.equal(l.deviceUpdate.updates, 10);
    assert.equal(l.parasitics.model, 'fcm');
    assert.equal(l.parasitics.trainRefreshes, 3); // ceil(10 batches / 4)
    assert.ok(l.parasitics.meanDistortion > 0);
  }
});

test('DeviceUpdater, mapping offset (NeuroSim reference column): weight → G, the MVM and one LTP/LTD pulse update against closed forms', () => {
  const pMax = 96;
  const model = { kind: 'nonlinear' as const, ltp: 2.4, ltd: -4.88, c2c: 0, d2d: 0 };
  const exp = experiment(['update'], crossbar({ mapping: 'offset', weightBits: 8, cellBits: 8 }, { levels: pMax + 1, update: model }));
  const w0 = Float32Array.of(0.5, -0.25, 0, 1, -1, 0.8);
  const u = DeviceUpdater.create(exp, { 'fc1/weight': w0 }, new Map([['fc1', 'fc1/weight']]), { weightRange: 1 })!;
  const d = u.layers[0]!;
  const { gMin, gMax } = d.range;
  const mid = (gMin + gMax) / 2;
  const step = (gMax - gMin) / pMax;
  // NeuroSim (Array::WriteCell, ConductanceToWeight): w = (G − G_min)/(G_max − G_min)·(w_max − w_min) + w_min on [−1, 1],
  // so G = G_mid + w·(G_max − G_min)/2: the scale is (G_max − G_min)/2, programmed to the nearest level.
  assert.equal(d.scale, (gMax - gMin) / 2);
  const n = w0.length;
  for (let k = 0; k < n; k++) {
    const want = gMin + Math.round((mid + w0[k]! * d.scale - gMin) / step) * step;
    assert.ok(Math.abs(d.g[k]! - want) < 1e-9 * gMax, `w ${w0[k]}: G ${d.g[k]} vs ${want}`);
    assert.equal(d.g[n + k], mid, 'reference column at G_mid');
  }
  // A column MVM with 1-bit inputs (NeuroSim: I = Σ V·G, minus the reference column's Σ V·G_mid): I − I_ref = V_read·s·Σ x·W.
  const back = u.readBack()['fc1/weight']!;
  const x = [1, 0, 1, 1, 0, 1];
  const vRead = 0.5;
  let i = 0;
  let iRef = 0;
  let xw = 0;
  for (let k = 0; k < n; k++) {
    i += x[k]! * vRead * d.g[k]!;
    iRef += x[k]! * vRead * d.g[n + k]!;
    xw += x[k]! * back[k]!;
  }
  assert.ok(Math.abs((i - iRef) / (vRead * d.scale) - xw) < 1e-6, `${(i - iRef) / (vRead * d.scale)} vs ${xw}`);
  // One update, ΔW = ±0.1 on every weight: NeuroSim's numPulse = round(ΔW/(w_max − w_min)·P_max) = ±5 pulses on ONE device,
  // from the pulse position of G on the curve of the update's direction: G(P) = B(1 − e^(−P/A)) + G_min, B = range/(1 − e^(−P_max/A)).
  const curve = (p: number, a: number): number => ((gMax - gMin) / (1 - Math.exp(-pMax / a))) * (1 - Math.exp(-p / a)) + gMin;
  const inverse = (g: number, a: number): number => -a * Math.log(1 - ((g - gMin) * (1 - Math.exp(-pMax / a))) / (gMax - gMin));
  const aLtp = d.state.aLtp![0]!;
  const aLtd = d.state.aLtd![0]!;
  assert.ok(aLtp > 0 && aLtd < 0, 'LTP saturating, LTD label negative');
  const g0 = Array.from(d.g.subarray(0, n));
  const dW = [0.1, -0.1, 0.1, 0.1, -0.1, -0.1];
  const after = Float32Array.from(back, (v, k) => v + dW[k]!);
  u.update(new Map([['fc1/weight', back]]), new Map([['fc1/weight', after]]), 1);
  for (let k = 0; k < n; k++) {
    const a = dW[k]! > 0 ? aLtp : aLtd;
    const pulses = Math.round((dW[k]! / 2) * pMax);
    assert.equal(Math.abs(pulses), 5);
    const p = Math.min(pMax, Math.max(0, inverse(g0[k]!, a) + pulses));
    const want = curve(p, a);
    assert.ok(Math.abs(d.g[k]! - want) < 1e-9 * gMax, `w ${back[k]} ${dW[k]! > 0 ? 'LTP' : 'LTD'}: G ${d.g[k]} vs ${want}`);
    assert.equal(d.g[n + k], mid);
    assert.ok(Math.abs(after[k]! - (d.g[k]! - mid) / d.scale) < 1e-6);
  }
  // Full asymmetry on the one device: near W = −1 the saturating LTP moves far more than 0.1; LTD from W = 0.5 moves by much more than LTP from −0.25 moves back.
  assert.ok(after[0]! - back[0]! > 0.05 && after[0]! - back[0]! < 0.1, `LTP at W = 0.5: ${after[0]! - back[0]!}`);
  assert.equal(after[3], 1, 'LTP at the upper bound stays there');
  assert.equal(after[4], -1, 'LTD at the lower bound stays there');
  assert.match(u.describe()['fc1']!.update, /on one device per weight against a reference at G_mid/);
});

test("DeviceUpdater: a layer with train.lr_scale gives its device model the layer's learning rate (txsim write noise on ΔG/LR)", () => {
  const n = 32 * 10;
  const w0 = Float32Array.from({ length: n }, (_, k) => Math.sin(k) * 0.1);
  const txsim = { kind: 'txsim', v: 0.01, gamma: 5, noise: 'gradient', nonlinearity: 'step', pulses: 1 };
  const base = experiment(['update'], crossbar({}, { levels: 0, update: txsim }));
  const scaled: PlanExperiment = { ...base, train: { ...base.train!, lrScale: { fc1: 0.25 } } };
  const step = (exp: PlanExperiment, lr: number): Float32Array => {
    const u = DeviceUpdater.create(exp, { 'fc1/weight': w0 }, new Map([['fc1', 'fc1/weight']]), { weightRange: 1 })!;
    const before = u.readBack()['fc1/weight']!;
    const after = new Map([['fc1/weight', before.map((x, k) => x + (k % 3 === 0 ? 1e-3 : -2e-3))]]);
    u.update(new Map([['fc1/weight', before]]), after, lr);
    return after.get('fc1/weight')!;
  };
  // lr 0.2 × lr_scale 0.25 is the layer's LR 0.05: the same draws, the same noise, the same weights.
  assert.deepEqual(step(scaled, 0.2), step(base, 0.05));
  assert.notDeepEqual(step(scaled, 0.2), step(base, 0.2), 'the write noise depends on the learning rate');
});

test("DeviceUpdater: train.program_offset = −100 % is NeuroSim's ideal write without G_min (Array::WriteCell), read back as (G − G_mid)/s", () => {
  // A continuum (65536 levels) so the write is NeuroSim's unrounded G; one device per weight on [−1, 1].
  const exp = experiment(['update'], crossbar({ mapping: 'offset', weightBits: 8, cellBits: 8 }));
  const w0 = Float32Array.of(-1, -2 / 3, -1 / 3, 0, 1 / 3, 2 / 3, 1);
  const layers = new Map([['fc1', 'fc1/weight']]);
  const u = DeviceUpdater.create(exp, { 'fc1/weight': w0 }, layers, { weightRange: 1, programOffset: -1 })!;
  const d = u.layers[0]!;
  const { gMin, gMax } = d.range;
  const step = (gMax - gMin) / 65535;
  const n = w0.length;
  const back = u.readBack()['fc1/weight']!;
  for (let k = 0; k < n; k++) {
    // NeuroSim: conductance = (w − minWeight)/(maxWeight − minWeight)·(G_max − G_min), clamped to [G_min, G_max].
    const neurosim = Math.min(gMax, Math.max(gMin, ((w0[k]! + 1) / 2) * (gMax - gMin)));
    assert.ok(Math.abs(d.g[k]! - neurosim) <= step, `w ${w0[k]}: G ${d.g[k]} vs NeuroSim ${neurosim}`);
    // ConductanceToWeight: (G − G_min)/(G_max − G_min)·2 − 1.
    const read = ((neurosim - gMin) / (gMax - gMin)) * 2 - 1;
    assert.ok(Math.abs(back[k]! - read) < 2e-4, `w ${w0[k]}: read ${back[k]} vs ${read}`);
    assert.equal(d.g[n + k], (gMin + gMax) / 2, 'the reference is not written');
  }
  // The shift is 2·G_min/(G_max − G_min) in weight units where it does not clamp; w = −1 clamps at G_min.
  const shift = (2 * gMin) / (gMax - gMin);
  assert.ok(Math.abs(back[6]! - (1 - shift)) < 2e-4);
  assert.equal(back[0], -1);
  // Without the option the write is exact, and a pair (differential) cancels the common offset.
  assert.ok(Math.abs(DeviceUpdater.create(exp, { 'fc1/weight': w0 }, layers, { weightRange: 1 })!.readBack()['fc1/weight']![4]! - 1 / 3) < 2e-4);
  const pair = DeviceUpdater.create(experiment(['update'], crossbar()), { 'fc1/weight': Float32Array.of(0.25) }, layers, {
    weightRange: 1,
    programOffset: -1,
  })!;
  assert.ok(Math.abs(pair.readBack()['fc1/weight']![0]! - 0.25) < 2e-4);
});
