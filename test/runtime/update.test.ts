/**
 * Device update models (src/runtime/devices/update.ts) against their closed forms: pulse-response
 * curves, bounds, the level grid, the noise σ formulas (seeded samples), determinism by seed.
 */
import { deviceSpec } from './crossbar-helpers.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  A_NORM_ANCHORS,
  aNorm,
  applyUpdate,
  asymDelta,
  createDeviceState,
  paramA,
  pulseCurve,
  pulseOf,
  updateOf,
  writeNoiseSigma,
  type ConductanceRange,
  type UpdateModel,
} from '../../src/runtime/devices/update.js';
import { Rng } from '../../src/runtime/rng.js';

const gMax = 1 / 100e3;
const gMin = gMax / 10;
const span = gMax - gMin;

function stats(xs: Float64Array): { mean: number; std: number } {
  let m = 0;
  for (const x of xs) m += x;
  m /= xs.length;
  let v = 0;
  for (const x of xs) v += (x - m) ** 2;
  return { mean: m, std: Math.sqrt(v / (xs.length - 1)) };
}

const close = (a: number, b: number, rel: number, what: string) => assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} vs ${b}`);

test('A_norm: the NeuroSim anchors exactly, monotone between them, ≈ 1.263/α for small α', () => {
  for (const [alpha, a] of A_NORM_ANCHORS) close(aNorm(alpha), a, 1e-12, `α ${alpha}`);
  let prev = Infinity;
  for (let alpha = 0.001; alpha <= 9; alpha *= 1.01) {
    const a = aNorm(alpha);
    assert.ok(a < prev, `A_norm decreasing at α ${alpha}`);
    prev = a;
  }
  close(aNorm(0.005), 1.26269 / 0.005, 1e-9, 'below the first anchor');
  close(aNorm(0.02), 1.263 / 0.02, 0.01, 'small α');
  assert.equal(paramA(0, 96), Infinity);
  assert.equal(paramA(-2.4, 96), -aNorm(2.4) * 96);
  assert.throws(() => aNorm(0), /positive/);
});

test('NeuroSim pulse response: P pulses from G_min follow G_LTP(P) = B(1 − e^(−P/A)) + G_min', () => {
  const levels = 97; // Ag:a-Si
  const pMax = levels - 1;
  const range: ConductanceRange = { gMin, gMax, levels };
  const step = span / pMax;
  const model: UpdateModel = { kind: 'nonlinear', ltp: 2.4, ltd: -4.88, c2c: 0, d2d: 0 };
  const A = aNorm(2.4) * pMax;
  const B = span / (1 - Math.exp(-pMax / A));
  const rng = new Rng(1, 'test/update/ltp');
  // one pulse at a time
  const g = Float64Array.of(gMin);
  for (let p = 1; p <= pMax; p++) {
    applyUpdate(g, [step], model, range, rng);
    close(g[0]!, B * (1 - Math.exp(-p / A)) + gMin, 1e-9, `LTP after ${p} pulses`);
  }
  assert.equal(g[0], gMax);
  applyUpdate(g, [step * 5], model, range, rng);
  assert.equal(g[0], gMax, 'saturates at G_max');
  // several pulses in one update land on the same curve
  const h = Float64Array.of(gMin, gMin, gMin);
  applyUpdate(h, [10 * step, 40 * step, 10.4 * step], model, range, rng);
  close(h[0]!, B * (1 - Math.exp(-10 / A)) + gMin, 1e-9, '10 pulses at once');
  close(h[1]!, B * (1 - Math.exp(-40 / A)) + gMin, 1e-9, '40 pulses at once');
  assert.equal(h[2], h[0], 'pulses = round(ΔG / step)');
  // the curve is saturating (concave): the first pulse moves G more than the last
  assert.ok(pulseCurve(1, A, pMax, gMin, gMax) - gMin > gMax - pulseCurve(pMax - 1, A, pMax, gMin, gMax));
});

test('NeuroSim depression: a negative LTD label is MODELS.md G_LTD(P) = −B(1 − e^((P−P_max)/A)) + G_max; positive flips it', () => {
  const levels = 97;
  const pMax = levels - 1;
  const range: ConductanceRange = { gMin, gMax, levels };
  const step = span / pMax;
  const rng = new Rng(2, 'test/update/ltd');
  const A = aNorm(4.88) * pMax;
  const B = span / (1 - Math.exp(-pMax / A));
  const gLtd = (P: number) => -B * (1 - Math.exp((P - pMax) / A)) + gMax;
  const neg: UpdateModel = { kind: 'nonlinear', ltp: 2.4, ltd: -4.88, c2c: 0, d2d: 0 };
  const g = Float64Array.of(gMax);
  for (let p = 1; p <= pMax; p++) {
    applyUpdate(g, [-step], neg, range, rng);
    close(g[0]!, gLtd(pMax - p), 1e-9, `LTD after ${p} pulses`);
  }
  assert.equal(g[0], gMin);
  // positive label: the mirror image (slow first, fast last)
  const pos: UpdateModel = { kind: 'nonlinear', ltp: 2.4, ltd: 4.88, c2c: 0, d2d: 0 };
  const h = Float64Array.of(gMax);
  applyUpdate(h, [-step], pos, range, rng);
  close(h[0]!, pulseCurve(pMax - 1, A, pMax, gMin, gMax), 1e-9, 'positive LTD label: depression walks down the concave curve');
  assert.ok(gMax - h[0]! < gMax - gLtd(pMax - 1), 'positive LTD label: slow start');
  // α = 0 is linear
  const lin: UpdateModel = { kind: 'nonlinear', ltp: 0, ltd: 0, c2c: 0, d2d: 0 };
  const l = Float64Array.of(gMin);
  applyUpdate(l, [30 * step], lin, range, rng);
  close(l[0]!, gMin + 30 * step, 1e-12, 'linear');
  // pulseOf inverts pulseCurve for both signs
  for (const a of [A, -A, paramA(0.04, pMax)])
    for (const p of [0, 3.5, 50, pMax]) close(pulseOf(pulseCurve(p, a, pMax, gMin, gMax), a, pMax, gMin, gMax) + 1, p + 1, 1e-9, `pulseOf(A ${a}, P ${p})`);
});

test('TxSim asymmetric update: CrossSim ASYM closed form, linear as v → 0, bounded', () => {
  const v = 0.5;
  const w0 = span / (1 - Math.exp(-v));
  const g0 = gMin + 0.3 * span;
  const delta = 0.1 * span;
  const up = (w0 + gMin - g0) * (1 - Math.exp((-v * delta) / span));
  const down = (gMax - w0 - g0) * (1 - Math.exp((v * -delta) / span));
  close(asymDelta(g0, delta, v, gMin, gMax), up, 1e-12, 'Δ > 0');
  close(asymDelta(g0, -delta, v, gMin, gMax), down, 1e-12, 'Δ ≤ 0');
  assert.ok(down < 0 && up > 0);
  close(asymDelta(g0, delta, 1e-9, gMin, gMax), delta, 1e-6, 'v → 0 is linear');
  assert.equal(asymDelta(g0, delta, 0, gMin, gMax), delta);
  // asymmetry: a potentiating step is smaller near G_max than near G_min
  assert.ok(asymDelta(gMax - 0.05 * span, delta, v, gMin, gMax) < asymDelta(gMin + 0.05 * span, delta, v, gMin, gMax));
  // applied through applyUpdate on a continuum, no noise
  const rng = new Rng(3, 'test/update/txsim');
  const g = Float64Array.of(g0, g0);
  applyUpdate(g, [delta, -delta], { kind: 'txsim', v, gamma: 0, noise: 'gradient', nonlinearity: 'step', pulses: 1 }, { gMin, gMax }, rng);
  close(g[0]!, g0 + up, 1e-12, 'applyUpdate up');
  close(g[1]!, g0 + down, 1e-12, 'applyUpdate down');
  // the ASYM form never leaves [G_min, G_max] even for huge requests
  const big = Float64Array.of(g0, g0);
  applyUpdate(big, [100 * span, -100 * span], { kind: 'txsim', v: 1, gamma: 0, noise: 'gradient', nonlinearity: 'step', pulses: 1 }, { gMin, gMax }, rng);
  assert.ok(big[0]! <= gMax && big[1]! >= gMin);
});

test('TxSim write noise on the pre-learning-rate gradient: sample σ = LR·γ·sqrt((G_max − G_min)·|ΔG/LR|) within its sampling error', () => {
  // n seeded samples of one request on a continuum (no level grid, no clipping): the sample
  // standard deviation s of N(μ, σ²) has a standard error σ/sqrt(2(n − 1)); 5 of them is the
  // tolerance (a false failure ~6e−7), the mean's is σ/sqrt(n).
  const n = 40000;
  const tol = 5 / Math.sqrt(2 * (n - 1));
  const rng = new Rng(4, 'test/update/write-noise');
  for (const [gamma, frac, lr] of [
    [5, 1e-4, 0.01],
    [10, 1e-5, 0.01],
    [1, 1e-3, 0.1],
    [5, 1e-4, 1],
  ] as const) {
    const dG = frac * span;
    // the formula as MODELS.md §3 states it: the gradient ΔG/LR, its noise γ·sqrt(range·|ΔG/LR|), scaled by LR
    const sigma = lr * gamma * Math.sqrt(span * Math.abs(dG / lr));
    close(writeNoiseSigma(gamma, dG, { gMin, gMax }, lr), sigma, 1e-12, 'writeNoiseSigma');
    close(writeNoiseSigma(gamma, dG, { gMin, gMax }, lr, 'step'), gamma * Math.sqrt(span * dG), 1e-12, 'writeNoiseSigma, noise = step');
    for (const noise of ['gradient', 'step'] as const) {
      const expected = noise === 'gradient' ? sigma : gamma * Math.sqrt(span * dG);
      assert.ok(expected < 0.06 * span, 'no clipping in this test (G starts mid-range: 8σ from a bound)');
      const g0 = gMin + 0.5 * span;
      const g = new Float64Array(n).fill(g0);
      applyUpdate(g, new Float64Array(n).fill(dG), { kind: 'txsim', v: 0, gamma, noise, nonlinearity: 'step', pulses: 1 }, { gMin, gMax }, rng, undefined, {
        lr,
      });
      const s = stats(g.map((x) => x - g0));
      assert.ok(Math.abs(s.std / expected - 1) < tol, `γ ${gamma}, LR ${lr}, noise = ${noise}: σ ${s.std} vs ${expected} (tolerance ${tol})`);
      assert.ok(Math.abs(s.mean - dG) < (5 * expected) / Math.sqrt(n), `γ ${gamma}, LR ${lr}, noise = ${noise}: mean ${s.mean} vs ${dG}`);
    }
  }
  // The learning rate must be a positive number.
  assert.throws(
    () =>
      applyUpdate(
        new Float64Array(1).fill(gMin),
        [1e-9],
        { kind: 'txsim', v: 0, gamma: 1, noise: 'gradient', nonlinearity: 'step', pulses: 1 },
        { gMin, gMax },
        rng,
        undefined,
        { lr: 0 },
      ),
    /learning rate/,
  );
});

test('TxSim nonlinearity per pulse (pulses = P): Chen et al.’s curve G(p) = G_min + B(1 − e^(−p/A)), A = 1/v pulses, moved by ΔG/(range/P) pulses', () => {
  const v = 0.05;
  const P = 96;
  const A = 1 / v;
  const B = span / (1 - Math.exp(-P / A));
  const curve = (p: number) => gMin + B * (1 - Math.exp(-p / A));
  const model: UpdateModel = { kind: 'txsim', v, gamma: 0, noise: 'gradient', nonlinearity: 'step', pulses: P };
  const rng = new Rng(3, 'test/update/txsim-pulses');
  for (const [p0, dp] of [
    [10, 1],
    [40, 7.5],
    [80, 3],
  ] as const) {
    const g = Float64Array.of(curve(p0));
    applyUpdate(g, [(dp * span) / P], model, { gMin, gMax }, rng);
    close(g[0]! - curve(p0), curve(p0 + dp) - curve(p0), 1e-9, `potentiation from pulse ${p0} by ${dp}`);
  }
  // the same numbers as v·P over the range (pulses = 1), every bit
  const g = Float64Array.of(gMin + 0.2 * span, gMin + 0.7 * span);
  const h = Float64Array.from(g);
  applyUpdate(g, [0.01 * span, -0.03 * span], model, { gMin, gMax }, rng);
  applyUpdate(h, [0.01 * span, -0.03 * span], { ...model, v: v * P, pulses: 1 }, { gMin, gMax }, rng);
  assert.deepEqual(Array.from(g), Array.from(h));
  assert.throws(() => applyUpdate(g, [1e-9, 0], { ...model, pulses: 0.5 }, { gMin, gMax }, rng), /pulses/);
});

test('TxSim nonlinearity on the gradient: LR·Δ′(G, ΔG/LR) in closed form, the step form as LR → 1, saturating at LR·(w0 + G_min − G)', () => {
  const v = 1;
  const lr = 0.01;
  const w0 = span / (1 - Math.exp(-v));
  const model: UpdateModel = { kind: 'txsim', v, gamma: 0, noise: 'gradient', nonlinearity: 'gradient', pulses: 1 };
  const rng = new Rng(3, 'test/update/txsim-gradient');
  for (const frac of [1e-5, 1e-3, 0.02]) {
    const delta = frac * span;
    const g0 = gMin + 0.3 * span;
    // closed form: the gradient ΔG/LR through ASYM, times LR
    const up = lr * (w0 + gMin - g0) * (1 - Math.exp((-v * (delta / lr)) / span));
    const down = lr * (gMax - w0 - g0) * (1 - Math.exp((v * (-delta / lr)) / span));
    const g = Float64Array.of(g0, g0);
    applyUpdate(g, [delta, -delta], model, { gMin, gMax }, rng, undefined, { lr });
    close(g[0]! - g0, up, 1e-9, `ΔG ${frac} of the range, up`);
    close(g[1]! - g0, down, 1e-9, `ΔG ${frac} of the range, down`);
    // lr = 1: the step form, every bit
    const h = Float64Array.of(g0, g0);
    const k = Float64Array.of(g0, g0);
    applyUpdate(h, [delta, -delta], model, { gMin, gMax }, rng, undefined, { lr: 1 });
    applyUpdate(k, [delta, -delta], { ...model, nonlinearity: 'step', pulses: 1 }, { gMin, gMax }, rng, undefined, { lr });
    assert.deepEqual(Array.from(h), Array.from(k), 'LR 1 is the step form');
  }
  // small steps: both forms have the same gain; a gradient of a few ranges saturates at LR·(w0 + G_min − G)
  const g0 = gMin + 0.3 * span;
  const tiny = 1e-9 * span;
  const a = Float64Array.of(g0);
  applyUpdate(a, [tiny], model, { gMin, gMax }, rng, undefined, { lr });
  close(a[0]! - g0, asymDelta(g0, tiny, v, gMin, gMax), 1e-5, 'linear regime: the step form');
  const b = Float64Array.of(g0);
  applyUpdate(b, [lr * 50 * span], model, { gMin, gMax }, rng, undefined, { lr });
  close(b[0]! - g0, lr * (w0 + gMin - g0), 1e-9, 'saturated');
});

test('NeuroSim C2C σ = c2c·(G_max − G_min)·sqrt(pulses), and D2D varies the label per device', () => {
  const n = 20000;
  const levels = 101;
  const range: ConductanceRange = { gMin, gMax, levels };
  const step = span / (levels - 1);
  const rng = new Rng(5, 'test/update/c2c');
  for (const pulses of [1, 4]) {
    const g = new Float64Array(n).fill(gMin + 0.4 * span);
    applyUpdate(g, new Float64Array(n).fill(pulses * step), { kind: 'nonlinear', ltp: 0, ltd: 0, c2c: 0.01, d2d: 0 }, range, rng);
    const s = stats(g);
    close(s.std, 0.01 * span * Math.sqrt(pulses), 0.03, `${pulses} pulses`);
    close(s.mean, gMin + 0.4 * span + pulses * step, 1e-3, 'mean');
  }
  const model: UpdateModel = { kind: 'nonlinear', ltp: 1, ltd: -1, c2c: 0, d2d: 0.2 };
  const st = createDeviceState(model, range, 4000, new Rng(6, 'test/update/d2d'));
  const labels = stats(st.aLtp!.map((a) => a / (levels - 1)));
  assert.ok(labels.std > 0, 'device-to-device spread');
  const g = new Float64Array(4000).fill(gMin);
  applyUpdate(g, new Float64Array(4000).fill(10 * step), model, range, rng, st);
  assert.ok(stats(g).std > 0, 'devices respond differently');
});

test('bounds are never exceeded and ideal/txsim stay on the level grid', () => {
  const rng = new Rng(7, 'test/update/bounds');
  const levels = 16;
  const range: ConductanceRange = { gMin, gMax, levels };
  const lstep = span / (levels - 1);
  const models: UpdateModel[] = [
    { kind: 'ideal' },
    { kind: 'txsim', v: 0.3, gamma: 5, noise: 'gradient', nonlinearity: 'step', pulses: 1 },
    { kind: 'nonlinear', ltp: 2.4, ltd: -4.88, c2c: 0.05, d2d: 0.5 },
    { kind: 'constant_step', dw_min: 0.01, up_down: 0.1, dw_min_dtod: 0.3, dw_min_std: 0.3, w_min: -0.6, w_max: 0.6 },
    { kind: 'soft_bounds', dw_min: 0.01, up_down: -0.2, dw_min_dtod: 0.3, dw_min_std: 0.3, w_min: -0.6, w_max: 0.6 },
    {
      kind: 'exp_step',
      dw_min: 0.01,
      A_up: 0.00081,
      A_down: 0.36833,
      gamma_up: 12.44625,
      gamma_down: 12.78785,
      a: 0.244,
      b: 0.2425,
      dw_min_std: 0.3,
      w_min: -0.6,
      w_max: 0.6,
    },
    { kind: 'pow_step', dw_min: 0.01, up_down: 0, dw_min_dtod: 0.1, dw_min_std: 0.3, w_min: -0.6, w_max: 0.6, pow_gamma: 2, pow_up_down: 0.1 },
  ];
  for (const model of models) {
    const n = 500;
    const g = Float64Array.from({ length: n }, () => gMin + rng.int(levels) * lstep);
    const st = createDeviceState(model, range, n, rng);
    for (let round = 0; round < 20; round++) {
      const dG = Float64Array.from({ length: n }, () => (rng.uniform() - 0.5) * 3 * span * (rng.uniform() < 0.5 ? 1 : 0.01));
      applyUpdate(g, dG, model, range, rng, st, { rounding: round % 2 ? 'stochastic' : 'nearest' });
      for (const x of g) assert.ok(x >= gMin && x <= gMax, `${model.kind}: ${x} outside [${gMin}, ${gMax}]`);
      if (model.kind === 'ideal' || model.kind === 'txsim') {
        for (const x of g) {
          const k = (x - gMin) / lstep;
          assert.ok(Math.abs(k - Math.round(k)) < 1e-9, `${model.kind}: ${x} off the grid (level ${k})`);
        }
      }
    }
  }
  // stochastic rounding is unbiased: ΔG of 0.3 levels lands a full level 30 % of the time
  const n = 20000;
  const g = new Float64Array(n).fill(gMin + 5 * lstep);
  applyUpdate(g, new Float64Array(n).fill(0.3 * lstep), { kind: 'ideal' }, range, rng, undefined, { rounding: 'stochastic' });
  const moved = g.filter((x) => x > gMin + 5.5 * lstep).length / n;
  assert.ok(Math.abs(moved - 0.3) < 0.02, `stochastic rounding moved ${moved}`);
  const h = Float64Array.of(gMin + 5 * lstep);
  applyUpdate(h, [0.3 * lstep], { kind: 'ideal' }, range, rng);
  assert.equal(h[0], gMin + 5 * lstep, 'nearest rounding drops sub-half-level updates');
});

test('aihwkit pulsed steps: ConstantStep, SoftBounds, PowStep closed forms; ExpStep first step; up_down', () => {
  const rng = new Rng(8, 'test/update/aihwkit');
  const range: ConductanceRange = { gMin, gMax };
  const base = { dw_min: 0.01, up_down: 0, dw_min_dtod: 0, dw_min_std: 0, w_min: -0.6, w_max: 0.6 };
  const wSpan = 1.2;
  const toW = (g: number) => -0.6 + ((g - gMin) / span) * wSpan;
  const dGof = (pulses: number) => (pulses * 0.01 * span) / wSpan;
  // ConstantStep: P pulses from w_min move exactly P·dw_min, clipped at w_max
  for (const P of [1, 7, 60, 119, 200]) {
    const g = Float64Array.of(gMin);
    applyUpdate(g, [dGof(P)], { kind: 'constant_step', ...base }, range, rng);
    close(toW(g[0]!) + 1, Math.min(0.6, -0.6 + P * 0.01) + 1, 1e-9, `ConstantStep ${P} pulses`);
  }
  // SoftBounds: w_n = w_max − (w_max − w_0)(1 − dw_min/w_max)^n
  for (const P of [1, 10, 100]) {
    const g = Float64Array.of(gMin + 0.5 * span); // w_0 = 0
    applyUpdate(g, [dGof(P)], { kind: 'soft_bounds', ...base }, range, rng);
    close(toW(g[0]!) + 1, 0.6 - 0.6 * (1 - 0.01 / 0.6) ** P + 1, 1e-9, `SoftBounds up ${P}`);
    const h = Float64Array.of(gMin + 0.5 * span);
    applyUpdate(h, [-dGof(P)], { kind: 'soft_bounds', ...base }, range, rng);
    close(toW(h[0]!) + 1, -0.6 + 0.6 * (1 - 0.01 / 0.6) ** P + 1, 1e-9, `SoftBounds down ${P}`);
  }
  // PowStep with γ = 1: w_n = w_max − (w_max − w_0)(1 − dw_min/(w_max − w_min))^n
  for (const P of [1, 25]) {
    const g = Float64Array.of(gMin);
    applyUpdate(g, [dGof(P)], { kind: 'pow_step', ...base, pow_gamma: 1, pow_up_down: 0 }, range, rng);
    close(toW(g[0]!) + 1, 0.6 - 1.2 * (1 - 0.01 / 1.2) ** P + 1, 1e-9, `PowStep ${P}`);
  }
  // ExpStep: the first up step from w is dw_min·(1 − A_up·e^(γ_up·z)), z = 2a·w/(w_max − w_min) + b
  const es = {
    kind: 'exp_step' as const,
    dw_min: 0.01,
    A_up: 0.00081,
    A_down: 0.36833,
    gamma_up: 12.44625,
    gamma_down: 12.78785,
    a: 0.244,
    b: 0.2425,
    dw_min_std: 0,
    w_min: -0.6,
    w_max: 0.6,
  };
  for (const w0 of [-0.3, 0, 0.4]) {
    const g = Float64Array.of(gMin + ((w0 + 0.6) / wSpan) * span);
    applyUpdate(g, [dGof(1)], es, range, rng);
    const z = (2 * 0.244 * w0) / 1.2 + 0.2425;
    close(toW(g[0]!) - w0, 0.01 * Math.max(0, 1 - 0.00081 * Math.exp(12.44625 * z)), 1e-9, `ExpStep up at ${w0}`);
    const h = Float64Array.of(gMin + ((w0 + 0.6) / wSpan) * span);
    applyUpdate(h, [-dGof(1)], es, range, rng);
    close(w0 - toW(h[0]!), 0.01 * Math.max(0, 1 - 0.36833 * Math.exp(-12.78785 * z)), 1e-9, `ExpStep down at ${w0}`);
  }
  // up_down > 0 shrinks the down step: scale_down = dw_min·(1 − up_down)
  const st = createDeviceState({ kind: 'constant_step', ...base, up_down: 0.2 }, range, 1, rng);
  close(st.scaleUp![0]!, 0.01, 1e-12, 'scale_up');
  close(st.scaleDown![0]!, 0.008, 1e-12, 'scale_down');
  // cycle-to-cycle: one pulse moves by dw_min·(1 + dw_min_std·ξ)
  const n = 20000;
  const g = new Float64Array(n).fill(gMin + 0.5 * span);
  applyUpdate(g, new Float64Array(n).fill(dGof(1)), { kind: 'constant_step', ...base, dw_min_std: 0.3 }, range, rng);
  close(stats(g.map((x) => toW(x))).std, 0.01 * 0.3, 0.03, 'ConstantStep dw_min_std');
});

test('determinism: the same seed gives the same bits, another seed different ones', () => {
  const range: ConductanceRange = { gMin, gMax, levels: 64 };
  const run = (seed: number, model: UpdateModel) => {
    const rng = new Rng(seed, 'test/update/determinism');
    const g = Float64Array.from({ length: 256 }, (_, k) => gMin + ((k % 64) / 63) * span);
    const st = createDeviceState(model, range, 256, rng);
    for (let r = 0; r < 5; r++)
      applyUpdate(
        g,
        Float64Array.from({ length: 256 }, (_, k) => ((k % 7) - 3) * 0.02 * span),
        model,
        range,
        rng,
        st,
        { rounding: 'stochastic' },
      );
    return g;
  };
  for (const model of [
    { kind: 'txsim', v: 0.1, gamma: 5, noise: 'gradient', nonlinearity: 'step', pulses: 1 },
    { kind: 'nonlinear', ltp: 1, ltd: -1, c2c: 0.02, d2d: 0.1 },
    { kind: 'soft_bounds', dw_min: 0.01, up_down: 0, dw_min_dtod: 0.3, dw_min_std: 0.3, w_min: -0.6, w_max: 0.6 },
  ] as UpdateModel[]) {
    assert.deepEqual(run(1, model), run(1, model), `${model.kind}: reproducible`);
    assert.notDeepEqual(run(1, model), run(2, model), `${model.kind}: seed matters`);
  }
});

test('updateOf: a plan device gives its update model and its conductance range [G_off, G_on] with its levels', () => {
  const device = deviceSpec({
    name: 'Ag_aSi',
    levels: 97,
    rOn: 26e6,
    rOff: 26e6 * 12.5,
    update: { kind: 'nonlinear', ltp: 2.4, ltd: -4.88, c2c: 0.035, d2d: 0 },
  });
  const { model, range } = updateOf(device);
  assert.deepEqual(model, { kind: 'nonlinear', ltp: 2.4, ltd: -4.88, c2c: 0.035, d2d: 0 });
  close(range.gMax, 1 / 26e6, 1e-15, 'G_max');
  close(range.gMin, 1 / 26e6 / 12.5, 1e-15, 'G_min');
  assert.equal(range.levels, 97);
});
