/**
 * Every op's backward against central finite differences of the independent float64 reference
 * (test/reference/float64-net.ts), for both float MVM emitters (native Conv and explicit im2col).
 *
 * Tolerance: relative error ‖g_engine − g_fd‖₂ / ‖g_fd‖₂ < 1e-3 per parameter tensor. The engine
 * computes in float32 (unit roundoff 6e-8, sums of ≤ a few hundred terms → ~1e-6 relative), the
 * finite differences in float64 with h = 1e-6 (truncation O(h²) ≈ 1e-12, cancellation ≈ 1e-10):
 * a correct backward lands near 1e-6, a wrong one (missing fan-out term, mis-routed max-pool
 * gradient, off-by-one padding) at 1e-1 or more, so 1e-3 separates them with margin on both sides.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PlanNetwork } from '../../src/model/plan.js';
import { idealMvm, idealMvmWith, im2colMvm, type MvmSelector } from '../../src/runtime/engine/mvm.js';
import { NCHWC_BLOCK, nchwcFits } from '../../src/runtime/engine/nchwc.js';
import { gradientNets } from '../support/gradient-nets.js';
import { buildNetwork, conv, dense, flatten, globalAvgpool, relu } from '../support/plan-builder.js';
import { Rng } from '../../src/runtime/rng.js';
import { gradCheck, type GradCheckOptions } from '../reference/grad-check.js';

const TOLERANCE = 1e-3;
const selectors: Array<[string, MvmSelector]> = [
  ['ideal', () => idealMvm],
  ['im2col', () => im2colMvm],
  // Every conv form of the ideal emitter, whatever its shape rule picks for these nets (a form
  // that does not apply to a stride-2 layer falls back to one that does).
  ['ideal forms conv/conv/conv', () => idealMvmWith({ forward: 'conv', weight: 'conv', input: 'conv' })],
  ['ideal forms convTranspose/im2col/convTranspose', () => idealMvmWith({ forward: 'convTranspose', weight: 'im2col', input: 'convTranspose' })],
  ['ideal forms conv/im2col/col2im', () => idealMvmWith({ forward: 'conv', weight: 'im2col', input: 'col2im' })],
  ['ideal forms conv/unfold/convTranspose', () => idealMvmWith({ forward: 'conv', weight: 'unfold', input: 'convTranspose' })],
  ['ideal forms nchwc/unfold/nchwc', () => idealMvmWith({ forward: 'nchwc', weight: 'unfold', input: 'nchwc' })],
];

async function expectGradientsMatch(net: PlanNetwork, opts: GradCheckOptions): Promise<void> {
  const { errors } = await gradCheck(net, opts);
  for (const [name, err] of Object.entries(errors)) {
    assert.ok(err < TOLERANCE, `${net.name} / ${name}: relative gradient error ${err.toExponential(2)} ≥ ${TOLERANCE}`);
  }
}

const nets = gradientNets;

/** Random γ/β so the batchnorm backward is exercised away from its identity init. */
function randomAffine(names: string[], rng: Rng): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const n of names.filter((n) => n.endsWith('/gamma') || n.endsWith('/beta')))
    out[n] = rng.fillNormal(new Float32Array(n.startsWith('bn1') ? 3 : 4), 0.5, 0.5);
  return out;
}

/** N(0, σ²) inputs: a wide σ drives sigmoid/tanh into their curved and saturating regions, not only the near-linear centre. */
function scaledNormal(sigma: number): (n: number, perSample: number) => Float32Array {
  return (n, perSample) => new Rng(13, 'test/scaled-normal').fillNormal(new Float32Array(n * perSample), 0, sigma);
}

/** Mostly-zero images like MNIST backgrounds: the conv output is exactly its bias in flat regions. */
function sparseImages(n: number, perSample: number): Float32Array {
  const rng = new Rng(11, 'test/sparse-images');
  const x = new Float32Array(n * perSample);
  for (let i = 0; i < x.length; i++) if (rng.uniform() < 0.15) x[i] = rng.uniform();
  return x;
}

for (const [mvmName, mvm] of selectors) {
  test(`${mvmName}: dense + relu gradients match float64 finite differences`, () => expectGradientsMatch(nets['dense']!, { batch: 4, mvm }));

  test(`${mvmName}: conv2d stride 2, symmetric and asymmetric padding, bias`, () => expectGradientsMatch(nets['convStride2Pad']!, { batch: 3, mvm }));

  test(`${mvmName}: conv2d stride 1, non-square kernel, asymmetric padding`, () => expectGradientsMatch(nets['convStride1Asym']!, { batch: 3, mvm }));

  test(`${mvmName}: sigmoid gradients (dense, from the saved output) match float64 finite differences`, () =>
    expectGradientsMatch(nets['sigmoid']!, { batch: 4, mvm, input: scaledNormal(3) }));

  test(`${mvmName}: tanh gradients (conv and dense inputs) match float64 finite differences`, () =>
    expectGradientsMatch(nets['tanh']!, { batch: 3, mvm, input: scaledNormal(2) }));

  test(`${mvmName}: maxpool (overlapping, padded), avgpool (padded) and global avgpool`, () => expectGradientsMatch(nets['pools']!, { batch: 3, mvm }));

  test(`${mvmName}: batchnorm in train mode (conv and dense inputs)`, () => expectGradientsMatch(nets['batchnorm']!, { batch: 4, mvm, state: randomAffine }));

  test(`${mvmName}: residual add with fan-out`, () => expectGradientsMatch(nets['residual']!, { batch: 3, mvm }));

  test(`${mvmName}: maxpool over flat regions (ties) routes each gradient to one element`, async () => {
    // A positive conv bias makes every all-zero patch produce the same value: 2×2 windows full
    // of exact ties. Their bias gradient is 1 per window under finite differences; an Equal-mask
    // backward would count every tied element.
    const positiveBias = (): Record<string, Float32Array> => ({ 'conv1/bias': Float32Array.of(0.25, 0.5) });
    await expectGradientsMatch(nets['maxpoolTies']!, { batch: 3, mvm, input: sparseImages, state: positiveBias });
  });
}

// Channel counts the NCHWc kernels take (multiples of the machine's block, or an NCHW input of
// fewer channels): the nets above have 2–4 channels, where the nchwc forms fall back to Conv.
const blocked = buildNetwork('blocked', [3, 4, 4], 3, [
  { name: 'conv1', op: conv(16, 3, 1, 1) }, // 3 → 16: NCHW input, blocked output
  { name: 'relu1', op: relu() },
  { name: 'conv2', op: conv(16, 3, 1, 1) }, // 16 → 16, stride 1: blocked forward and input gradient
  { name: 'relu2', op: relu() },
  { name: 'conv3', op: conv(16, 3, 2, 1) }, // stride 2: blocked forward, ConvTranspose input gradient
  { name: 'gap', op: globalAvgpool() },
  { name: 'flatten', op: flatten() },
  { name: 'fc', op: dense(3) },
]);

test(`nchwc forms on ${NCHWC_BLOCK}-channel blocks: conv gradients of 3 → 16 → 16 channels match float64 finite differences`, async () => {
  if (NCHWC_BLOCK > 1) assert.ok(nchwcFits(3, 16) && nchwcFits(16, 16), 'the nchwc forms apply to these layers');
  await expectGradientsMatch(blocked, { batch: 2, mvm: () => idealMvmWith({ forward: 'nchwc', weight: 'unfold', input: 'nchwc' }) });
});
