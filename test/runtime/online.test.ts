/**
 * Online learning (batch 1) fast paths give the bits of the plain per-step loop:
 *  - Trainer.steps (K steps in one run of the Loop graph, steps-graph.ts) against K Trainer.step
 *    calls, for plain, momentum/Nesterov/weight-decay SGD, Adam and batchnorm buffers, at batch 1
 *    and 3; the training loop (chunk boundaries, short last batch) against a hand-written loop;
 *    divergence inside a chunk reports the step a plain loop reports;
 *  - DeviceUpdater.update given the dense layers' inputs (only rows with a non-zero input are
 *    scanned) against the full scan, with the NeuroSim pulse model (random draws per pulse) at
 *    batch 1 and 2, and the whole fast-fidelity run (crossbar forward/backward) against the same
 *    loop written out without the layer inputs.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NonidealStage, Optimizer, PlanExperiment, PlanNetwork } from '../../src/model/plan.js';
import type { UpdateModelSpec } from '../../src/model/crossbar.js';
import { epochOrder, gatherBatch, loadDataset, type Dataset } from '../../src/runtime/data/index.js';
import { XbarcRuntimeError } from '../../src/model/errors.js';
import { CrossbarRuntime } from '../../src/runtime/crossbar/runtime.js';
import { DeviceUpdater } from '../../src/runtime/devices/training.js';
import { runExperiment } from '../../src/runtime/engine/run-experiment.js';
import { Trainer } from '../../src/runtime/engine/trainer.js';
import { adam, batchnorm, buildNetwork, dense, flatten, mlp, mnistExperiment, relu, sgd } from '../support/plan-builder.js';
import { planCrossbar } from './crossbar-helpers.js';

const SAMPLES = 200;
const TAOX: UpdateModelSpec = { kind: 'nonlinear', ltp: 0.04, ltd: -0.63, c2c: 0.037, d2d: 0 };

const withBatchnorm = (): PlanNetwork =>
  buildNetwork('mlp-bn', [1, 28, 28], 10, [
    { name: 'flatten', op: flatten() },
    { name: 'fc1', op: dense(24) },
    { name: 'bn1', op: batchnorm() },
    { name: 'relu1', op: relu() },
    { name: 'fc2', op: dense(10) },
  ]);

/** Pixels in [0, 1], as in NeuroSim: most inputs are exactly 0. */
function experiment(network: PlanNetwork, optimizer: Optimizer, batch: number): PlanExperiment {
  const exp = mnistExperiment({ network, train: { epochs: 1, batch, optimizer }, mnist: { train: SAMPLES, test: 20 }, evalBatch: 20 });
  exp.data.normalize = { mean: 0, std: 1 };
  return exp;
}

const datasets = new Map<string, Dataset>();
async function data(exp: PlanExperiment): Promise<Dataset> {
  const key = JSON.stringify([exp.data, exp.seed]);
  if (!datasets.has(key)) datasets.set(key, await loadDataset(exp.data, exp.seed));
  return datasets.get(key)!;
}

function assertSameBits(a: Record<string, Float32Array>, b: Record<string, Float32Array>, what: string): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  for (const name of Object.keys(a)) assert.deepEqual(new Uint32Array(a[name]!.buffer), new Uint32Array(b[name]!.buffer), `${what}: ${name} differs`);
}

/** `count` samples from the start of the training split, as K batches of `batch`. */
function firstSamples(d: Dataset, count: number): { x: Float32Array; y: Int32Array } {
  return { x: d.train.x.subarray(0, count * 784), y: d.train.y.subarray(0, count) };
}

const cases: { name: string; network: () => PlanNetwork; optimizer: Optimizer; batch: number }[] = [
  { name: 'SGD, batch 1', network: () => mlp([32]), optimizer: sgd(0.05), batch: 1 },
  { name: 'Nesterov SGD with weight decay, batch 3', network: () => mlp([32]), optimizer: sgd(0.05, 0.9, true, 1e-3), batch: 3 },
  { name: 'Adam, batch 1', network: () => mlp([32]), optimizer: adam(1e-3), batch: 1 },
  { name: 'momentum SGD with batchnorm, batch 3', network: withBatchnorm, optimizer: sgd(0.05, 0.9), batch: 3 },
];

for (const c of cases) {
  test(`Trainer.steps: K steps in one run give the bits of K step() calls (${c.name})`, async () => {
    const exp = experiment(c.network(), c.optimizer, c.batch);
    const d = await data(exp);
    const chunked = await Trainer.create(exp, { threads: 1 });
    const plain = await Trainer.create(exp, { threads: 1 });
    try {
      assert.ok(chunked.chunked(), 'an ideal train graph runs its steps as one chunk');
      const steps = 40;
      const { x, y } = firstSamples(d, steps * c.batch);
      const per = c.batch * 784;
      const losses: number[] = [];
      const corrects: number[] = [];
      for (let s = 0; s < steps; s++) {
        const r = await plain.step(x.subarray(s * per, (s + 1) * per), y.subarray(s * c.batch, (s + 1) * c.batch), 0.05);
        losses.push(r.loss);
        corrects.push(r.correct);
      }
      // Two chunks of different lengths: the state carries over between runs as between steps.
      const a = await chunked.steps(x.subarray(0, 25 * per), y.subarray(0, 25 * c.batch), c.batch, 0.05);
      const b = await chunked.steps(x.subarray(25 * per), y.subarray(25 * c.batch), c.batch, 0.05);
      assert.deepEqual([...a.losses, ...b.losses], [...Float32Array.from(losses)]);
      assert.deepEqual([...a.corrects, ...b.corrects], corrects);
      assert.equal(chunked.stepCount, steps);
      assertSameBits(chunked.getState(), plain.getState(), c.name);
    } finally {
      await chunked.release();
      await plain.release();
    }
  });
}

test('the training loop at batch 3 (chunks, then the short last batch) trains as the plain loop does', async () => {
  // 200 samples: 66 batches of 3 in chunks of 21, 21, 21 and 3, then a batch of 2.
  const exp = experiment(mlp([32]), sgd(0.05, 0.9), 3);
  const d = await data(exp);
  const outcome = await runExperiment(exp, d, { trainer: { threads: 1 }, returnWeights: true });
  const trainer = await Trainer.create(exp, { threads: 1 });
  try {
    const order = epochOrder(SAMPLES, exp.seed, 1);
    let lossSum = 0;
    for (let b = 0; b * 3 < SAMPLES; b++) {
      const batch = gatherBatch(d.train, order, b * 3, 3);
      lossSum += (await trainer.step(batch.x, batch.y, 0.05)).loss * batch.count;
    }
    assert.equal(outcome.steps, Math.ceil(SAMPLES / 3));
    assert.equal(outcome.epochs[0]!.trainLoss, lossSum / SAMPLES);
    assertSameBits(outcome.weights!, trainer.getWeights(), 'training loop');
  } finally {
    await trainer.release();
  }
});

test('divergence inside a chunk names the step (and, in the training loop, the batch) a plain loop names', async () => {
  const exp = experiment(mlp([16]), sgd(1e30), 1);
  const d = await data(exp);
  const { x, y } = firstSamples(d, 30);
  const message = async (run: (t: Trainer) => Promise<unknown>): Promise<string> => {
    const t = await Trainer.create(exp, { threads: 1 });
    try {
      await run(t);
    } catch (err) {
      assert.ok(err instanceof XbarcRuntimeError && err.code === 'engine/non-finite', String(err));
      return err.message;
    } finally {
      await t.release();
    }
    assert.fail('training did not diverge');
  };
  const plain = await message(async (t) => {
    for (let s = 0; s < 30; s++) await t.step(x.subarray(s * 784, (s + 1) * 784), y.subarray(s, s + 1), 1e30);
  });
  const chunked = await message((t) => t.steps(x, y, 1, 1e30));
  assert.equal(chunked, plain);
  const step = Number(/at step (\d+)/.exec(plain)![1]);
  assert.ok(step > 1, `diverged at step ${step}: inside the chunk, not at its first step`);
  await assert.rejects(runExperiment(exp, d, { trainer: { threads: 1 } }), (err: unknown) => {
    assert.ok(err instanceof XbarcRuntimeError);
    assert.match(err.message, new RegExp(`at step ${step}: .*\\(epoch 1, batch ${step}, lr 1e\\+30\\)`));
    return true;
  });
});

/** A fast-fidelity MLP on crossbars, trained at plain SGD through the NeuroSim pulse model. */
function deviceExperiment(batch: number): PlanExperiment {
  const exp = experiment(mlp([32]), sgd(0.05), batch);
  for (const l of exp.network.layers) if (l.mapping) Object.assign(l.mapping, { target: 'crossbar', crossbar: 'xb' });
  exp.fidelity = 'fast';
  exp.crossbars = { xb: planCrossbar({}, { levels: 128, update: TAOX }) };
  exp.train!.nonideal = ['forward', 'backward', 'update'];
  return exp;
}

const weightParams = (t: Trainer): Map<string, string> =>
  new Map(
    t
      .describeState()
      .params.filter((p) => p.role === 'weight')
      .map((p) => [p.layer, p.name]),
  );

for (const batch of [1, 2]) {
  test(`DeviceUpdater: scanning only the rows of non-zero inputs gives the bits of the full scan (NeuroSim pulses, batch ${batch})`, async () => {
    const exp = deviceExperiment(batch);
    const digital = experiment(mlp([32]), sgd(0.05), batch);
    const d = await data(exp);
    const make = async (rows: boolean): Promise<{ trainer: Trainer; updater: DeviceUpdater }> => {
      const trainer = await Trainer.create(digital, { threads: 1, ...(rows ? { layerInputs: ['fc1', 'fc2'] } : {}) });
      const updater = DeviceUpdater.create(exp, trainer.getWeights(), weightParams(trainer))!;
      trainer.setState(updater.readBack());
      trainer.setStepHook((before, after, step) => {
        if (rows) assert.equal(step.layerInputs.get('fc1')!.length, batch * 784);
        updater.update(before, after, 0.05, rows ? step.layerInputs : undefined);
      });
      return { trainer, updater };
    };
    const full = await make(false);
    const sparse = await make(true);
    try {
      const steps = 60;
      const { x, y } = firstSamples(d, steps * batch);
      for (const r of [full, sparse]) {
        for (let s = 0; s < steps; s++) await r.trainer.step(x.subarray(s * batch * 784, (s + 1) * batch * 784), y.subarray(s * batch, (s + 1) * batch), 0.05);
      }
      assertSameBits(sparse.trainer.getState(), full.trainer.getState(), 'trainer state');
      for (const [i, l] of full.updater.layers.entries()) {
        const o = sparse.updater.layers[i]!;
        assert.deepEqual(new Uint32Array(o.g.buffer), new Uint32Array(l.g.buffer), `${l.layer} conductances`);
        assert.deepEqual(o.state, l.state);
      }
      // The pulse model did write: the test is not vacuous.
      const w0 = full.updater.layers[0]!;
      assert.ok(
        w0.g.some((v, k) => k < w0.g.length / 2 && v !== w0.g[k + w0.g.length / 2]),
        'fc1 devices hold non-zero weights',
      );
    } finally {
      await full.trainer.release();
      await sparse.trainer.release();
    }
  });
}

test('a fast-fidelity run with a device update model at batch 1 gives the bits of the loop without layer inputs', async () => {
  const exp = deviceExperiment(1);
  exp.data.source = { kind: 'mnist', train: 80, test: 20 };
  const d = await loadDataset(exp.data, exp.seed);
  const outcome = await runExperiment(exp, d, { trainer: { threads: 1 }, returnWeights: true, returnDevices: true });
  // runExperiment's wiring (run-experiment.ts), written out, without the layer inputs.
  const xb = CrossbarRuntime.create(exp, { threads: 1, spin: false })!;
  const trainer = await Trainer.create(exp, { threads: 1, mvm: xb.trainSelector, evalMvm: xb.evalSelector, sideFeeds: xb.sideFeeds });
  try {
    assert.ok(!trainer.chunked(), 'a crossbar train graph takes its side inputs per step');
    xb.setWeightSource((layer) => trainer.peekState(`${layer}/weight`));
    const updater = DeviceUpdater.create(exp, trainer.getWeights(), weightParams(trainer))!;
    trainer.setState(updater.readBack());
    trainer.setStepHook((before, after) => updater.update(before, after, exp.train!.optimizer.lr));
    const order = epochOrder(80, exp.seed, 1);
    for (let s = 0; s < 80; s++) {
      const batch = gatherBatch(d.train, order, s, 1);
      await trainer.step(batch.x, batch.y, 0.05);
    }
    assertSameBits(outcome.weights!, trainer.getWeights(), 'fast-fidelity run');
    for (const [i, l] of updater.layers.entries())
      assert.deepEqual(new Uint32Array(outcome.devices![i]!.g.buffer), new Uint32Array(l.g.buffer), `${l.layer} conductances`);
  } finally {
    await trainer.release();
    await xb.release();
  }
});

/**
 * Batch 1, the weight update left to the device updater (TrainerOptions.externalUpdates): the
 * graph outputs each dense crossbar layer's input and error, and DeviceUpdater forms ΔW itself in
 * the graph's float32 steps. Against the path where the train graph updates the weights and the
 * updater scans them in full: the same weights, conductances and device state after every run.
 */
const EXTERNAL_CASES: {
  name: string;
  update: UpdateModelSpec;
  levels: number;
  lrScale?: Record<string, number>;
  mapping?: 'offset';
  nonideal: NonidealStage[];
}[] = [
  // No level grid: every bit of each requested ΔG reaches the conductances (the sensitive case).
  { name: 'ideal update, no level grid', update: { kind: 'ideal' }, levels: 0, nonideal: ['update'] },
  {
    name: 'ideal update, no level grid, lr_scale, one device against a reference',
    update: { kind: 'ideal' },
    levels: 0,
    lrScale: { fc1: 0.3 },
    mapping: 'offset',
    nonideal: ['update'],
  },
  { name: 'NeuroSim pulses (TaOx)', update: TAOX, levels: 128, nonideal: ['update'] },
  {
    name: 'NeuroSim pulses, lr_scale, one device against a reference',
    update: TAOX,
    levels: 64,
    lrScale: { fc1: 0.3 },
    mapping: 'offset',
    nonideal: ['update'],
  },
  {
    name: 'TxSim (write noise)',
    update: { kind: 'txsim', v: 0.01, gamma: 5, noise: 'gradient', nonlinearity: 'step', pulses: 1 },
    levels: 16,
    nonideal: ['update'],
  },
  {
    name: 'aihwkit constant_step, crossbar forward and backward',
    update: { kind: 'constant_step', dw_min: 0.001, up_down: 0, dw_min_dtod: 0.3, dw_min_std: 0.3, w_min: -0.6, w_max: 0.6 },
    levels: 0,
    nonideal: ['forward', 'backward', 'update'],
  },
];

for (const c of EXTERNAL_CASES) {
  test(`batch 1, ΔW formed by the device updater: the bits of the in-graph update (${c.name})`, async () => {
    const exp = deviceExperiment(1);
    exp.train!.nonideal = c.nonideal;
    exp.crossbars = { xb: planCrossbar({}, { levels: c.levels, update: c.update }) };
    if (c.mapping) exp.crossbars['xb']!.mapping = c.mapping;
    // One cell per weight: the ideal model keeps the device's own grid (none: every bit of ΔG is written).
    if (c.update.kind === 'ideal') exp.crossbars['xb']!.weightBits = exp.crossbars['xb']!.cellBits;
    if (c.lrScale) exp.train!.lrScale = c.lrScale;
    exp.data.source = { kind: 'mnist', train: 120, test: 20 };
    const d = await loadDataset(exp.data, exp.seed);
    const order = epochOrder(120, exp.seed, 1);
    const wire = async (external: boolean): Promise<{ trainer: Trainer; updater: DeviceUpdater; xb: CrossbarRuntime; errors: number }> => {
      const xb = CrossbarRuntime.create(exp, { threads: 1, spin: false })!;
      const layers = ['fc1', 'fc2'];
      const opts = external ? { layerInputs: layers, externalUpdates: layers } : {};
      const trainer = await Trainer.create(exp, { threads: 1, mvm: xb.trainSelector, evalMvm: xb.evalSelector, sideFeeds: xb.sideFeeds, ...opts });
      xb.setWeightSource((layer) => trainer.peekState(`${layer}/weight`));
      const updater = DeviceUpdater.create(exp, trainer.getWeights(), weightParams(trainer))!;
      trainer.setState(updater.readBack());
      const r = { trainer, updater, xb, errors: 0 };
      trainer.setStepHook((before, after, step) => {
        if (external) {
          r.errors += step.errors.size;
          // the step left the weight to the hook: `after` holds the values it was fed
          assert.deepEqual(after.get('fc1/weight'), before.get('fc1/weight'));
          return updater.update(before, after, 0.05, step.layerInputs, step.errors);
        }
        return updater.update(before, after, 0.05);
      });
      return r;
    };
    const graph = await wire(false);
    const external = await wire(true);
    try {
      for (const r of [graph, external]) {
        for (let s = 0; s < 120; s++) {
          const batch = gatherBatch(d.train, order, s, 1);
          await r.trainer.step(batch.x, batch.y, 0.05);
          // an evaluation-time reader in between (a side-input provider's view of the weights)
          if (s === 60) r.trainer.peekState('fc1/weight');
        }
      }
      assert.equal(external.errors, 2 * 120, 'every step gave the hook the errors of fc1 and fc2');
      assertSameBits(external.trainer.getState(), graph.trainer.getState(), 'trainer state');
      for (const [i, l] of graph.updater.layers.entries()) {
        const o = external.updater.layers[i]!;
        assert.deepEqual(new Uint32Array(o.g.buffer), new Uint32Array(l.g.buffer), `${l.layer} conductances`);
        assert.deepEqual(o.state, l.state, `${l.layer} device state`);
      }
      const g = graph.updater.layers[0]!;
      const programmed = DeviceUpdater.create(exp, (await Trainer.create(exp, { threads: 1 })).getWeights(), weightParams(graph.trainer))!.layers[0]!;
      assert.ok(
        g.g.some((v, k) => v !== programmed.g[k]),
        'the devices were written: the comparison is not vacuous',
      );
    } finally {
      for (const r of [graph, external]) {
        await r.trainer.release();
        await r.xb.release();
      }
    }
  });
}

test('a weight the step hook updates in place: an array handed out by peekState never changes', async () => {
  const exp = deviceExperiment(1);
  exp.train!.nonideal = ['update'];
  const d = await data(exp);
  const trainer = await Trainer.create(digitalOf(exp), { threads: 1, layerInputs: ['fc1', 'fc2'], externalUpdates: ['fc1', 'fc2'] });
  try {
    const updater = DeviceUpdater.create(exp, trainer.getWeights(), weightParams(trainer))!;
    trainer.setState(updater.readBack());
    trainer.setStepHook((before, after, step) => updater.update(before, after, 0.05, step.layerInputs, step.errors));
    const { x, y } = firstSamples(d, 20);
    for (let s = 0; s < 10; s++) await trainer.step(x.subarray(s * 784, (s + 1) * 784), y.subarray(s, s + 1), 0.05);
    const seen = trainer.peekState('fc1/weight')!;
    const copy = Float32Array.from(seen);
    for (let s = 10; s < 20; s++) await trainer.step(x.subarray(s * 784, (s + 1) * 784), y.subarray(s, s + 1), 0.05);
    assert.deepEqual(seen, copy, 'the handed-out array kept its values');
    assert.notDeepEqual(trainer.getWeights()['fc1/weight'], copy, 'the weights did change');
    // Batches other than 1 cannot be formed here in the graph's summation order: refused.
    await assert.rejects(trainer.step(x.subarray(0, 2 * 784), y.subarray(0, 2), 0.05), /batches of 1 sample/);
    // Without the hook the weights would never move: no chunk graph, and step() refuses.
    trainer.setStepHook(null);
    assert.equal(trainer.chunked(), false);
    await assert.rejects(trainer.steps(x.subarray(0, 4 * 784), y.subarray(0, 4), 1, 0.05), /a step hook/);
  } finally {
    await trainer.release();
  }
});

/** The experiment with every layer digital (the trainer of the in-graph forward and backward). */
function digitalOf(exp: PlanExperiment): PlanExperiment {
  const digital = experiment(mlp([32]), exp.train!.optimizer, exp.train!.batch);
  digital.data = exp.data;
  return digital;
}
