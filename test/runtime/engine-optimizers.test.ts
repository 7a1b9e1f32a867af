/**
 * Optimizer updates against hand-computed float64 updates from the engine's own gradients
 * (sgd, momentum, nesterov, adam, weight decay on weights only), batchnorm running statistics
 * and eval mode, and the learning-rate schedule.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Optimizer, PlanTrain } from '../../src/model/plan.js';
import { adam, batchnorm, buildNetwork, dense, mnistExperiment, relu, sgd } from '../support/plan-builder.js';
import { learningRate } from '../../src/runtime/engine/run-experiment.js';
import { Trainer } from '../../src/runtime/engine/trainer.js';
import { Rng } from '../../src/runtime/rng.js';
import { finiteDifference, forwardRef, lossRef, toF64, type Params } from '../reference/float64-net.js';

const net = buildNetwork('opt', [4], 3, [
  { name: 'fc1', op: dense(5) },
  { name: 'bn', op: batchnorm(0.1) },
  { name: 'relu', op: relu() },
  { name: 'fc2', op: dense(3) },
]);

function batch(seed: number, n: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(seed, 'test/optimizer-batch');
  return { x: rng.fillNormal(new Float32Array(n * 4)), y: Int32Array.from({ length: n }, () => rng.int(3)) };
}

/** One reference update of every parameter (PyTorch semantics) in float64. */
function referenceUpdate(opt: Optimizer, w: Params, slots: Params, grads: Record<string, Float32Array>, decays: Set<string>, lr: number, t: number): void {
  for (const [name, g32] of Object.entries(grads)) {
    const p = w[name]!;
    const m = (slots[`${name}/m`] ??= new Float64Array(p.length));
    const v = (slots[`${name}/v`] ??= new Float64Array(p.length));
    for (let i = 0; i < p.length; i++) {
      const g = g32[i]! + (decays.has(name) ? opt.weightDecay * p[i]! : 0);
      if (opt.kind === 'adam') {
        m[i] = opt.beta1 * m[i]! + (1 - opt.beta1) * g;
        v[i] = opt.beta2 * v[i]! + (1 - opt.beta2) * g * g;
        const mHat = m[i]! / (1 - opt.beta1 ** t);
        const vHat = v[i]! / (1 - opt.beta2 ** t);
        p[i] = p[i]! - (lr * mHat) / (Math.sqrt(vHat) + opt.epsilon);
      } else if (opt.momentum === 0) {
        p[i] = p[i]! - lr * g;
      } else {
        m[i] = opt.momentum * m[i]! + g;
        p[i] = p[i]! - lr * (opt.nesterov ? g + opt.momentum * m[i]! : m[i]!);
      }
    }
  }
}

async function checkOptimizer(opt: Optimizer): Promise<void> {
  const exp = mnistExperiment({ network: net, train: { epochs: 1, batch: 6, optimizer: opt }, seed: 5 });
  const trainer = await Trainer.create(exp, { threads: 1 });
  try {
    const decays = new Set(
      trainer
        .describeState()
        .params.filter((p) => p.decay)
        .map((p) => p.name),
    );
    assert.deepEqual([...decays].sort(), ['fc1/weight', 'fc2/weight'], 'weight decay applies to weights only');
    const { x, y } = batch(1, 6);
    const expected: Params = {};
    for (const [k, v] of Object.entries(trainer.getWeights())) expected[k] = toF64(v);
    const slots: Params = {};
    const lrs = [0.1, 0.05, 0.02]; // a different lr per step: fed as an input, no rebuild
    for (let t = 1; t <= lrs.length; t++) {
      const { grads } = await trainer.gradients(x, y);
      referenceUpdate(opt, expected, slots, grads, decays, lrs[t - 1]!, t);
      await trainer.step(x, y, lrs[t - 1]!);
      // Keep the reference on the engine's float32 trajectory so errors do not compound.
      const actual = trainer.getWeights();
      for (const name of Object.keys(grads)) {
        const a = actual[name]!;
        const e = expected[name]!;
        for (let i = 0; i < a.length; i++) {
          assert.ok(Math.abs(a[i]! - e[i]!) <= 2e-6 * (1 + Math.abs(e[i]!)), `${opt.kind} step ${t} ${name}[${i}]: engine ${a[i]} vs reference ${e[i]}`);
        }
        expected[name] = toF64(a);
      }
    }
  } finally {
    await trainer.release();
  }
}

// Plain SGD: the dense weights' step is the one Gemm W + xᵀ·(−lr·δ) (graphs.ts fusedSgdStep).
test('plain SGD', () => checkOptimizer(sgd(0.1)));
test('plain SGD with weight decay', () => checkOptimizer(sgd(0.1, 0, false, 0.01)));
test('momentum SGD', () => checkOptimizer(sgd(0.1, 0.9)));
test('nesterov momentum SGD with weight decay', () => checkOptimizer(sgd(0.1, 0.9, true, 5e-4)));
test('adam, bias-corrected, with weight decay', () => checkOptimizer(adam(0.01, 1e-3)));

test('batchnorm updates running statistics (unbiased variance) and eval mode uses them', async () => {
  const bnNet = buildNetwork('bn', [3], 2, [
    { name: 'bn', op: batchnorm(0.2, 1e-5) },
    { name: 'fc', op: dense(2) },
  ]);
  const trainer = await Trainer.create(mnistExperiment({ network: bnNet, train: { epochs: 1, batch: 5, optimizer: sgd(0.1) } }), { threads: 1 });
  try {
    const rng = new Rng(9, 'test/bn');
    const n = 5;
    const x = rng.fillNormal(new Float32Array(n * 3), 2, 3);
    const y = Int32Array.from({ length: n }, () => rng.int(2));
    await trainer.step(x, y, 0.1);
    const w = trainer.getWeights();
    for (let c = 0; c < 3; c++) {
      const col = Array.from({ length: n }, (_, s) => x[s * 3 + c]!);
      const mean = col.reduce((a, b) => a + b, 0) / n;
      const unbiased = col.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
      assert.ok(Math.abs(w['bn/running_mean']![c]! - 0.2 * mean) < 1e-5, `running mean channel ${c}`);
      assert.ok(Math.abs(w['bn/running_var']![c]! - (0.8 + 0.2 * unbiased)) < 1e-5, `running var channel ${c}`);
    }
    const params: Params = Object.fromEntries(Object.entries(w).map(([k, v]) => [k, toF64(v)]));
    const expected = lossRef(bnNet, params, toF64(x), y, 'eval') * n;
    const { lossSum } = await trainer.evaluate(x, y);
    assert.ok(Math.abs(lossSum - expected) < 1e-5 * Math.max(1, expected), `eval loss sum ${lossSum} vs reference ${expected}`);
  } finally {
    await trainer.release();
  }
});

test('learning-rate schedules', () => {
  const train = (schedule: PlanTrain['schedule']): PlanTrain => ({
    epochs: 10,
    batch: 8,
    optimizer: sgd(0.1),
    nonideal: [],
    schedule,
    sampling: 'shuffle',
    init: { kind: 'he_normal' },
    loss: 'cross_entropy',
    headroom: 1,
    programOffset: 0,
  });
  assert.equal(learningRate(train({ kind: 'constant' }), 7), 0.1);
  assert.ok(Math.abs(learningRate(train({ kind: 'step', stepEpochs: 3, gamma: 0.5 }), 4) - 0.05) < 1e-15);
  assert.ok(Math.abs(learningRate(train({ kind: 'step', stepEpochs: 3, gamma: 0.5 }), 7) - 0.025) < 1e-15);
  assert.equal(learningRate(train({ kind: 'cosine' }), 1), 0.1);
  assert.ok(Math.abs(learningRate(train({ kind: 'cosine' }), 6) - 0.05) < 1e-12);
});

/** NeuroSim's output loss in float64: Σ_samples Σ_j (y_j − σ(z_j))² over the batch size. */
function squaredErrorRef(netRef: typeof net, params: Params, x: Float64Array, y: Int32Array): number {
  const z = forwardRef(netRef, params, x, y.length, 'train');
  let s = 0;
  for (let b = 0; b < y.length; b++)
    for (let j = 0; j < 3; j++) {
      const a = 1 / (1 + Math.exp(-z[b * 3 + j]!));
      s += ((j === y[b] ? 1 : 0) - a) ** 2;
    }
  return s / y.length;
}

test('train.loss = squared_error: loss and gradients against a float64 reference and finite differences; lr_scale scales each layer’s step', async () => {
  const exp = mnistExperiment({ network: net, train: { epochs: 1, batch: 6, optimizer: sgd(0.1) }, seed: 5 });
  exp.train!.loss = 'squared_error';
  exp.train!.lrScale = { fc1: 1, fc2: 0.5 };
  const trainer = await Trainer.create(exp, { threads: 1 });
  try {
    const { x, y } = batch(2, 6);
    const params: Params = Object.fromEntries(Object.entries(trainer.getWeights()).map(([k, v]) => [k, toF64(v)]));
    const { loss, grads } = await trainer.gradients(x, y);
    const want = squaredErrorRef(net, params, toF64(x), y);
    assert.ok(Math.abs(loss - want) < 1e-5 * (1 + want), `loss ${loss} vs reference ${want}`);
    for (const name of ['fc1/weight', 'fc2/weight', 'fc2/bias']) {
      const fd = finiteDifference(() => squaredErrorRef(net, params, toF64(x), y), params[name]!);
      for (let i = 0; i < fd.length; i++)
        assert.ok(Math.abs(grads[name]![i]! - fd[i]!) < 1e-4 * (1 + Math.abs(fd[i]!)), `${name}[${i}]: ${grads[name]![i]} vs ${fd[i]}`);
    }
    const before = trainer.getWeights();
    await trainer.step(x, y, 0.1);
    const after = trainer.getWeights();
    for (const [name, factor] of [
      ['fc1/weight', 1],
      ['fc1/bias', 1],
      ['fc2/weight', 0.5],
      ['fc2/bias', 0.5],
    ] as const) {
      for (let i = 0; i < after[name]!.length; i++) {
        const step = before[name]![i]! - 0.1 * factor * grads[name]![i]!;
        assert.ok(Math.abs(after[name]![i]! - step) < 2e-6 * (1 + Math.abs(step)), `${name}[${i}]: ${after[name]![i]} vs ${step} (lr × ${factor})`);
      }
    }
    const { lossSum } = await trainer.evaluate(x, y);
    assert.ok(lossSum > 0, 'evaluation sums the squared error');
  } finally {
    await trainer.release();
  }
});
