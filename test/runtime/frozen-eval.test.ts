/**
 * Evaluation with the weights frozen into the graph (engine/frozen-eval.ts): the same loss as the
 * float64 reference on running statistics and as the trainer's graph, one graph per set of
 * weights, the crossbar's per-run read noise still fed (and from the same streams), reproducible
 * runs, and the rule that decides when freezing pays.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withMerges } from '../../src/compiler/merges.js';
import { sideName } from '../../src/runtime/crossbar/emitter.js';
import { CrossbarRuntime } from '../../src/runtime/crossbar/runtime.js';
import type { PlanNetwork } from '../../src/model/plan.js';
import { loadDataset } from '../../src/runtime/data/index.js';
import { FREEZE_MIN_FLOPS, freezingPays, FrozenEvaluation } from '../../src/runtime/engine/frozen-eval.js';
import { runExperiment } from '../../src/runtime/engine/run-experiment.js';
import { sessionOptions } from '../../src/runtime/engine/session.js';
import { Trainer } from '../../src/runtime/engine/trainer.js';
import { Rng } from '../../src/runtime/rng.js';
import { lossRef, toF64, type Params } from '../reference/float64-net.js';
import { tinyExperiment } from '../reference/grad-check.js';
import { gradientNets } from '../support/gradient-nets.js';
import { lenet5, mlp } from '../support/plan-builder.js';
import { planCrossbar, smallCrossbarExperiment } from './crossbar-helpers.js';

/** A trainer at seeded weights with randomized batchnorm running statistics (so that folding them matters). */
async function setup(net: PlanNetwork, batch: number): Promise<{ trainer: Trainer; x: Float32Array; y: Int32Array }> {
  const rng = new Rng(7, 'test/frozen-eval');
  const x = rng.fillNormal(new Float32Array(batch * net.inputShape.reduce((a, b) => a * b, 1)));
  const y = Int32Array.from({ length: batch }, () => rng.int(net.classes));
  const trainer = await Trainer.create(tinyExperiment(net, 5), { threads: 1 });
  const over: Record<string, Float32Array> = {};
  for (const b of trainer.describeState().buffers) {
    const n = b.dims.reduce((a, c) => a * c, 1);
    over[b.name] = Float32Array.from({ length: n }, () => (b.role === 'running_var' ? 0.5 + rng.uniform() : rng.normal() * 0.3));
  }
  trainer.setState(over);
  return { trainer, x, y };
}

const params64 = (trainer: Trainer): Params => Object.fromEntries(Object.entries(trainer.getWeights()).map(([k, v]) => [k, toF64(v)]));

for (const name of ['batchnorm', 'residual']) {
  test(`frozen evaluation of ${name}: the float64 reference's loss, the trainer's within float32 rounding, one graph per set of weights`, async () => {
    const net = gradientNets[name]!;
    const { trainer, x, y } = await setup(net, 6);
    const frozen = new FrozenEvaluation(trainer, { when: 'always', engine: { threads: 1 } });
    try {
      const r = await (await frozen.begin(6)).evaluate(x, y);
      const ref = lossRef(net, params64(trainer), toF64(x), y, 'eval');
      assert.ok(Math.abs(r.lossSum / 6 - ref) < 1e-5, `${name}: frozen ${r.lossSum / 6} vs float64 ${ref}`);
      const unfrozen = await trainer.evaluate(x, y);
      assert.ok(Math.abs(r.lossSum - unfrozen.lossSum) <= 1e-5 * Math.abs(unfrozen.lossSum), `${r.lossSum} vs ${unfrozen.lossSum}`);
      assert.equal(r.correct, unfrozen.correct);
      assert.equal(r.count, 6);
      // The same weights: the graph is kept; a training step changes them: a new graph, at the new weights.
      await frozen.begin(6);
      assert.equal(frozen.builds, 1);
      await trainer.step(x, y, 0.1);
      const after = await (await frozen.begin(6)).evaluate(x, y);
      assert.equal(frozen.builds, 2);
      const refAfter = lossRef(net, params64(trainer), toF64(x), y, 'eval');
      assert.ok(Math.abs(refAfter - ref) > 1e-4, 'the step moved the loss');
      assert.ok(Math.abs(after.lossSum / 6 - refAfter) < 1e-5, `after the step: ${after.lossSum / 6} vs ${refAfter}`);
      // The state changed in place would be seen as well (the values are compared, not the arrays).
      const w = trainer.peekState('conv1/weight')!;
      w[0] = w[0]! + 0.5;
      await frozen.begin(6);
      assert.equal(frozen.builds, 3);
    } finally {
      await frozen.release();
      await trainer.release();
    }
  });
}

test('frozen evaluation refuses a batch whose inputs do not match its labels', async () => {
  const { trainer, x, y } = await setup(gradientNets['batchnorm']!, 4);
  const frozen = new FrozenEvaluation(trainer, { when: 'always', engine: { threads: 1 } });
  try {
    const ev = await frozen.begin(4);
    await assert.rejects(ev.evaluate(x.subarray(1), y), /batch of 4 labels but 199 input values/);
  } finally {
    await frozen.release();
    await trainer.release();
  }
});

test('freezing pays from FREEZE_MIN_FLOPS of forward passes; the trainer graph evaluates below it', async () => {
  const flops = (net: PlanNetwork): number => net.layers.reduce((s, l) => s + l.flopsPerSample, 0);
  const lenet = lenet5();
  const enough = Math.ceil(FREEZE_MIN_FLOPS / flops(lenet));
  assert.equal(freezingPays(lenet, enough), true);
  assert.equal(freezingPays(lenet, enough - 1), false);
  assert.ok(enough > 500, `a LeNet-5 evaluation freezes only from ${enough} samples`);
  assert.equal(freezingPays(mlp([256, 128]), 1000), false);
  const { trainer } = await setup(gradientNets['batchnorm']!, 1);
  const frozen = new FrozenEvaluation(trainer, { engine: { threads: 1 } });
  try {
    assert.equal(await frozen.begin(10), trainer, 'a tiny evaluation keeps the trainer graph');
    assert.equal(frozen.builds, 0);
  } finally {
    await trainer.release();
  }
});

test("frozen graphs' sessions run at optimization level 'all', the others at 'extended'", () => {
  assert.equal(sessionOptions({ threads: 2, spin: false }).graphOptimizationLevel, 'extended');
  assert.equal(sessionOptions({ threads: 2, spin: false }, { constantWeights: true }).graphOptimizationLevel, 'all');
});

test('crossbar with read noise: frozen evaluation still draws the noise per run, matches the unfrozen run and is reproducible', async () => {
  const exp = withMerges(smallCrossbarExperiment('fast', ['forward', 'backward'], planCrossbar({}, { readNoise: 0.05 }), { train: 256, test: 300 }));
  const data = await loadDataset(exp.data, exp.seed);
  const run = (frozenEvaluation: boolean) => runExperiment(exp, data, { trainer: { threads: 1 }, frozenEvaluation });
  const frozen = await run(true);
  const again = await run(true);
  const plain = await run(false);
  assert.deepEqual(again.final, frozen.final, 'same spec and seed: the same numbers');
  // Float32 rounding may move an ADC read on a level boundary: the accuracy within a sample, the loss close.
  assert.ok(Math.abs(frozen.final.testAccuracy - plain.final.testAccuracy) <= 1 / 300 + 1e-12, `${frozen.final.testAccuracy} vs ${plain.final.testAccuracy}`);
  assert.ok(Math.abs(frozen.final.testLoss - plain.final.testLoss) < 1e-3 * plain.final.testLoss, `${frozen.final.testLoss} vs ${plain.final.testLoss}`);
});

test('crossbar: the programmed devices and ranges are frozen in, the read noise stays a per-run input', async () => {
  const exp = withMerges(smallCrossbarExperiment('fast', ['forward', 'backward'], planCrossbar({}, { readNoise: 0.05 }), { train: 64, test: 64 }));
  const data = await loadDataset(exp.data, exp.seed);
  const xb = CrossbarRuntime.create(exp, { threads: 1 })!;
  const trainer = await Trainer.create(exp, { threads: 1, mvm: xb.trainSelector, evalMvm: xb.evalSelector, sideFeeds: xb.sideFeeds });
  xb.setWeightSource((layer) => trainer.peekState(`${layer}/weight`));
  const frozen = new FrozenEvaluation(trainer, { mvm: xb.evalSelector, sideFeeds: xb.sideFeeds, when: 'always', engine: { threads: 1 } });
  try {
    await xb.calibrate(trainer, data.train.x.subarray(0, 32 * 784), data.train.y.subarray(0, 32));
    await frozen.begin(64);
    assert.deepEqual([...frozen.inputNames()].sort(), ['labels', sideName('conv1', 'noise'), sideName('fc1', 'noise'), 'x'].sort());
    // New ranges (another calibration batch) are new frozen values: a new graph.
    await xb.calibrate(trainer, data.train.x.subarray(32 * 784, 64 * 784), data.train.y.subarray(32, 64));
    await frozen.begin(64);
    assert.equal(frozen.builds, 2);
  } finally {
    await frozen.release();
    await trainer.release();
    await xb.release();
  }
});
