/**
 * train.init: the drawn initial weights against the closed forms of their distributions
 * (uniform on L evenly spaced levels: mean 0, variance limit²·(L + 1)/(3·(L − 1)); continuous
 * uniform: variance limit²/3; He-normal: variance 2/fan_in), reproducible by seed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drawWeights } from '../../src/runtime/engine/init.js';
import { Rng } from '../../src/runtime/rng.js';
import type { WeightInit } from '../../src/model/plan.js';

const N = 70000;
const draw = (init: WeightInit, seed = 5, fanIn = 400): Float32Array => drawWeights(new Float32Array(N), init, fanIn, new Rng(seed, 'init/fc1'));

function moments(a: Float32Array): { mean: number; variance: number } {
  let s = 0;
  let q = 0;
  for (const v of a) {
    s += v;
    q += v * v;
  }
  const mean = s / a.length;
  return { mean, variance: q / a.length - mean * mean };
}

test("uniform(limit = 1, levels = 7): NeuroSim's (rand() % 7 − 3)/3, every level equally likely", () => {
  const w = draw({ kind: 'uniform', limit: 1, levels: 7 });
  const counts = new Map<number, number>();
  for (const v of w) {
    const j = Math.round((v + 1) * 3);
    assert.ok(Math.abs(v - (j / 3 - 1)) < 1e-6, `${v} is not a level k/3`);
    counts.set(j, (counts.get(j) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort(), [0, 1, 2, 3, 4, 5, 6]);
  // χ² with 6 degrees of freedom: 22.5 is its 0.999 quantile.
  const expected = N / 7;
  const chi2 = [...counts.values()].reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  assert.ok(chi2 < 22.5, `χ² = ${chi2}`);
  const { mean, variance } = moments(w);
  // Discrete uniform on 7 levels in [−1, 1]: variance (L + 1)/(3(L − 1)) = 4/9 (σ ≈ 0.667).
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(variance - 4 / 9) < 0.01, `variance ${variance}`);
  assert.deepEqual(w, draw({ kind: 'uniform', limit: 1, levels: 7 }), 'same seed, same weights');
  assert.notDeepEqual(w, draw({ kind: 'uniform', limit: 1, levels: 7 }, 6));
});

test('uniform(limit) on a continuum and he_normal against their variances', () => {
  const u = draw({ kind: 'uniform', limit: 0.5 });
  assert.ok(u.every((v) => v >= -0.5 && v <= 0.5));
  assert.ok(new Set(u).size > N / 2, 'a continuum, not a few levels');
  assert.ok(Math.abs(moments(u).variance - 0.25 / 3) < 0.003);
  const two = draw({ kind: 'uniform', limit: 2, levels: 2 });
  assert.ok(two.every((v) => v === -2 || v === 2));
  const h = draw({ kind: 'he_normal' }, 5, 50);
  assert.ok(Math.abs(moments(h).variance - 2 / 50) < 0.002);
});
