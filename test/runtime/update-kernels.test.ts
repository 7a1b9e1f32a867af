/**
 * The update kernels (src/runtime/devices/update.ts, training.ts, draws.ts) give the same numbers
 * as the element-by-element implementation they replaced (test/reference/device-update.ts): every
 * model, with its C2C / pulse / write noise and D2D variation drawn from fixed seeds, over several
 * steps whose requests mix exact zeros (whole rows and columns, as batch-1 rank-one updates
 * leave them), sub-step, single-step, multi-step and saturating changes — identical conductances,
 * every bit, and the streams left in the same state. A zero request changes no device and draws
 * no random number, in the old code as in the new.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { UpdateModelSpec } from '../../src/model/crossbar.js';
import type { PlanExperiment } from '../../src/model/plan.js';
import { bulkDraws, drawNormals, drawUniforms } from '../../src/runtime/devices/draws.js';
import { DeviceUpdater } from '../../src/runtime/devices/training.js';
import { applyUpdate, createDeviceState, type ConductanceRange } from '../../src/runtime/devices/update.js';
import { Rng } from '../../src/runtime/rng.js';
import * as ref from '../reference/device-update.js';
import { planCrossbar, smallCrossbarExperiment } from './crossbar-helpers.js';

const STEP = { dw_min: 0.01, up_down: 0.1, dw_min_dtod: 0.3, dw_min_std: 0.3, w_min: -0.6, w_max: 0.6 };

/** Every model, with noise and variation where it has them (and without, where that is another path). */
const MODELS: { name: string; model: UpdateModelSpec; levels: number; stochastic?: boolean }[] = [
  { name: 'ideal, 256 levels', model: { kind: 'ideal' }, levels: 256 },
  { name: 'ideal, continuum', model: { kind: 'ideal' }, levels: 0 },
  { name: 'ideal, stochastic rounding', model: { kind: 'ideal' }, levels: 16, stochastic: true },
  { name: 'txsim(v 0.01, γ 5)', model: { kind: 'txsim', v: 0.01, gamma: 5, noise: 'gradient', nonlinearity: 'step', pulses: 1 }, levels: 256 },
  { name: 'txsim(v 0.01, γ 5, noise = step)', model: { kind: 'txsim', v: 0.01, gamma: 5, noise: 'step', nonlinearity: 'step', pulses: 1 }, levels: 256 },
  { name: 'txsim(v 5, γ 0), continuum', model: { kind: 'txsim', v: 5, gamma: 0, noise: 'gradient', nonlinearity: 'step', pulses: 1 }, levels: 0 },
  { name: 'txsim(v 0.3, γ 2), continuum', model: { kind: 'txsim', v: 0.3, gamma: 2, noise: 'gradient', nonlinearity: 'step', pulses: 1 }, levels: 0 },
  {
    name: 'txsim(v 1, γ 2, nonlinearity = gradient)',
    model: { kind: 'txsim', v: 1, gamma: 2, noise: 'gradient', nonlinearity: 'gradient', pulses: 1 },
    levels: 256,
  },
  {
    name: 'txsim(v 0.5, γ 0, nonlinearity = gradient), continuum',
    model: { kind: 'txsim', v: 0.5, gamma: 0, noise: 'step', nonlinearity: 'gradient', pulses: 1 },
    levels: 0,
  },
  { name: 'txsim(v 0.02, γ 1, pulses 96)', model: { kind: 'txsim', v: 0.02, gamma: 1, noise: 'gradient', nonlinearity: 'step', pulses: 96 }, levels: 256 },
  { name: 'txsim(v 0, γ 3)', model: { kind: 'txsim', v: 0, gamma: 3, noise: 'gradient', nonlinearity: 'step', pulses: 1 }, levels: 64 },
  {
    name: 'txsim(v 0.5, γ 2), stochastic rounding',
    model: { kind: 'txsim', v: 0.5, gamma: 2, noise: 'gradient', nonlinearity: 'step', pulses: 1 },
    levels: 16,
    stochastic: true,
  },
  {
    name: 'txsim(v 0.5, γ 0), stochastic rounding',
    model: { kind: 'txsim', v: 0.5, gamma: 0, noise: 'step', nonlinearity: 'step', pulses: 1 },
    levels: 16,
    stochastic: true,
  },
  { name: 'nonlinear Ag:a-Si, C2C and D2D', model: { kind: 'nonlinear', ltp: 2.4, ltd: -4.88, c2c: 0.035, d2d: 0.1 }, levels: 97 },
  { name: 'nonlinear TaOx', model: { kind: 'nonlinear', ltp: 0.04, ltd: -0.63, c2c: 0.037, d2d: 0 }, levels: 128 },
  { name: 'nonlinear linear, no C2C', model: { kind: 'nonlinear', ltp: 0, ltd: 0, c2c: 0, d2d: 0 }, levels: 32 },
  { name: 'constant_step', model: { kind: 'constant_step', ...STEP }, levels: 4 },
  { name: 'constant_step, no noise', model: { kind: 'constant_step', ...STEP, dw_min_std: 0, up_down: -0.2 }, levels: 4 },
  { name: 'soft_bounds', model: { kind: 'soft_bounds', ...STEP, up_down: -0.2 }, levels: 4 },
  {
    name: 'exp_step',
    model: {
      kind: 'exp_step',
      dw_min: 0.01,
      A_up: 0.00081,
      A_down: 0.36833,
      gamma_up: 12.4462,
      gamma_down: 12.7879,
      a: 0.244,
      b: 0.2425,
      dw_min_std: 0.3,
      w_min: -0.6,
      w_max: 0.6,
      up_down: 0.05,
      dw_min_dtod: 0.2,
    },
    levels: 4,
  },
  { name: 'pow_step', model: { kind: 'pow_step', ...STEP, pow_gamma: 1.5, pow_up_down: 0.2 }, levels: 4 },
];

/**
 * Requests of one step for n devices in rows of `cols`: zero rows and columns, and, of the rest,
 * a mix of sub-step (|ΔG| < step/2), near-threshold, few-step, many-step and saturating changes of
 * both signs.
 */
function requests(rng: Rng, n: number, cols: number, step: number, span: number): Float64Array {
  const out = new Float64Array(n);
  const rows = Math.ceil(n / cols);
  const zeroRow = Array.from({ length: rows }, () => rng.uniform() < 0.5);
  const zeroCol = Array.from({ length: cols }, () => rng.uniform() < 0.3);
  for (let k = 0; k < n; k++) {
    if (zeroRow[Math.floor(k / cols)] || zeroCol[k % cols]) continue;
    const u = rng.uniform();
    const sign = rng.uniform() < 0.5 ? -1 : 1;
    let mag: number;
    if (u < 0.25) mag = step * 0.45 * rng.uniform();
    else if (u < 0.35)
      mag = step * (0.47 + 0.06 * rng.uniform()); // around the rounding threshold
    else if (u < 0.7) mag = step * (0.5 + 3 * rng.uniform());
    else if (u < 0.95) mag = step * (3 + 40 * rng.uniform());
    else mag = span * (0.5 + 4 * rng.uniform());
    out[k] = sign * mag;
    if (u > 0.999) out[k] = step * 0.5 * sign; // ties of the pulse rounding
  }
  return out;
}

function rangeOf(levels: number): ConductanceRange {
  return { gMin: 1e-6, gMax: 1e-5, levels };
}

/** The request grid step of a model (the level step, NeuroSim's pulse step, aihwkit's dw_min in siemens). */
function stepOf(m: UpdateModelSpec, r: ConductanceRange): number {
  const span = r.gMax - r.gMin;
  if (m.kind === 'ideal' || m.kind === 'txsim' || m.kind === 'nonlinear') return span / Math.max(1, (r.levels || 1024) - 1);
  return (m.dw_min / (m.w_max - m.w_min)) * span;
}

const bits = (a: ArrayLike<number>): string[] => Array.from(a, (v) => (Object.is(v, -0) ? '-0' : String(v)));

test('bulk draws: the same values and stream state as rng.normal() / rng.uniform() calls', () => {
  assert.ok(bulkDraws(new Rng(1, 'x')), 'the bulk path runs on the Rng state');
  for (const count of [0, 1, 2, 3, 4, 7, 1000, 1001]) {
    for (const spare of [false, true]) {
      const a = new Rng(11, `draws/${count}`);
      const b = new Rng(11, `draws/${count}`);
      if (spare) {
        a.normal();
        b.normal();
      }
      const expected = Array.from({ length: count }, () => a.normal());
      const got = new Float64Array(count);
      drawNormals(b, got, count);
      assert.deepEqual(bits(got), bits(expected), `normals, count ${count}, spare ${spare}`);
      // The stream continues identically: the cached variate, then fresh draws.
      assert.deepEqual([b.normal(), b.normal(), b.uniform(), b.nextUint32()], [a.normal(), a.normal(), a.uniform(), a.nextUint32()]);
      const uExpected = Array.from({ length: count }, () => a.uniform());
      const u = new Float64Array(count);
      drawUniforms(b, u, count);
      assert.deepEqual(bits(u), bits(uExpected), `uniforms, count ${count}`);
      assert.deepEqual([b.normal(), b.nextUint32()], [a.normal(), a.nextUint32()]);
    }
  }
});

test('applyUpdate: every model gives the reference conductances and leaves the stream where the reference does', () => {
  const n = 3000;
  const cols = 60;
  for (const { name, model, levels, stochastic } of MODELS) {
    const range = rangeOf(levels);
    const span = range.gMax - range.gMin;
    const step = stepOf(model, range);
    const init = new Rng(5, `kernels/${name}/init`);
    const g0 = Float64Array.from({ length: n }, () => range.gMin + span * init.uniform());
    // D2D variation: the same draws in both implementations.
    const state = createDeviceState(model, range, n, new Rng(5, `kernels/${name}/devices`));
    const refState = ref.createDeviceState(model, range, n, new Rng(5, `kernels/${name}/devices`));
    assert.deepEqual(state, refState, `${name}: device state`);
    const g = Float64Array.from(g0);
    const h = Float64Array.from(g0);
    const rng = new Rng(5, `kernels/${name}`);
    const rngRef = new Rng(5, `kernels/${name}`);
    const req = new Rng(5, `kernels/${name}/requests`);
    // A learning rate other than 1: txsim's write noise then differs between noise = gradient and step.
    const opts = stochastic ? { rounding: 'stochastic' as const, lr: 0.05 } : { lr: 0.05 };
    for (let s = 0; s < 6; s++) {
      const dG = requests(req, n, cols, step, span);
      applyUpdate(g, dG, model, range, rng, state, opts);
      ref.applyUpdate(h, dG, model, range, rngRef, refState, opts);
      assert.deepEqual(bits(g), bits(h), `${name}: step ${s}`);
    }
    // Not in place, into float32, and with the state made on the fly (no variation).
    const dG = Array.from(requests(req, n, cols, step, span));
    const out = new Float32Array(n);
    const outRef = new Float32Array(n);
    applyUpdate(g, dG, model, range, rng, undefined, opts, out);
    ref.applyUpdate(h, dG, model, range, rngRef, undefined, opts, outRef);
    assert.deepEqual(bits(out), bits(outRef), `${name}: out of place`);
    assert.deepEqual(bits(g), bits(h), `${name}: source untouched`);
    // Saturating requests on every device, alternating in sign: the pulse models' noise of
    // hundreds of pulses per device, drawn in chunks.
    const big = Float64Array.from({ length: n }, (_, k) => (k % 2 ? 3 : -3.5) * span);
    applyUpdate(g, big, model, range, rng, state, opts);
    ref.applyUpdate(h, big, model, range, rngRef, refState, opts);
    assert.deepEqual(bits(g), bits(h), `${name}: saturating requests`);
    assert.deepEqual([rng.normal(), rng.uniform()], [rngRef.normal(), rngRef.uniform()], `${name}: stream state`);
  }
});

test('applyUpdate: a zero request changes no device and draws nothing', () => {
  for (const { name, model, levels, stochastic } of MODELS) {
    const range = rangeOf(levels);
    const g = Float64Array.from({ length: 50 }, (_, k) => range.gMin + ((range.gMax - range.gMin) * k) / 49 + 1e-9);
    const before = Float64Array.from(g);
    const rng = new Rng(2, 'zero');
    const dG = new Float64Array(50);
    dG[7] = -0;
    applyUpdate(g, dG, model, range, rng, createDeviceState(model, range, 50, new Rng(2, 'zero/devices')), stochastic ? { rounding: 'stochastic' } : {});
    assert.deepEqual(bits(g), bits(before), name);
    assert.equal(rng.nextUint32(), new Rng(2, 'zero').nextUint32(), `${name}: no draw`);
  }
});

function pairExperiment(model: UpdateModelSpec, levels: number): PlanExperiment {
  // One 2-bit cell per 8-bit weight: ideal/txsim update the composed 256-level grid, the pulse models their own.
  return smallCrossbarExperiment('fast', ['update'], planCrossbar({ weightBits: 8, cellBits: 2 }, { levels, update: model }), { seed: 9 });
}

test('DeviceUpdater: every model gives the reference pair update (G⁺ then G⁻, every weight read back) over steps with zero rows and columns', () => {
  const rows = 60;
  const cols = 40;
  const n = rows * cols;
  for (const { name, model, levels, stochastic } of MODELS) {
    if (stochastic) continue; // training rounds to the nearest level
    const exp = pairExperiment(model, levels);
    const init = new Rng(3, `pairs/${name}/init`);
    const w0 = Float32Array.from({ length: n }, () => 0.2 * init.normal());
    const u = DeviceUpdater.create(exp, { 'fc1/weight': w0 }, new Map([['fc1', 'fc1/weight']]), { weightRange: 1 })!;
    const d = u.layers[0]!;
    const pair: ref.ReferencePair = {
      model,
      range: d.range,
      scale: d.scale,
      g: ref.referenceProgram(w0, d.range, d.scale, new Rng(exp.seed, 'update/fc1')),
      state: ref.createDeviceState(model, d.range, 2 * n, new Rng(exp.seed, 'update/fc1/devices')),
      rng: new Rng(exp.seed, 'update/fc1'),
    };
    // referenceProgram drew nothing (nearest-level programming): its stream is the update stream.
    assert.deepEqual(bits(d.g), bits(pair.g), `${name}: programming`);
    let w = u.readBack()['fc1/weight']!;
    const wRef = Float32Array.from(w);
    const req = new Rng(3, `pairs/${name}/requests`);
    const wStep = (stepOf(model, d.range) / d.scale) * 2;
    const lr = 0.02;
    for (let s = 0; s < 5; s++) {
      const dW = requests(req, n, cols, wStep, 1);
      const after = Float32Array.from(w, (v, k) => v + dW[k]!);
      const afterRef = Float32Array.from(wRef, (v, k) => v + dW[k]!);
      const next = new Map([['fc1/weight', after]]);
      u.update(new Map([['fc1/weight', w]]), next, lr);
      ref.referencePairUpdate(pair, Float32Array.from(wRef), afterRef, lr);
      assert.deepEqual(bits(d.g), bits(pair.g), `${name}: conductances after step ${s}`);
      assert.deepEqual(bits(after), bits(afterRef), `${name}: read-back after step ${s}`);
      w = after;
      wRef.set(afterRef);
    }
    // A step fed other weights than the last read-back (a caller's own): still the reference.
    const other = Float32Array.from(w, (v, k) => (k % 3 === 0 ? v + 0.01 : v));
    const after = Float32Array.from(other, (v, k) => (k % 5 === 0 ? v : v + 0.02));
    const afterRef = Float32Array.from(after);
    u.update(new Map([['fc1/weight', other]]), new Map([['fc1/weight', after]]), 1);
    ref.referencePairUpdate(pair, Float32Array.from(other), afterRef, 1);
    assert.deepEqual(bits(after), bits(afterRef), `${name}: a foreign 'before'`);
    assert.deepEqual(bits(d.g), bits(pair.g), `${name}: conductances after a foreign 'before'`);
    assert.deepEqual([d.rng.normal(), d.rng.uniform()], [pair.rng.normal(), pair.rng.uniform()], `${name}: stream state`);
  }
});

test('DeviceUpdater, mapping offset: every model gives the reference single-device update (one device per weight, the reference never written)', () => {
  const rows = 60;
  const cols = 40;
  const n = rows * cols;
  for (const { name, model, levels, stochastic } of MODELS) {
    if (stochastic) continue;
    const exp = smallCrossbarExperiment('fast', ['update'], planCrossbar({ weightBits: 8, cellBits: 2, mapping: 'offset' }, { levels, update: model }), {
      seed: 9,
    });
    const init = new Rng(3, `single/${name}/init`);
    const w0 = Float32Array.from({ length: n }, () => 0.2 * init.normal());
    const u = DeviceUpdater.create(exp, { 'fc1/weight': w0 }, new Map([['fc1', 'fc1/weight']]), { weightRange: 1 })!;
    const d = u.layers[0]!;
    // One device spans ±weight_range: s = (G_max − G_min)/(2·r).
    assert.equal(d.scale, (d.range.gMax - d.range.gMin) / 2, name);
    const single: ref.ReferencePair = {
      model,
      range: d.range,
      scale: d.scale,
      g: ref.referenceSingleProgram(w0, d.range, d.scale, new Rng(exp.seed, 'update/fc1')),
      state: ref.createDeviceState(model, d.range, 2 * n, new Rng(exp.seed, 'update/fc1/devices')),
      rng: new Rng(exp.seed, 'update/fc1'),
    };
    assert.deepEqual(bits(d.g), bits(single.g), `${name}: programming`);
    let w = u.readBack()['fc1/weight']!;
    const wRef = Float32Array.from(w);
    const req = new Rng(3, `single/${name}/requests`);
    const wStep = stepOf(model, d.range) / d.scale;
    for (let s = 0; s < 5; s++) {
      const dW = requests(req, n, cols, wStep, 1);
      const after = Float32Array.from(w, (v, k) => v + dW[k]!);
      const afterRef = Float32Array.from(wRef, (v, k) => v + dW[k]!);
      u.update(new Map([['fc1/weight', w]]), new Map([['fc1/weight', after]]), 1);
      ref.referenceSingleUpdate(single, Float32Array.from(wRef), afterRef);
      assert.deepEqual(bits(d.g), bits(single.g), `${name}: conductances after step ${s}`);
      assert.deepEqual(bits(after), bits(afterRef), `${name}: read-back after step ${s}`);
      w = after;
      wRef.set(afterRef);
    }
    const mid = (d.range.gMin + d.range.gMax) / 2;
    assert.ok(
      d.g.subarray(n).every((g) => g === mid),
      `${name}: the reference column stays at G_mid`,
    );
    assert.deepEqual([d.rng.normal(), d.rng.uniform()], [single.rng.normal(), single.rng.uniform()], `${name}: stream state`);
  }
});
