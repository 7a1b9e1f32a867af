/**
 * The training loop end to end: determinism, divergence detection, variable last batch,
 * inference-only runs, abort, the worker thread, and a short real-data MNIST run.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PlanExperiment } from '../../src/model/plan.js';
import { loadDataset, type Dataset } from '../../src/runtime/data/index.js';
import { XbarcRuntimeError } from '../../src/model/errors.js';
import { batchnorm, buildNetwork, conv, dense, flatten, maxpool, mlp, mnistExperiment, relu, sgd } from '../support/plan-builder.js';
import { runExperiment, runExperimentInWorker, type Progress } from '../../src/runtime/engine/run-experiment.js';
import { Trainer } from '../../src/runtime/engine/trainer.js';
import { Rng } from '../../src/runtime/rng.js';

async function mnist(exp: PlanExperiment): Promise<Dataset> {
  return loadDataset(exp.data, exp.seed);
}

const smallConv = buildNetwork('smallConv', [1, 28, 28], 10, [
  { name: 'conv1', op: conv(4, 5, 2, 2) },
  { name: 'bn1', op: batchnorm() },
  { name: 'relu1', op: relu() },
  { name: 'pool1', op: maxpool(2) },
  { name: 'flatten', op: flatten() },
  { name: 'fc', op: dense(10) },
]);

async function trainSteps(seed: number, steps: number): Promise<Record<string, Float32Array>> {
  const exp = mnistExperiment({ network: smallConv, train: { epochs: 1, batch: 16, optimizer: sgd(0.05, 0.9) }, seed });
  const trainer = await Trainer.create(exp);
  try {
    const rng = new Rng(1, 'test/determinism-data');
    for (let s = 0; s < steps; s++) {
      const x = rng.fillNormal(new Float32Array(16 * 784));
      const y = Int32Array.from({ length: 16 }, () => rng.int(10));
      await trainer.step(x, y, 0.05);
    }
    return trainer.getWeights();
  } finally {
    await trainer.release();
  }
}

test('same seed gives bitwise identical weights after N steps; another seed does not', async () => {
  const a = await trainSteps(7, 5);
  const b = await trainSteps(7, 5);
  const c = await trainSteps(8, 5);
  for (const name of Object.keys(a)) {
    assert.deepEqual(new Uint32Array(a[name]!.buffer), new Uint32Array(b[name]!.buffer), `${name} differs between identical runs`);
  }
  assert.notDeepEqual(a['conv1/weight'], c['conv1/weight']);
});

test('divergence throws XbarcRuntimeError naming the layer and the step', async () => {
  const exp = mnistExperiment({ network: mlp([32]), train: { epochs: 1, batch: 50, optimizer: sgd(1e30) }, mnist: { train: 500, test: 100 } });
  const data = await mnist(exp);
  await assert.rejects(runExperiment(exp, data), (err: unknown) => {
    assert.ok(err instanceof XbarcRuntimeError);
    assert.equal(err.code, 'engine/non-finite');
    assert.match(err.message, /layer "fc\d"/);
    assert.match(err.message, /step \d+/);
    assert.match(err.message, /epoch 1, batch \d+/);
    return true;
  });
});

test('the short last batch is trained on; inference-only experiments just evaluate', async () => {
  const exp = mnistExperiment({
    network: mlp([16]),
    train: { epochs: 1, batch: 64, optimizer: sgd(0.1, 0.9) },
    mnist: { train: 500, test: 200 },
    evalBatch: 64,
  });
  const data = await mnist(exp);
  const trained = await runExperiment(exp, data);
  assert.equal(trained.steps, Math.ceil(500 / 64));
  assert.equal(trained.epochs.length, 1);
  const { train: _omit, ...inferenceOnly } = exp;
  const evaluated = await runExperiment(inferenceOnly, data);
  assert.equal(evaluated.steps, 0);
  assert.deepEqual(evaluated.epochs, []);
  assert.ok(evaluated.final.testAccuracy >= 0 && evaluated.final.testAccuracy <= 1);
  assert.ok(Number.isFinite(evaluated.final.testLoss));
});

test('an aborted run rejects with engine/aborted', async () => {
  const exp = mnistExperiment({ network: mlp([16]), train: { epochs: 3, batch: 32, optimizer: sgd(0.1) }, mnist: { train: 500, test: 100 } });
  const data = await mnist(exp);
  const controller = new AbortController();
  const run = runExperiment(exp, data, { signal: controller.signal, onProgress: (p) => p.batch >= 3 && controller.abort() });
  await assert.rejects(run, (err: unknown) => err instanceof XbarcRuntimeError && err.code === 'engine/aborted');
});

test('MLP on 2,000 real MNIST digits reaches > 85 % after one epoch; worker run is identical', async () => {
  const exp = mnistExperiment({ network: mlp([128]), train: { epochs: 1, batch: 16, optimizer: sgd(0.01, 0.9) }, mnist: { train: 2000, test: 1000 } });
  const data = await mnist(exp);
  const progress: Progress[] = [];
  const local = await runExperiment(exp, data, { onProgress: (p) => progress.push(p) });
  assert.ok(local.final.testAccuracy > 0.85, `test accuracy ${local.final.testAccuracy}`);
  assert.ok(local.epochs[0]!.trainLoss < 1, `train loss ${local.epochs[0]!.trainLoss}`);
  // Progress comes once per run of the training loop (several small batches per run: Trainer.steps), up to the last batch.
  const trainTicks = progress.filter((p) => p.phase === 'train').map((p) => p.batch);
  assert.ok(trainTicks.length > 1 && trainTicks.every((b, i) => i === 0 || b > trainTicks[i - 1]!), `progress batches ${trainTicks.join(', ')}`);
  assert.equal(trainTicks[trainTicks.length - 1], Math.ceil(2000 / 16));

  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const workerProgress: Progress[] = [];
  const remote = await runExperimentInWorker(exp, data, { onProgress: (p) => workerProgress.push(p) }).finally(() => clearInterval(timer));
  assert.deepEqual(
    remote.epochs.map(({ seconds: _s, ...e }) => e),
    local.epochs.map(({ seconds: _s, ...e }) => e),
  );
  assert.equal(workerProgress.length, progress.length);
  assert.ok(ticks > 0, 'the main thread stayed responsive while the worker trained');
});
