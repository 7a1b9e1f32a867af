/**
 * Read noise in the crossbar runtime (fidelity fast): the fed factor 1 + σ·ξ is the layer's
 * counter-based stream `read/<layer>/<purpose>` at the position of the run's first sample, so the
 * same spec and seed give the same numbers bit for bit, another seed others, and evaluation sees
 * the same noise per test sample however the test set is split into batches; `xbarc mvm` draws
 * from `read/mvm`.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withMerges } from '../../src/compiler/merges.js';
import type { PlanExperiment } from '../../src/model/plan.js';
import { CrossbarRuntime } from '../../src/runtime/crossbar/runtime.js';
import { sideName } from '../../src/runtime/crossbar/emitter.js';
import { loadDataset, type Dataset } from '../../src/runtime/data/index.js';
import type { BuiltGraph } from '../../src/runtime/engine/graphs.js';
import type { SideInput } from '../../src/runtime/engine/onnx.js';
import { runExperiment } from '../../src/runtime/engine/run-experiment.js';
import { crossbarMvm } from '../../src/runtime/crossbar/mvm-api.js';
import { NormalStream } from '../../src/runtime/normal-stream.js';
import { Rng } from '../../src/runtime/rng.js';
import { adc, planCrossbar, smallCrossbarExperiment } from './crossbar-helpers.js';

const SIGMA = 0.05;

function experiment(seed = 3, evalBatch?: number): PlanExperiment {
  const exp = withMerges(smallCrossbarExperiment('fast', ['forward', 'backward'], planCrossbar({}, { readNoise: SIGMA }), { seed }));
  if (evalBatch) exp.evaluate.batch = evalBatch;
  return exp;
}

/** The side-input list of a graph that reads conv1's and fc1's noise (what sideFeeds looks at). */
function noiseGraph(purpose: 'train' | 'eval'): BuiltGraph {
  const noise = (layer: string): SideInput => ({ name: sideName(layer, 'noise'), owner: 'crossbar', layer, kind: 'noise', dims: [] });
  return { purpose, bytes: new Uint8Array(), stateInputs: [], next: {}, nodes: 0, sideInputs: [noise('conv1'), noise('fc1')], evaluation: purpose === 'eval' };
}

test('the fed factor is 1 + σ·ξ from stream read/<layer>/<purpose>, continued run after run', async () => {
  const exp = experiment();
  const xb = CrossbarRuntime.create(exp, { threads: 1 })!;
  const other = CrossbarRuntime.create({ ...exp, seed: 4 }, { threads: 1 })!;
  try {
    const conv = exp.network.layers.find((l) => l.name === 'conv1')!.outputShape.reduce((a, b) => a * b, 1);
    const first = Float32Array.from(xb.sideFeeds(noiseGraph('train'), 5)[sideName('conv1', 'noise')]!.data as Float32Array);
    const second = Float32Array.from(xb.sideFeeds(noiseGraph('train'), 3)[sideName('conv1', 'noise')]!.data as Float32Array);
    const evalRun = Float32Array.from(xb.sideFeeds(noiseGraph('eval'), 5)[sideName('conv1', 'noise')]!.data as Float32Array);
    const stream = (purpose: string) => new NormalStream(exp.seed, `read/conv1/${purpose}`);
    assert.deepEqual(first, stream('train').fill(new Float32Array(5 * conv), 0, 1, SIGMA));
    // The next run starts at the next sample: the stream position counts samples × outputs.
    assert.deepEqual(second, stream('train').fill(new Float32Array(3 * conv), 5 * conv, 1, SIGMA));
    // Evaluation has its own stream: it does not depend on how many training samples ran before.
    assert.deepEqual(evalRun, stream('eval').fill(new Float32Array(5 * conv), 0, 1, SIGMA));
    const sd = Math.sqrt(first.reduce((a, v) => a + (v - 1) ** 2, 0) / first.length);
    assert.ok(Math.abs(sd / SIGMA - 1) < 0.05, `σ of the factor ${sd}`);
    // The same seed gives the same factor in another runtime; another seed another one.
    const again = CrossbarRuntime.create(exp, { threads: 1 })!;
    assert.deepEqual(Float32Array.from(again.sideFeeds(noiseGraph('train'), 5)[sideName('conv1', 'noise')]!.data as Float32Array), first);
    await again.release();
    const seed4 = other.sideFeeds(noiseGraph('train'), 5)[sideName('conv1', 'noise')]!.data as Float32Array;
    assert.ok(seed4.some((v, i) => v !== first[i]));
  } finally {
    await xb.release();
    await other.release();
  }
});

let cached: Dataset | null = null;
async function data(exp: PlanExperiment): Promise<Dataset> {
  cached ??= await loadDataset(exp.data, exp.seed);
  return cached;
}

test('training with read noise is reproducible by seed, and evaluation does not depend on the batch split', async () => {
  const exp = experiment();
  const d = await data(exp);
  const a = await runExperiment(exp, d, { trainer: { threads: 1 } });
  const b = await runExperiment(exp, d, { trainer: { threads: 1 } });
  assert.equal(a.epochs[0]!.trainLoss, b.epochs[0]!.trainLoss);
  assert.equal(a.final.testLoss, b.final.testLoss);
  assert.equal(a.final.testAccuracy, b.final.testAccuracy);
  const c = await runExperiment(experiment(4), d, { trainer: { threads: 1 } });
  assert.notEqual(c.epochs[0]!.trainLoss, a.epochs[0]!.trainLoss);
  // 300 test samples in batches of 100 or of 60: every sample gets the same noise.
  const split = await runExperiment(experiment(3, 60), d, { trainer: { threads: 1 } });
  assert.equal(split.epochs[0]!.trainLoss, a.epochs[0]!.trainLoss);
  assert.equal(split.final.testAccuracy, a.final.testAccuracy);
  assert.ok(Math.abs(split.final.testLoss - a.final.testLoss) <= 1e-6 * a.final.testLoss, `test loss ${split.final.testLoss} vs ${a.final.testLoss}`);
});

test('xbarc mvm at fidelity fast: read noise from stream read/mvm, the same by seed, σ relative to the output', async () => {
  const rng = new Rng(1, 'test/mvm-read');
  const K = 64,
    N = 32,
    B = 16;
  const W = { data: Float32Array.from({ length: K * N }, () => rng.normal() * 0.3), shape: [K, N] };
  const X = { data: Float32Array.from({ length: B * K }, () => rng.normal()), shape: [B, K] };
  const xb = (readNoise: number) => planCrossbar({ rows: 64, cols: 64, adc: adc(16, { kind: 'max' }) }, { readNoise });
  const clean = await crossbarMvm(xb(0), W, X, { fidelity: 'fast', seed: 1, threads: 1 });
  const a = await crossbarMvm(xb(SIGMA), W, X, { fidelity: 'fast', seed: 1, threads: 1 });
  const b = await crossbarMvm(xb(SIGMA), W, X, { fidelity: 'fast', seed: 1, threads: 1 });
  const c = await crossbarMvm(xb(SIGMA), W, X, { fidelity: 'fast', seed: 2, threads: 1 });
  assert.deepEqual(a.data, b.data);
  assert.ok(c.data.some((v, i) => v !== a.data[i]));
  let s2 = 0,
    n = 0;
  clean.data.forEach((y, i) => {
    if (Math.abs(y) < 0.5) return;
    s2 += ((a.data[i]! - y) / y) ** 2;
    n++;
  });
  assert.ok(n > 100 && Math.abs(Math.sqrt(s2 / n) / SIGMA - 1) < 0.15, `relative σ ${Math.sqrt(s2 / n)} over ${n} outputs`);
});
