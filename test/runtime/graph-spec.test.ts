/**
 * The spec-driven graph builder against the float64 reference: input gradients (finite differences
 * wrt x, on running statistics), a two-head loss, loss terms over the matrix and crossbar tile
 * views of a weight, and a weight mask, each checked against central differences.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PlanNetwork } from '../../src/model/plan.js';
import { buildGraph, evalGraphSpec, gradName, headLogitsName, OUT_LOGITS, OUT_LOSS, termName, type GraphSpec } from '../../src/runtime/engine/graphs.js';
import { l2Term, tileGroupLassoTerm } from '../../src/runtime/engine/terms.js';
import { maskName } from '../../src/runtime/engine/transforms.js';
import { Trainer } from '../../src/runtime/engine/trainer.js';
import { inputGradient } from '../../src/runtime/engine/input-gradient.js';
import { adc, planCrossbar, smallCrossbarExperiment } from './crossbar-helpers.js';
import { Rng } from '../../src/runtime/rng.js';
import ort from 'onnxruntime-node';
import { activationsRef, crossEntropyRef, finiteDifference, headsLossRef, lossRef, relativeError, toF64, type Params } from '../reference/float64-net.js';
import { tinyExperiment } from '../reference/grad-check.js';
import { buildNetwork, conv, dense, flatten, relu } from '../support/plan-builder.js';
import { gradientNets } from '../support/gradient-nets.js';

const TOLERANCE = 1e-3;

// Input gradients of the networks whose parameter gradients engine-gradients.test.ts checks.
const nets: Record<string, PlanNetwork> = Object.fromEntries(['dense', 'pools', 'batchnorm', 'residual'].map((n) => [n, gradientNets[n]!]));

interface Setup {
  trainer: Trainer;
  params: Params;
  x: Float32Array;
  y: Int32Array;
}

/** A trainer at seeded weights; batchnorm running statistics randomized so that they matter. */
async function setup(net: PlanNetwork, batch: number, seed = 5): Promise<Setup> {
  const rng = new Rng(seed, 'test/graph-spec');
  const perSample = net.inputShape.reduce((a, b) => a * b, 1);
  const x = rng.fillNormal(new Float32Array(batch * perSample));
  const y = Int32Array.from({ length: batch }, () => rng.int(net.classes));
  const trainer = await Trainer.create(tinyExperiment(net, seed), { threads: 1 });
  const over: Record<string, Float32Array> = {};
  for (const b of trainer.describeState().buffers) {
    const n = b.dims.reduce((a, c) => a * c, 1);
    over[b.name] = Float32Array.from({ length: n }, () => (b.role === 'running_var' ? 0.5 + rng.uniform() : rng.normal() * 0.3));
  }
  trainer.setState(over);
  const params: Params = {};
  for (const [name, v] of Object.entries(trainer.getWeights())) params[name] = toF64(v);
  return { trainer, params, x, y };
}

for (const [name, net] of Object.entries(nets)) {
  test(`input gradient of ${name} (running statistics) matches finite differences wrt x`, async () => {
    const { trainer, params, x, y } = await setup(net, 3);
    try {
      const { grad, loss } = await trainer.inputGradient(x, y);
      const x64 = toF64(x);
      assert.ok(Math.abs(loss - lossRef(net, params, x64, y, 'eval')) < 1e-5, 'loss on running statistics');
      const reference = finiteDifference(() => lossRef(net, params, x64, y, 'eval'), x64);
      const err = relativeError(grad, reference);
      assert.ok(err < TOLERANCE, `${name}: relative input-gradient error ${err.toExponential(2)}`);
      // The gradient is not trivially zero.
      assert.ok(reference.some((v) => Math.abs(v) > 1e-4));
    } finally {
      await trainer.release();
    }
  });
}

test('a two-head loss (0.3 × an intermediate head + the last layer) gives the gradients of the weighted sum', async () => {
  const net = buildNetwork('twoHeads', [6], 3, [
    { name: 'fc1', op: dense(3) },
    { name: 'relu1', op: relu() },
    { name: 'fc2', op: dense(3) },
  ]);
  const { trainer, params, x, y } = await setup(net, 4);
  const heads = [
    { layer: 'fc1', weight: 0.3 },
    { layer: 'fc2', weight: 1 },
  ];
  const spec: GraphSpec = {
    purpose: 'custom',
    statistics: 'batch',
    differentiate: { params: true, input: false },
    heads,
    reduction: 'mean',
    outputs: { loss: true, paramGrads: true, logits: true },
  };
  try {
    const out = await trainer.run('two-heads', spec, x, y);
    const x64 = toF64(x);
    assert.ok(Math.abs(out[OUT_LOSS]![0]! - headsLossRef(net, params, x64, y, heads)) < 1e-5);
    // Each head's logits are outputs of their own.
    const acts = activationsRef(net, params, x64, y.length);
    assert.ok(relativeError(out[headLogitsName('fc1')]!, acts.get('fc1')!) < 1e-6);
    for (const p of ['fc1/weight', 'fc1/bias', 'fc2/weight']) {
      const reference = finiteDifference(() => headsLossRef(net, params, x64, y, heads), params[p]!);
      const err = relativeError(out[gradName(p)]!, reference);
      assert.ok(err < TOLERANCE, `${p}: ${err.toExponential(2)}`);
    }
    // Without the intermediate head fc1's gradient changes: the head is really in the loss.
    const single = finiteDifference(() => crossEntropyRef(activationsRef(net, params, x64, y.length).get('fc2')!, y, 3), params['fc1/weight']!);
    assert.ok(relativeError(out[gradName('fc1/weight')]!, single) > 0.01);
  } finally {
    await trainer.release();
  }
});

/** Σ over tiles of sqrt(Σ_tile w² + ε) of a dense weight [K, N] cut into R × C tiles (zero padded). */
function groupLassoRef(w: Float64Array, K: number, N: number, R: number, C: number, eps = 1e-12): number {
  let total = 0;
  for (let t = 0; t < Math.ceil(K / R); t++) {
    for (let u = 0; u < Math.ceil(N / C); u++) {
      let s = 0;
      for (let k = t * R; k < Math.min(K, (t + 1) * R); k++) for (let n = u * C; n < Math.min(N, (u + 1) * C); n++) s += w[k * N + n]! ** 2;
      total += Math.sqrt(s + eps);
    }
  }
  return total;
}

test('loss terms: λ·Σw² on the matrix view and group lasso on the crossbar tile view add their values and gradients', async () => {
  const net = buildNetwork('terms', [2, 4, 4], 3, [
    { name: 'conv1', op: conv(3, 3, 1, 1) },
    { name: 'relu1', op: relu() },
    { name: 'flatten', op: flatten() },
    { name: 'fc1', op: dense(7) },
    { name: 'relu2', op: relu() },
    { name: 'fc2', op: dense(3) },
  ]);
  // fc1 is 48 × 7 on 20 × 3 tiles: 3 × 3 tiles, the last row and column of tiles partly padding.
  const fc1 = net.layers.find((l) => l.name === 'fc1')!;
  fc1.mapping!.tiles = { rowTiles: 3, colTiles: 3, tileRows: 20, tileCols: 3 };
  const { trainer, params, x, y } = await setup(net, 3);
  const lambda = 0.01;
  const mu = 0.05;
  const terms = [l2Term('l2', lambda, { param: 'conv1/weight', view: 'matrix' }), tileGroupLassoTerm('tiles', mu, 'fc1/weight')];
  const spec: GraphSpec = {
    purpose: 'custom',
    statistics: 'batch',
    differentiate: { params: true, input: false },
    heads: [{ weight: 1 }],
    reduction: 'mean',
    terms,
    outputs: { loss: true, paramGrads: true },
  };
  const x64 = toF64(x);
  const sumSq = (a: Float64Array) => a.reduce((s, v) => s + v * v, 0);
  const total = () => lossRef(net, params, x64, y) + lambda * sumSq(params['conv1/weight']!) + mu * groupLassoRef(params['fc1/weight']!, 48, 7, 20, 3);
  try {
    const out = await trainer.run('terms', spec, x, y);
    assert.ok(
      Math.abs(out[termName('tiles')]![0]! - groupLassoRef(params['fc1/weight']!, 48, 7, 20, 3)) < 1e-4,
      'tile view cuts the matrix as the mapping does',
    );
    assert.ok(Math.abs(out[termName('l2')]![0]! - sumSq(params['conv1/weight']!)) < 1e-4);
    assert.ok(Math.abs(out[OUT_LOSS]![0]! - total()) < 1e-4);
    for (const p of ['conv1/weight', 'fc1/weight', 'fc2/weight']) {
      const err = relativeError(out[gradName(p)]!, finiteDifference(total, params[p]!));
      assert.ok(err < TOLERANCE, `${p}: ${err.toExponential(2)}`);
    }
  } finally {
    await trainer.release();
  }
});

test('a weight mask prunes in the forward and masks the gradient; binarize and quantize transforms build and run', async () => {
  const net = nets['dense']!;
  const { trainer, params, x, y } = await setup(net, 4);
  const rng = new Rng(9, 'test/graph-spec/mask');
  const mask = Float32Array.from({ length: 6 * 5 }, () => (rng.uniform() < 0.5 ? 0 : 1));
  const spec: GraphSpec = {
    purpose: 'custom',
    statistics: 'batch',
    differentiate: { params: true, input: false },
    heads: [{ weight: 1 }],
    reduction: 'mean',
    transforms: { fc1: { kind: 'mask' } },
    outputs: { loss: true, paramGrads: true },
  };
  try {
    const out = await trainer.run('mask', spec, x, y, { extra: { [maskName('fc1')]: new ort.Tensor('float32', mask, [6, 5]) } });
    const masked: Params = { ...params, 'fc1/weight': params['fc1/weight']!.map((v, i) => v * mask[i]!) };
    const x64 = toF64(x);
    assert.ok(Math.abs(out[OUT_LOSS]![0]! - lossRef(net, masked, x64, y)) < 1e-5);
    // d loss / d W = mask ⊙ (d loss / d W_masked).
    const reference = finiteDifference(() => lossRef(net, masked, x64, y), masked['fc1/weight']!).map((g, i) => g * mask[i]!);
    assert.ok(relativeError(out[gradName('fc1/weight')]!, reference) < TOLERANCE);
    assert.ok(out[gradName('fc1/weight')]!.every((g, i) => mask[i] === 1 || g === 0));
    for (const transform of [
      { kind: 'binarize', scale: 'mean' },
      { kind: 'quantize', bits: 3 },
    ] as const) {
      const r = await trainer.run(`t-${transform.kind}`, { ...spec, transforms: { fc1: transform } }, x, y);
      assert.ok(Number.isFinite(r[OUT_LOSS]![0]!));
      assert.ok(
        r[gradName('fc1/weight')]!.some((g) => g !== 0),
        `${transform.kind}: straight-through gradient reaches the weight`,
      );
    }
  } finally {
    await trainer.release();
  }
});

test('inputGradient through the crossbar model: near the ideal gradient with fine converters, different with coarse ones', async () => {
  const fine = planCrossbar(
    { weightBits: 16, inputBits: 16, adc: adc(16, { kind: 'calibrate', percentile: 1 }), backward: { inputBits: 16, dacBits: 1, adc: adc(16) } },
    { levels: 4 },
  );
  const coarse = planCrossbar({ inputBits: 3, adc: adc(3, { kind: 'calibrate', percentile: 0.99 }) });
  const ideal = smallCrossbarExperiment('ideal', [], fine, { train: 64, test: 64 });
  const trainer = await Trainer.create(ideal, { threads: 1 });
  const weights = trainer.getWeights();
  await trainer.release();
  const rng = new Rng(4, 'test/graph-spec/xb');
  const x = rng.fillNormal(new Float32Array(8 * 28 * 28));
  const y = Int32Array.from({ length: 8 }, () => rng.int(10));
  const reference = await inputGradient(ideal, weights, x, y, { threads: 1 });
  const near = await inputGradient(smallCrossbarExperiment('fast', [], fine, { train: 64, test: 64 }), weights, x, y, { threads: 1 });
  const far = await inputGradient(smallCrossbarExperiment('fast', [], coarse, { train: 64, test: 64 }), weights, x, y, { threads: 1 });
  assert.equal(near.grad.length, x.length);
  const nearErr = relativeError(near.grad, reference.grad);
  const farErr = relativeError(far.grad, reference.grad);
  assert.ok(nearErr < 0.02, `fine converters: ${nearErr.toExponential(2)} (coarse: ${farErr.toExponential(2)})`);
  assert.ok(farErr > 5 * nearErr && farErr > 0.02, `coarse converters change the gradient: ${farErr.toExponential(2)} vs ${nearErr.toExponential(2)}`);
});

test('frozen inputs become initializers: an exported evaluation graph needs only x and labels, with the same numbers', async () => {
  const net = gradientNets['dense']!;
  const { trainer, x, y } = await setup(net, 4);
  try {
    const weights = trainer.getWeights();
    const freeze = Object.fromEntries(
      [...trainer.describeState().params, ...trainer.describeState().buffers].map((e) => [e.name, { data: weights[e.name]!, dims: e.dims }]),
    );
    const exported = buildGraph(net, { ...evalGraphSpec(true), freeze });
    assert.deepEqual(exported.stateInputs, []);
    const session = await ort.InferenceSession.create(exported.bytes, { intraOpNumThreads: 1 });
    try {
      assert.deepEqual([...session.inputNames].sort(), ['labels', 'x']);
      const out = await session.run({ x: new ort.Tensor('float32', x, [4, 6]), labels: new ort.Tensor('int32', y, [4]) });
      assert.deepEqual(Array.from(out[OUT_LOGITS]!.data as Float32Array), Array.from(await trainer.logits(x)));
    } finally {
      await session.release();
    }
  } finally {
    await trainer.release();
  }
});
