/**
 * sigmoid and tanh beyond their gradients (engine-gradients.test.ts): the evaluation graph and the
 * SGD training step against the float64 reference, the sign of a crossbar layer's input after
 * them (sigmoid unsigned like relu, tanh signed; pooling/flatten keep the sign, batchnorm does
 * not), and exact crossbar inference through both.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withMerges } from '../../src/compiler/merges.js';
import type { LayerOp, PlanExperiment, PlanNetwork } from '../../src/model/plan.js';
import { inputSigned } from '../../src/model/crossbar-math.js';
import { loadDataset, type Dataset } from '../../src/runtime/data/index.js';
import {
  avgpool,
  batchnorm,
  buildNetwork,
  conv,
  dense,
  flatten,
  maxpool,
  mnistExperiment,
  relu,
  sgd,
  sigmoid,
  tanh,
  type LayerSketch,
} from '../support/plan-builder.js';
import { runExperiment } from '../../src/runtime/engine/run-experiment.js';
import { Trainer } from '../../src/runtime/engine/trainer.js';
import { Rng } from '../../src/runtime/rng.js';
import { finiteDifferenceGrads, forwardRef, relativeError, toF64, type Params } from '../reference/float64-net.js';
import { planCrossbar } from './crossbar-helpers.js';

const net = buildNetwork('act', [2, 4, 4], 3, [
  { name: 'conv1', op: conv(3, 3, 1, 1) },
  { name: 'tanh1', op: tanh() },
  { name: 'flatten', op: flatten() },
  { name: 'fc1', op: dense(5) },
  { name: 'sig1', op: sigmoid() },
  { name: 'fc2', op: dense(3) },
]);

function batch(n: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(21, 'test/activations-batch');
  return { x: rng.fillNormal(new Float32Array(n * 32), 0, 2), y: Int32Array.from({ length: n }, () => rng.int(3)) };
}

const weightsF64 = (w: Record<string, Float32Array>): Params => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, toF64(v)]));

test('the evaluation graph computes sigmoid and tanh like the float64 reference', async () => {
  const trainer = await Trainer.create(mnistExperiment({ network: net, train: { epochs: 1, batch: 4, optimizer: sgd(0.1) } }), { threads: 1 });
  try {
    const { x } = batch(4);
    const logits = await trainer.logits(x);
    const expected = forwardRef(net, weightsF64(trainer.getWeights()), toF64(x), 4, 'eval');
    assert.ok(relativeError(logits, expected) < 1e-5, `eval logits differ from the reference: ${relativeError(logits, expected)}`);
  } finally {
    await trainer.release();
  }
});

test('one SGD training step moves every parameter by −lr × the float64 finite-difference gradient', async () => {
  const lr = 0.5;
  const trainer = await Trainer.create(mnistExperiment({ network: net, train: { epochs: 1, batch: 4, optimizer: sgd(lr) } }), { threads: 1 });
  try {
    const { x, y } = batch(4);
    const before = weightsF64(trainer.getWeights());
    const names = trainer.describeState().params.map((p) => p.name);
    const reference = finiteDifferenceGrads(net, before, names, toF64(x), y);
    await trainer.step(x, y, lr);
    const after = trainer.getWeights();
    for (const name of names) {
      const implied = before[name]!.map((w, i) => (w - after[name]![i]!) / lr);
      const err = relativeError(implied, reference[name]!);
      assert.ok(err < 1e-3, `${name}: the step's gradient differs from the reference by ${err.toExponential(2)}`);
    }
  } finally {
    await trainer.release();
  }
});

/** Whether `fc`, placed after `before`, reads signed inputs. */
function signedAfter(before: LayerSketch[]): boolean {
  const n = buildNetwork('sign', [2, 4, 4], 3, [...before, { name: 'fc', op: dense(3) }]);
  return inputSigned(
    n,
    n.layers.find((l) => l.name === 'fc')!,
  );
}

test('a crossbar layer after sigmoid reads unsigned inputs, after tanh signed; pooling and flatten keep the sign, batchnorm does not', () => {
  const act = (op: LayerOp): LayerSketch[] => [
    { name: 'conv', op: conv(2, 3, 1, 1) },
    { name: 'act', op },
  ];
  const through = (op: LayerOp, ...rest: LayerOp[]): LayerSketch[] => [...act(op), ...rest.map((r, i) => ({ name: `l${i}`, op: r }))];
  assert.equal(signedAfter(through(sigmoid(), flatten())), false);
  assert.equal(signedAfter(through(sigmoid(), maxpool(2), avgpool(2), flatten())), false);
  assert.equal(signedAfter(through(relu(), avgpool(2), flatten())), false);
  assert.equal(signedAfter(through(tanh(), flatten())), true);
  assert.equal(signedAfter(through(tanh(), maxpool(2), flatten())), true);
  assert.equal(signedAfter(through(sigmoid(), batchnorm(), flatten())), true, 'batchnorm re-centres: signed');
  assert.equal(signedAfter([{ name: 'flatten', op: flatten() }]), true, 'the network input is signed');
});

/** 784-32-10 MLP with `act` between its two crossbar layers. */
function mlpExperiment(act: LayerOp, fidelity: PlanExperiment['fidelity']): PlanExperiment {
  const network: PlanNetwork = buildNetwork('mlp', [1, 28, 28], 10, [
    { name: 'flatten', op: flatten() },
    { name: 'fc1', op: dense(32) },
    { name: 'act', op: act },
    { name: 'fc2', op: dense(10) },
  ]);
  for (const l of network.layers) if (l.mapping) Object.assign(l.mapping, { target: 'crossbar', crossbar: 'xb' });
  const exp = mnistExperiment({ network, train: { epochs: 1, batch: 16, optimizer: sgd(0.1) }, mnist: { train: 800, test: 300 }, evalBatch: 100, seed: 3 });
  exp.fidelity = fidelity;
  exp.crossbars = { xb: planCrossbar() };
  return withMerges(exp);
}

let cached: Dataset | null = null;

for (const [name, op] of [
  ['sigmoid', sigmoid()],
  ['tanh', tanh()],
] as const) {
  test(`exact crossbar inference through ${name} (software-trained) stays within 2 points of ideal at a high SNR`, async () => {
    const exact = mlpExperiment(op, 'exact');
    cached ??= await loadDataset(exact.data, exact.seed);
    const ideal = await runExperiment({ ...exact, fidelity: 'ideal' }, cached, { trainer: { threads: 1 } });
    const r = await runExperiment(exact, cached, { trainer: { threads: 1 } });
    assert.ok(ideal.final.testAccuracy > 0.6, `${name}: ideal accuracy ${ideal.final.testAccuracy}`);
    assert.ok(Math.abs(r.final.testAccuracy - ideal.final.testAccuracy) <= 0.02, `${name}: exact ${r.final.testAccuracy} vs ideal ${ideal.final.testAccuracy}`);
    // Lossless 8-bit ADCs leave ≈ 50 dB; reading tanh outputs as unsigned drops fc2 to ≈ 5 dB.
    assert.ok(
      r.layers!.every((l) => (l.snrDb ?? 0) > 30),
      `${name}: ${JSON.stringify(r.layers!.map((l) => [l.name, l.snrDb]))}`,
    );
  });
}
