/**
 * Parasitics (IR drop) in crossbar execution at fidelity fast and exact: every array's distortion
 * D from FCM/AAM folded into the fed level model (src/runtime/parasitics/tiles.ts), interpolated
 * FCM in training (a solve every `refresh` batches), `backward = transposed | reuse`.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NonidealStage, PlanCrossbar, PlanExperiment } from '../../src/model/plan.js';
import { crossbarMvm } from '../../src/runtime/crossbar/mvm-api.js';
import { CrossbarRuntime } from '../../src/runtime/crossbar/runtime.js';
import { Trainer } from '../../src/runtime/engine/trainer.js';
import { loadDataset, type Dataset } from '../../src/runtime/data/index.js';
import { runExperiment, type ExperimentOutcome } from '../../src/runtime/engine/run-experiment.js';
import { planCrossbar, smallCrossbarExperiment } from './crossbar-helpers.js';
import type { AdcSpec, ParasiticsSpec, WiresSpec } from '../../src/model/crossbar.js';
import { fcm } from '../../src/runtime/parasitics/fcm.js';

const TXSIM_WIRES = { row: 1, col: 4.6, source: 0, sense: 0 };

const crossbar = (size: number, parasitics: ParasiticsSpec, wires: WiresSpec, over: Partial<PlanCrossbar> = {}): PlanCrossbar =>
  planCrossbar({ rows: size, cols: size, weightBits: 4, wires, parasitics, ...over });

test("one tile: the crossbar MVM under FCM equals the float64 product with fcm()'s effective matrices; zero wires change nothing", async () => {
  const K = 12;
  const N = 10;
  const T = 16;
  // Exactly representable weights (q·0.1, |q| ≤ 15 = 2^4 − 1) and inputs (k·0.01, k ≤ 255).
  const qW = Int32Array.from({ length: K * N }, (_, i) => ((i * 7) % 31) - 15);
  qW[0] = 15;
  const W = { data: Float32Array.from(qW, (q) => q * 0.1), shape: [K, N] };
  const B = 3;
  const kx = Int32Array.from({ length: B * K }, (_, i) => (i * 37 + 11) % 256);
  kx[0] = 255;
  const X = { data: Float32Array.from(kx, (k) => k * 0.01), shape: [B, K] };
  const adc: AdcSpec = { bits: 24, range: { kind: 'max' }, offset: 0, gainError: 0, inl: 0, rounding: 'nearest' };
  const none = await crossbarMvm(crossbar(T, { kind: 'none' }, TXSIM_WIRES, { adc }), W, X, { fidelity: 'fast', seed: 1 });
  const zero = await crossbarMvm(crossbar(T, { kind: 'fcm', refresh: 1, backward: 'transposed' }, { row: 0, col: 0, source: 0, sense: 0 }, { adc }), W, X, {
    fidelity: 'fast',
    seed: 1,
  });
  assert.deepEqual(zero.data, none.data);
  const wires = { row: 2.5, col: 2.5, source: 500, sense: 100 };
  const par = await crossbarMvm(crossbar(T, { kind: 'fcm', refresh: 1, backward: 'transposed' }, wires, { adc }), W, X, { fidelity: 'fast', seed: 1 });

  // Reference: per plane (±) and slice (2 bits each), the padded 16×16 tile of conductances
  // G = G_off + ℓ·ΔG, its FCM matrix, and the float64 product with the integer inputs.
  const gOn = 1e-5;
  const gOff = 1e-6;
  const dG = (gOn - gOff) / 3;
  const eff = new Float64Array(K * N); // Σ_p,s sign·4^s·(G_ni/ΔG − g₀)
  const ideal = new Float64Array(K * N);
  for (const [p, sign] of [
    [0, 1],
    [1, -1],
  ] as const) {
    for (let s = 0; s < 2; s++) {
      const g = new Float64Array(T * T).fill(gOff);
      for (let k = 0; k < K; k++) {
        for (let n = 0; n < N; n++) {
          const q = qW[k * N + n]!;
          const mag = p === 0 ? Math.max(q, 0) : Math.max(-q, 0);
          g[k * T + n] = gOff + ((mag >> (2 * s)) & 3) * dG;
        }
      }
      const gni = fcm(g, T, T, wires).gni;
      for (let k = 0; k < K; k++) {
        for (let n = 0; n < N; n++) {
          eff[k * N + n]! += sign * 4 ** s * (gni[k * T + n]! / dG - gOff / dG);
          ideal[k * N + n]! += sign * 4 ** s * (g[k * T + n]! / dG - gOff / dG);
        }
      }
    }
  }
  const scale = (2.55 / 255) * (1.5 / 15);
  let sumPar = 0;
  let sumIdeal = 0;
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < N; n++) {
      let y = 0;
      let yi = 0;
      for (let k = 0; k < K; k++) {
        y += kx[b * K + k]! * eff[k * N + n]!;
        yi += kx[b * K + k]! * ideal[k * N + n]!;
      }
      y *= scale;
      yi *= scale;
      const got = par.data[b * N + n]!;
      // The ADC step is never finer than one level (config.ts): the output is rounded to 0.5·scale.
      assert.ok(Math.abs(got - y) <= 0.5 * scale + 1e-6 * Math.abs(y), `y[${b}, ${n}] = ${got}, fcm reference ${y}`);
      assert.ok(Math.abs(none.data[b * N + n]! - yi) <= 1e-6 * (1 + Math.abs(yi)), `ideal y[${b}, ${n}]`);
      sumPar += Math.abs(y);
      sumIdeal += Math.abs(yi);
    }
  }
  // IR drop lowers the currents: the MVM's magnitude shrinks (by several % with PUMA's wires).
  const drop = 1 - sumPar / sumIdeal;
  assert.ok(drop > 0.01 && drop < 0.5, `relative drop ${drop}`);
});

function experiment(fidelity: 'fast' | 'exact', nonideal: NonidealStage[], xb: PlanCrossbar): PlanExperiment {
  return smallCrossbarExperiment(fidelity, nonideal, xb, { train: 320, test: 100 });
}

let cached: Dataset | null = null;
async function run(exp: PlanExperiment): Promise<ExperimentOutcome> {
  cached ??= await loadDataset(exp.data, exp.seed);
  return runExperiment(exp, cached, { trainer: { threads: 1 }, returnWeights: true });
}

type ParStats = { model: string; trainRefreshes: number; refreshes: number; meanDistortion: number | null };

test('training with zero wire resistance is identical to no parasitics (fast and exact)', async () => {
  for (const fidelity of ['fast', 'exact'] as const) {
    const none = await run(experiment(fidelity, ['forward', 'backward'], crossbar(32, { kind: 'none' }, TXSIM_WIRES)));
    const zero = await run(
      experiment(fidelity, ['forward', 'backward'], crossbar(32, { kind: 'fcm', refresh: 2, backward: 'transposed' }, { row: 0, col: 0, source: 0, sense: 0 })),
    );
    assert.deepEqual(zero.weights!['fc1/weight'], none.weights!['fc1/weight'], fidelity);
    assert.equal(zero.final.testAccuracy, none.final.testAccuracy);
    assert.equal(zero.final.testLoss, none.final.testLoss);
    assert.equal((zero.layers![0]!['parasitics'] as ParStats).model, 'fcm');
  }
});

test('interpolated FCM: the training graph solves every `refresh` batches, ceil(N/L) times over N batches; AAM and FCM distort', async () => {
  const batches = 10; // 320 samples / 32
  for (const L of [1, 3, 4]) {
    const r = await run(experiment('fast', ['forward', 'backward'], crossbar(32, { kind: 'fcm', refresh: L, backward: 'reuse' }, TXSIM_WIRES)));
    for (const l of r.layers!) {
      const p = l['parasitics'] as ParStats;
      assert.equal(p.trainRefreshes, Math.ceil(batches / L), `${l.name}, refresh ${L}`);
      assert.ok(p.meanDistortion! > 0 && p.meanDistortion! < 0.2, `${l.name}: mean D ${p.meanDistortion}`);
    }
  }
  const none = await run(experiment('fast', ['forward', 'backward'], crossbar(32, { kind: 'none' }, TXSIM_WIRES)));
  const aam = await run(
    experiment(
      'fast',
      ['forward', 'backward'],
      crossbar(32, { kind: 'aam', backward: 'transposed', form: 'loaded' }, { row: 2.5, col: 2.5, source: 500, sense: 100 }),
    ),
  );
  assert.notDeepEqual(aam.weights!['fc1/weight'], none.weights!['fc1/weight']);
  assert.equal((aam.layers![1]!['parasitics'] as ParStats).trainRefreshes, batches);
});

test('backward = transposed solves the transposed-drive circuit; reuse does not (R_source ≠ R_sense: they differ)', async () => {
  const wires = { row: 2.5, col: 2.5, source: 500, sense: 100 };
  // (AAM's transposed drive passes the same lumped path: it equals the forward transpose; FCM's does not.)
  const tr = await run(experiment('fast', ['forward', 'backward'], crossbar(32, { kind: 'fcm', refresh: 5, backward: 'transposed' }, wires)));
  const re = await run(experiment('fast', ['forward', 'backward'], crossbar(32, { kind: 'fcm', refresh: 5, backward: 'reuse' }, wires)));
  // Forward-only training never needs the transposed solve: the same result either way.
  const f1 = await run(experiment('fast', ['forward'], crossbar(32, { kind: 'fcm', refresh: 5, backward: 'transposed' }, wires)));
  const f2 = await run(experiment('fast', ['forward'], crossbar(32, { kind: 'fcm', refresh: 5, backward: 'reuse' }, wires)));
  assert.deepEqual(f1.weights!['fc1/weight'], f2.weights!['fc1/weight']);
  assert.notDeepEqual(tr.weights!['conv1/weight'], re.weights!['conv1/weight']);
});

test('exact fidelity trains and evaluates through FCM-distorted arrays (PUMA wires lower the MVM, training still learns)', async () => {
  const wires = { row: 2.5, col: 2.5, source: 500, sense: 100 };
  const r = await run(experiment('exact', ['forward', 'backward'], crossbar(32, { kind: 'fcm', refresh: 5, backward: 'transposed' }, wires)));
  const none = await run(experiment('exact', ['forward', 'backward'], crossbar(32, { kind: 'none' }, wires)));
  assert.notDeepEqual(r.weights!['fc1/weight'], none.weights!['fc1/weight']);
  // 10 steps on 320 images: both well above chance, within a few points of each other.
  assert.ok(none.final.testAccuracy > 0.35 && r.final.testAccuracy > 0.35, `accuracy ${r.final.testAccuracy} (no parasitics ${none.final.testAccuracy})`);
  assert.ok(Math.abs(r.final.testAccuracy - none.final.testAccuracy) < 0.15, `accuracy ${r.final.testAccuracy} vs ${none.final.testAccuracy}`);
  for (const l of r.layers!) {
    const p = l['parasitics'] as ParStats;
    assert.equal(p.trainRefreshes, 2);
    assert.ok(p.meanDistortion! > 0.01, `${l.name}: mean D ${p.meanDistortion}`);
  }
});

test('fast fidelity under FCM (backward = transposed): runtime-programmed folded matrices follow in-graph programming; D is kept between refreshes', async () => {
  const wires = { row: 2.5, col: 2.5, source: 500, sense: 100 };
  const exp = experiment('fast', ['forward', 'backward'], crossbar(32, { kind: 'fcm', refresh: 3, backward: 'transposed' }, wires, {}));
  exp.crossbars['xb']!.device.d2dSigma = 0.03;
  cached ??= await loadDataset(exp.data, exp.seed);
  const d = cached;
  const out: { w: Record<string, Float32Array>; refreshes: number }[] = [];
  for (const programming of ['fed', 'graph'] as const) {
    const xb = CrossbarRuntime.create(exp, { threads: 1 }, { programming })!;
    const t = await Trainer.create(exp, { threads: 1, mvm: xb.trainSelector, evalMvm: xb.evalSelector, sideFeeds: xb.sideFeeds });
    xb.setWeightSource((layer) => t.peekState(`${layer}/weight`));
    try {
      for (let s = 0; s < 5; s++) await t.step(d.train.x.subarray(s * 32 * 784, (s + 1) * 32 * 784), d.train.y.subarray(s * 32, (s + 1) * 32), 0.05);
      out.push({ w: t.getWeights(), refreshes: xb.trainRefreshes('fc1') });
    } finally {
      await t.release();
      await xb.release();
    }
  }
  // 5 batches at refresh 3: solves before batches 1 and 4.
  assert.deepEqual(
    out.map((o) => o.refreshes),
    [2, 2],
  );
  for (const name of ['conv1/weight', 'fc1/weight']) {
    const [a, b] = [out[0]!.w[name]!, out[1]!.w[name]!];
    let num = 0,
      den = 0;
    for (let i = 0; i < a.length; i++) {
      num += (a[i]! - b[i]!) ** 2;
      den += b[i]! ** 2;
    }
    assert.ok(Math.sqrt(num / den) < 1e-3, `${name}: relative difference ${Math.sqrt(num / den)}`);
  }
});
