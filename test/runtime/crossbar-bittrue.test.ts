/**
 * The exact-fidelity crossbar MVM (ONNX graph) against the independent bit-true integer
 * reference (test/reference/bit-true.ts) on many random small configurations: every tile ×
 * stream × plane × slice ADC code, shift-added, must match exactly (zero mismatches), forward
 * and backward, dense and conv.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossbarMerges } from '../../src/compiler/merges.js';
import { inputEncoding, weightQmax } from '../../src/model/crossbar-math.js';
import { CrossbarMvm, sideName } from '../../src/runtime/crossbar/emitter.js';
import { integerConversionsApply } from '../../src/runtime/crossbar/exact-int.js';
import { Rng } from '../../src/runtime/rng.js';
import { bitTrueMvm, im2colInt } from '../reference/bit-true.js';
import { adc, layerXb, runMvm, scalarTensor, xbConfig } from './crossbar-helpers.js';

/** Random integers in [lo, hi] with the extreme `peak` (±) placed at one position, as float32. */
function ints(rng: Rng, n: number, lo: number, hi: number, peak: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + rng.int(hi - lo + 1);
  if (n > 0) out[rng.int(n)] = lo < 0 && rng.uniform() < 0.5 ? -peak : peak;
  return out;
}

/** Static (fed) ADC step: the `calibrate` range kind reads it as a graph input. */
const CAL = { kind: 'calibrate' as const, percentile: 0.999 };

function mismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) m++;
  return m;
}

interface Case {
  mapping: 'differential' | 'offset';
  wb: number; cb: number; ib: number; dac: number; signed: boolean;
  rows: number; cols: number; adcBits: number; lsb: number;
  bib: number; bdac: number; badcBits: number;
}

function randomCase(rng: Rng): Case {
  const mapping = rng.uniform() < 0.6 ? 'differential' : 'offset';
  const pick = <T>(xs: T[]): T => xs[rng.int(xs.length)]!;
  return {
    mapping,
    wb: mapping === 'offset' ? 2 + rng.int(7) : 1 + rng.int(8),
    cb: 1 + rng.int(4),
    ib: 2 + rng.int(7),
    dac: 1 + rng.int(3),
    signed: rng.uniform() < 0.6,
    rows: pick([4, 8, 16, 33, 64]),
    cols: pick([3, 8, 16, 64]),
    adcBits: 2 + rng.int(9),
    // Lossy steps too: a non-integer float32 LSB exercises ties and clipping.
    lsb: rng.uniform() < 0.3 ? 1 : Math.fround(1 + rng.uniform() * 12),
    bib: 2 + rng.int(7),
    bdac: 1 + rng.int(3),
    badcBits: 3 + rng.int(8),
  };
}

test('exact dense crossbar MVM = bit-true reference (forward and backward), 80 random configurations', async () => {
  const rng = new Rng(11, 'test/bittrue-dense');
  let checked = 0;
  let saturatedSeen = 0;
  let merged = 0;
  let integerCases = 0;
  for (let c = 0; c < 80; c++) {
    const k = randomCase(rng);
    const B = 1 + rng.int(4);
    const K = 1 + rng.int(140);
    const N = 1 + rng.int(20);
    const xb = xbConfig({
      rows: k.rows, cols: k.cols, mapping: k.mapping, weightBits: k.wb, cellBits: k.cb, inputBits: k.ib, dacBits: k.dac,
      adc: adc(k.adcBits, CAL), backward: { inputBits: k.bib, dacBits: k.bdac, adc: adc(k.badcBits, rng.uniform() < 0.5 ? { kind: 'max' } : { kind: 'fixed', current: 1e-7 * (1 + 20 * rng.uniform()) }) },
    });
    const enc = inputEncoding(k.ib, k.dac, k.signed);
    const qw = weightQmax(xb);
    const x = ints(rng, B * K, k.signed ? -enc.qmax : 0, enc.qmax, enc.qmax);
    const w = ints(rng, K * N, -qw, qw, qw);
    const benc = inputEncoding(k.bib, k.bdac, true);
    const dy = ints(rng, B * N, -benc.qmax, benc.qmax, benc.qmax);
    const feeds = { [sideName('L', 'xrange')]: scalarTensor(enc.qmax), [sideName('L', 'lsb')]: scalarTensor(k.lsb) };
    const r = await runMvm(layerXb(xb, { signedInput: k.signed }), { kind: 'dense', layer: 'L', K, N }, { data: x, dims: [B, K] }, { data: w, dims: [K, N] }, feeds, { data: dy, dims: [B, N] });
    const ref = bitTrueMvm(Int32Array.from(x), Int32Array.from(w), B, K, N, {
      rows: k.rows, mapping: k.mapping, weightBits: k.wb, cellBits: k.cb, inputBits: k.ib, dacBits: k.dac, signedInput: k.signed, adcBits: k.adcBits, lsb: k.lsb,
    });
    assert.equal(r.lsb, k.lsb);
    assert.equal(mismatches(r.acc!, ref.acc), 0, `forward case ${c}: ${JSON.stringify({ ...k, B, K, N })}`);
    // Both conversion cores: the 8-bit integer one (where it applies) and the float one.
    if (integerConversionsApply(xb, enc)) {
      const f = await runMvm(layerXb(xb, { signedInput: k.signed, integerConversions: false }), { kind: 'dense', layer: 'L', K, N }, { data: x, dims: [B, K] }, { data: w, dims: [K, N] }, feeds);
      assert.equal(mismatches(f.acc!, ref.acc), 0, `forward case ${c}, float core`);
      integerCases++;
    }
    saturatedSeen += ref.saturated;
    // Backward: dx = dy·Wᵀ on the transposed arrays, tiles of `cols` rows, signed dy, its own ADC.
    const wT = new Int32Array(N * K);
    for (let i = 0; i < K; i++) for (let j = 0; j < N; j++) wT[j * K + i] = w[i * N + j]!;
    const bref = bitTrueMvm(Int32Array.from(dy), wT, B, N, K, {
      rows: k.cols, mapping: k.mapping, weightBits: k.wb, cellBits: k.cb, inputBits: k.bib, dacBits: k.bdac, signedInput: true, adcBits: k.badcBits, lsb: r.blsb!,
    });
    assert.equal(mismatches(r.bacc!, bref.acc), 0, `backward case ${c}: ${JSON.stringify({ ...k, B, K, N })}`);
    checked += ref.acc.length + bref.acc.length;
    // Where the merge of all conversions into one GEMM is provably exact, it must match too.
    // The decision is the compiler's (the same function that fills the plan's mapping.merges).
    const mergedCfg = layerXb(xb, { signedInput: k.signed, merges: crossbarMerges(xb, { fidelity: 'exact', K, N, signedInput: k.signed }) });
    if (k.lsb === 1 && new CrossbarMvm(mergedCfg).mergeReason('forward', K, N)) {
      const m = await runMvm(mergedCfg, { kind: 'dense', layer: 'L', K, N }, { data: x, dims: [B, K] }, { data: w, dims: [K, N] }, feeds);
      assert.equal(mismatches(m.acc!, ref.acc), 0, `merged case ${c}`);
      merged++;
    }
  }
  assert.ok(merged >= 3, `${merged} configurations checked through the merged path`);
  assert.ok(integerCases >= 20, `${integerCases} configurations checked through both conversion cores`);
  assert.ok(checked > 500, `compared ${checked} outputs`);
  assert.ok(saturatedSeen > 0, 'some configurations saturate the ADC');
});

test('exact conv crossbar MVM = bit-true reference on im2col patches, 30 random configurations', async () => {
  const rng = new Rng(12, 'test/bittrue-conv');
  let integerCases = 0;
  for (let c = 0; c < 30; c++) {
    const k = randomCase(rng);
    const B = 1 + rng.int(2);
    const C = 1 + rng.int(3);
    const H = 4 + rng.int(5);
    const W = 4 + rng.int(5);
    const O = 1 + rng.int(6);
    const kh = 1 + rng.int(3);
    const kw = 1 + rng.int(3);
    const stride: [number, number] = [1 + rng.int(2), 1 + rng.int(2)];
    const p = rng.int(2);
    const pads: [number, number, number, number] = [p, p, p, p];
    const xb = xbConfig({ rows: k.rows, cols: k.cols, mapping: k.mapping, weightBits: k.wb, cellBits: k.cb, inputBits: k.ib, dacBits: k.dac, adc: adc(k.adcBits, CAL) });
    const enc = inputEncoding(k.ib, k.dac, k.signed);
    const qw = weightQmax(xb);
    const x = ints(rng, B * C * H * W, k.signed ? -enc.qmax : 0, enc.qmax, enc.qmax);
    const wt = ints(rng, O * C * kh * kw, -qw, qw, qw);
    const { cols, Ho, Wo, K } = im2colInt(Int32Array.from(x), B, C, H, W, [kh, kw], stride, pads);
    const spec = { kind: 'conv2d' as const, layer: 'L', C, H, W, O, kernel: [kh, kw] as [number, number], stride, pads, Ho, Wo };
    const feeds = { [sideName('L', 'xrange')]: scalarTensor(enc.qmax), [sideName('L', 'lsb')]: scalarTensor(k.lsb) };
    const r = await runMvm(layerXb(xb, { signedInput: k.signed }), spec, { data: x, dims: [B, C, H, W] }, { data: wt, dims: [O, C, kh, kw] }, feeds);
    // W as [K, O]: W[o, c, i, j] → row (c·kh + i)·kw + j.
    const wKN = new Int32Array(K * O);
    for (let o = 0; o < O; o++) for (let kk = 0; kk < K; kk++) wKN[kk * O + o] = wt[o * K + kk]!;
    const L = Ho * Wo;
    const ref = bitTrueMvm(cols, wKN, B * L, K, O, {
      rows: k.rows, mapping: k.mapping, weightBits: k.wb, cellBits: k.cb, inputBits: k.ib, dacBits: k.dac, signedInput: k.signed, adcBits: k.adcBits, lsb: k.lsb,
    });
    // Reference rows are (b, pixel) × O; the graph's acc is [B, O, Ho, Wo].
    const want = new Float64Array(B * O * L);
    for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) for (let o = 0; o < O; o++) want[(b * O + o) * L + l] = ref.acc[(b * L + l) * O + o]!;
    assert.equal(mismatches(r.acc!, want), 0, `conv case ${c}: ${JSON.stringify({ ...k, B, C, H, W, O, kh, kw, stride, pads })}`);
    if (integerConversionsApply(xb, enc)) {
      const f = await runMvm(layerXb(xb, { signedInput: k.signed, integerConversions: false }), spec, { data: x, dims: [B, C, H, W] }, { data: wt, dims: [O, C, kh, kw] }, feeds);
      assert.equal(mismatches(f.acc!, want), 0, `conv case ${c}, float core`);
      integerCases++;
    }
  }
  assert.ok(integerCases >= 10, `${integerCases} conv configurations checked through both conversion cores`);
});
