/**
 * Analog subtraction (`subtract = analog`): fidelity exact converts the ± planes' difference
 * I⁺ − I⁻ with one signed ADC per slice (codes ±(2^(bits−1) − 1)). Checked against the independent
 * bit-true integer reference (test/reference/bit-true.ts, its analog mode) on random
 * configurations, forward and backward, dense and conv, through both conversion cores and the
 * merged path; at lossless ADC widths both modes equal the integer product; the signed ADC needs
 * exactly one bit more than the per-plane one; and the number of conversions halves (the graph's
 * own count, the reference's and the plan's merge text).
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossbarMerges, withMerges } from '../../src/compiler/merges.js';
import { columnMaxCode, conversionWeights, inputEncoding, largestPartialSum, losslessBits, unitCurrent, weightQmax } from '../../src/model/crossbar-math.js';
import type { AdcSpec, CrossbarSpec } from '../../src/model/crossbar.js';
import { CrossbarMvm, sideName, statName } from '../../src/runtime/crossbar/emitter.js';
import { fedStep, requantPlan } from '../../src/runtime/crossbar/exact-int.js';
import { assertConfigSupported, CrossbarRuntime } from '../../src/runtime/crossbar/runtime.js';
import { loadDataset } from '../../src/runtime/data/index.js';
import { runExperiment } from '../../src/runtime/engine/run-experiment.js';
import type { MvmSpec } from '../../src/runtime/engine/mvm.js';
import { Rng } from '../../src/runtime/rng.js';
import { bitTrueMvm, im2colInt, signedAdcCode, type BitTrueConfig } from '../reference/bit-true.js';
import { adc, layerXb, planCrossbar, runMvm, scalarTensor, smallCrossbarExperiment, stepTensor, xbConfig } from './crossbar-helpers.js';

const CAL = { kind: 'calibrate' as const, percentile: 0.999 };

function ints(rng: Rng, n: number, lo: number, hi: number, peak: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + rng.int(hi - lo + 1);
  if (n > 0) out[rng.int(n)] = lo < 0 && rng.uniform() < 0.5 ? -peak : peak;
  return out;
}

function mismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) m++;
  return m;
}

/** Largest partial sum of a tile, written out: rows · (2^dac − 1) · (2^min(cell, weight bits) − 1). */
const largest = (rows: number, dac: number, cb: number, wb: number): number => rows * (2 ** dac - 1) * (2 ** Math.min(cb, wb) - 1);

function fullScaleOf(range: AdcSpec['range'], xb: CrossbarSpec, rows: number, dac: number, fed: number): number {
  if (range.kind === 'max') return largest(rows, dac, xb.cellBits, xb.weightBits);
  if (range.kind === 'fixed') return Math.fround(range.current / unitCurrent(xb, dac));
  return fed;
}

const refConfig = (xb: CrossbarSpec, o: { rows: number; inputBits: number; dacBits: number; adcBits: number; signed: boolean; F: number }): BitTrueConfig => ({
  rows: o.rows,
  mapping: xb.mapping,
  subtract: xb.subtract,
  weightBits: xb.weightBits,
  cellBits: xb.cellBits,
  inputBits: o.inputBits,
  dacBits: o.dacBits,
  signedInput: o.signed,
  adcBits: o.adcBits,
  fullScale: o.F,
});

function randomXb(rng: Rng): CrossbarSpec {
  const pick = <T>(xs: T[]): T => xs[rng.int(xs.length)]!;
  const u = rng.uniform();
  const range: AdcSpec['range'] = u < 0.5 ? CAL : u < 0.75 ? { kind: 'max' } : { kind: 'fixed', current: 2e-8 * (1 + 40 * rng.uniform()) };
  return xbConfig({
    rows: pick([4, 8, 16, 33, 64]),
    cols: pick([3, 8, 16, 64]),
    subtract: 'analog',
    weightBits: 1 + rng.int(8),
    cellBits: 1 + rng.int(4),
    inputBits: 2 + rng.int(7),
    dacBits: 1 + rng.int(3),
    adc: adc(2 + rng.int(9), range),
    backward: {
      inputBits: 2 + rng.int(7),
      dacBits: 1 + rng.int(3),
      adc: adc(2 + rng.int(9), rng.uniform() < 0.5 ? { kind: 'max' } : { kind: 'fixed', current: 1e-7 * (1 + 20 * rng.uniform()) }),
    },
  });
}

test('analog subtraction: signed codes, lossless width one bit above the per-plane one, recombination by slice only', () => {
  const xb = xbConfig({ subtract: 'analog' });
  assert.equal(columnMaxCode(xb, adc(8)), 127);
  assert.equal(columnMaxCode(xbConfig(), adc(8)), 255);
  assert.deepEqual(conversionWeights(xb), [1, 4, 16, 64]);
  assert.deepEqual(conversionWeights(xbConfig()), [1, 4, 16, 64, -1, -4, -16, -64]);
  // Exhaustively on small tiles: the narrowest b with 2^(b−1) − 1 ≥ P is losslessBits(…, true), one more than unsigned.
  for (const rows of [1, 2, 3, 8, 16, 33, 64, 128])
    for (const dac of [1, 2, 3])
      for (const cell of [1, 2, 4]) {
        const P = largestPartialSum(rows, dac, cell);
        let b = 1;
        while (2 ** (b - 1) - 1 < P) b++;
        assert.equal(losslessBits(rows, dac, cell, true), b, `${rows} rows, ${dac}-bit DAC, ${cell}-bit cells`);
        assert.equal(losslessBits(rows, dac, cell, true), losslessBits(rows, dac, cell) + 1);
      }
  // The reference's signed code is odd-symmetric, ties to even: LSB 8/7 (F = 72, M = 63) puts ±4 on ±3.5 → ±4, ±12 on ±10.5 → ±10.
  for (const [n, code] of [
    [4, 4],
    [12, 10],
    [-4, -4],
    [-12, -10],
    [-80, -63],
  ] as const)
    assert.equal(signedAdcCode(n, 72, 63).code, code, `n = ${n}`);
  assert.throws(() => assertConfigSupported(xbConfig({ subtract: 'analog', mapping: 'offset' }), 'exact'), /differential/);
  assert.throws(() => assertConfigSupported(xbConfig({ subtract: 'analog', adc: adc(1) }), 'exact'), /at least 2 bits/);
});

test('analog subtraction: exact dense MVM = bit-true reference (forward and backward, both cores, merged), 40 random configurations', async () => {
  const rng = new Rng(31, 'test/analog-dense');
  let integer = 0;
  let merged = 0;
  let saturated = 0;
  for (let c = 0; c < 40; c++) {
    const xb = randomXb(rng);
    const signed = rng.uniform() < 0.6;
    const B = 1 + rng.int(4);
    const K = 1 + rng.int(140);
    const N = 1 + rng.int(20);
    const enc = inputEncoding(xb.inputBits, xb.dacBits, signed);
    const qw = weightQmax(xb);
    const x = ints(rng, B * K, signed ? -enc.qmax : 0, enc.qmax, enc.qmax);
    const w = ints(rng, K * N, -qw, qw, qw);
    const benc = inputEncoding(xb.backward.inputBits, xb.backward.dacBits, true);
    const dy = ints(rng, B * N, -benc.qmax, benc.qmax, benc.qmax);
    const R = Math.min(xb.rows, K);
    const M = columnMaxCode(xb, xb.adc);
    // A calibrated full scale is an observed |I⁺ − I⁻|: an integer no larger than the largest partial sum.
    const fed = 1 + rng.int(largest(R, xb.dacBits, xb.cellBits, xb.weightBits));
    const feeds = { [sideName('L', 'xrange')]: scalarTensor(enc.qmax), [sideName('L', 'step')]: stepTensor(fedStep(xb, fed, M, R)) };
    const spec: MvmSpec = { kind: 'dense', layer: 'L', K, N };
    const X = { data: x, dims: [B, K] };
    const W = { data: w, dims: [K, N] };
    const r = await runMvm(layerXb(xb, { signedInput: signed }), spec, X, W, feeds, { data: dy, dims: [B, N] });
    const F = fullScaleOf(xb.adc.range, xb, R, xb.dacBits, fed);
    const ref = bitTrueMvm(Int32Array.from(x), Int32Array.from(w), B, K, N, refConfig(xb, { ...xb, rows: xb.rows, adcBits: xb.adc.bits, signed, F }));
    const what = JSON.stringify({ c, rows: xb.rows, wb: xb.weightBits, cb: xb.cellBits, ib: xb.inputBits, dac: xb.dacBits, adc: xb.adc, B, K, N, F });
    assert.equal(r.lsb, Math.fround(Math.max(F, M) / M), what);
    assert.equal(mismatches(r.acc!, ref.acc), 0, `forward ${what}`);
    saturated += ref.saturated;
    if (requantPlan(xb, enc, R)) {
      const f = await runMvm(layerXb(xb, { signedInput: signed, integerConversions: false }), spec, X, W, feeds);
      assert.equal(mismatches(f.acc!, ref.acc), 0, `forward, float core ${what}`);
      integer++;
    }
    const wT = new Int32Array(N * K);
    for (let i = 0; i < K; i++) for (let j = 0; j < N; j++) wT[j * K + i] = w[i * N + j]!;
    const bF = fullScaleOf(xb.backward.adc.range, xb, Math.min(xb.cols, N), xb.backward.dacBits, 0);
    const b = xb.backward;
    const bref = bitTrueMvm(
      Int32Array.from(dy),
      wT,
      B,
      N,
      K,
      refConfig(xb, { rows: xb.cols, inputBits: b.inputBits, dacBits: b.dacBits, adcBits: b.adc.bits, signed: true, F: bF }),
    );
    assert.equal(mismatches(r.bacc!, bref.acc), 0, `backward ${what}`);
    const mergedCfg = layerXb(xb, { signedInput: signed, merges: crossbarMerges(xb, { fidelity: 'exact', K, N, signedInput: signed }) });
    if (F <= M && new CrossbarMvm(mergedCfg).mergeReason('forward', K, N)) {
      const m = await runMvm(mergedCfg, spec, X, W, feeds);
      assert.equal(mismatches(m.acc!, ref.acc), 0, `merged ${what}`);
      merged++;
    }
  }
  assert.ok(integer >= 8, `${integer} configurations through both cores`);
  assert.ok(merged >= 2, `${merged} configurations through the merged path`);
  assert.ok(saturated > 0, 'some conversions saturate');
});

test('analog subtraction: exact conv MVM = bit-true reference on im2col patches, both cores, 15 random configurations', async () => {
  const rng = new Rng(32, 'test/analog-conv');
  let integer = 0;
  for (let c = 0; c < 15; c++) {
    const xb = randomXb(rng);
    const signed = rng.uniform() < 0.6;
    const B = 1 + rng.int(2);
    const C = 1 + rng.int(3);
    const H = 4 + rng.int(5);
    const Wd = 4 + rng.int(5);
    const O = 1 + rng.int(6);
    const kh = 1 + rng.int(3);
    const kw = 1 + rng.int(3);
    const stride: [number, number] = [1 + rng.int(2), 1 + rng.int(2)];
    const p = rng.int(2);
    const pads: [number, number, number, number] = [p, p, p, p];
    const enc = inputEncoding(xb.inputBits, xb.dacBits, signed);
    const qw = weightQmax(xb);
    const x = ints(rng, B * C * H * Wd, signed ? -enc.qmax : 0, enc.qmax, enc.qmax);
    const wt = ints(rng, O * C * kh * kw, -qw, qw, qw);
    const { cols, Ho, Wo, K } = im2colInt(Int32Array.from(x), B, C, H, Wd, [kh, kw], stride, pads);
    const spec = { kind: 'conv2d' as const, layer: 'L', C, H, W: Wd, O, kernel: [kh, kw] as [number, number], stride, pads, Ho, Wo };
    const R = Math.min(xb.rows, K);
    const M = columnMaxCode(xb, xb.adc);
    const fed = 1 + rng.int(largest(R, xb.dacBits, xb.cellBits, xb.weightBits));
    const feeds = { [sideName('L', 'xrange')]: scalarTensor(enc.qmax), [sideName('L', 'step')]: stepTensor(fedStep(xb, fed, M, R)) };
    const wKN = new Int32Array(K * O);
    for (let o = 0; o < O; o++) for (let kk = 0; kk < K; kk++) wKN[kk * O + o] = wt[o * K + kk]!;
    const L = Ho * Wo;
    const F = fullScaleOf(xb.adc.range, xb, R, xb.dacBits, fed);
    const ref = bitTrueMvm(cols, wKN, B * L, K, O, refConfig(xb, { ...xb, adcBits: xb.adc.bits, signed, F }));
    const want = new Float64Array(B * O * L);
    for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) for (let o = 0; o < O; o++) want[(b * O + o) * L + l] = ref.acc[(b * L + l) * O + o]!;
    const X = { data: x, dims: [B, C, H, Wd] };
    const Wt = { data: wt, dims: [O, C, kh, kw] };
    const r = await runMvm(layerXb(xb, { signedInput: signed }), spec, X, Wt, feeds);
    assert.equal(mismatches(r.acc!, want), 0, `conv case ${c}`);
    if (requantPlan(xb, enc, R)) {
      const f = await runMvm(layerXb(xb, { signedInput: signed, integerConversions: false }), spec, X, Wt, feeds);
      assert.equal(mismatches(f.acc!, want), 0, `conv case ${c}, float core`);
      integer++;
    }
  }
  assert.ok(integer >= 4, `${integer} conv configurations through both cores`);
});

test('lossless ADCs: both modes equal the ideal integer product; the analog one needs its extra bit; conversions halve', async () => {
  const rng = new Rng(33, 'test/analog-lossless');
  // 8-row tiles, 1-bit DACs, 2-bit cells: partial sums up to 24, lossless at 5 bits per plane, 6 signed.
  const rows = 8;
  const K = 20,
    N = 6,
    B = 3;
  const base = { rows, cols: 8, weightBits: 6, cellBits: 2, inputBits: 5, dacBits: 1 };
  const enc = inputEncoding(5, 1, true);
  assert.deepEqual([losslessBits(rows, 1, 2), losslessBits(rows, 1, 2, true)], [5, 6]);
  const digital = xbConfig({ ...base, adc: adc(losslessBits(rows, 1, 2), { kind: 'max' }) });
  const analog = xbConfig({ ...base, subtract: 'analog', adc: adc(losslessBits(rows, 1, 2, true), { kind: 'max' }) });
  const qw = weightQmax(digital);
  const x = ints(rng, B * K, -enc.qmax, enc.qmax, enc.qmax);
  const w = ints(rng, K * N, -qw, qw, qw);
  // Column 0 all at the top weight and sample 0 all at the top input: its top-slice partial sums reach the largest one.
  for (let k = 0; k < K; k++) {
    w[k * N] = qw;
    x[k] = enc.qmax;
  }
  const ideal = new Float64Array(B * N);
  for (let b = 0; b < B; b++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) ideal[b * N + n]! += x[b * K + k]! * w[k * N + n]!;
  const spec: MvmSpec = { kind: 'dense', layer: 'L', K, N };
  const X = { data: x, dims: [B, K] };
  const W = { data: w, dims: [K, N] };
  const feeds = { [sideName('L', 'xrange')]: scalarTensor(enc.qmax) };
  const conversions: Record<string, number> = {};
  for (const xb of [digital, analog]) {
    for (const integerConversions of [true, false]) {
      const r = await runMvm(layerXb(xb, { integerConversions }), spec, X, W, feeds);
      assert.equal(mismatches(r.acc!, ideal), 0, `${xb.subtract}, ${integerConversions ? 'integer' : 'float'} core = x·W`);
    }
    // The statistics graph counts the conversions it makes (the saturation tensor's size).
    const s = await runMvm(layerXb(xb, { outputs: 'stats' }), spec, X, W, feeds);
    conversions[xb.subtract] = (s.out[statName('L', 'conv')]!.data as Float32Array)[0]!;
    assert.equal((s.out[statName('L', 'sat')]!.data as Float32Array)[0], 0, `${xb.subtract}: nothing saturates at the lossless width`);
    const ref = bitTrueMvm(
      Int32Array.from(x),
      Int32Array.from(w),
      B,
      K,
      N,
      refConfig(xb, { ...xb, adcBits: xb.adc.bits, signed: true, F: largest(rows, 1, 2, 6) }),
    );
    assert.equal(mismatches(ref.acc, ideal), 0, `${xb.subtract}: the reference is lossless too`);
    assert.equal(ref.conversions, conversions[xb.subtract], `${xb.subtract}: the graph converts as often as the reference`);
    assert.ok(crossbarMerges(xb, { fidelity: 'exact', K, N, signedInput: true, directions: ['forward'] })[0]!.applied, `${xb.subtract}: the merge applies`);
  }
  // 3 row tiles × 3 slices × 5 two's-complement streams × B × N, times 2 planes or 1.
  assert.equal(conversions['digital'], 3 * 3 * 5 * B * N * 2);
  assert.equal(conversions['analog'], conversions['digital']! / 2);
  // The plan's merge text counts the same per output.
  const what = (xb: CrossbarSpec) => crossbarMerges(xb, { fidelity: 'exact', K, N, signedInput: true, directions: ['forward'] })[0]!.what;
  assert.match(what(digital), /3 row tiles × 3 slices × 2 planes × 5 streams = 90 ADC conversions/);
  assert.match(what(analog), /3 row tiles × 3 slices × 1 plane difference \(I⁺ − I⁻ in analog\) × 5 streams = 45 ADC conversions/);
  // Fidelity fast folds the planes before its one layer-level signed ADC in either mode: the same numbers.
  const fastFeeds = { ...feeds, [sideName('L', 'step')]: stepTensor([31, 1000, 0]) };
  const fast = async (xb: CrossbarSpec) => (await runMvm(layerXb({ ...xb, adc: adc(6, CAL) }, { fidelity: 'fast' }), spec, X, W, fastFeeds)).y;
  const fastY = await fast(digital);
  assert.ok(fastY.some((v) => v !== 0));
  assert.deepEqual(Array.from(await fast(analog)), Array.from(fastY));
  // One bit less than the signed lossless width (the per-plane lossless width) clips the largest difference.
  const short = { ...analog, adc: adc(losslessBits(rows, 1, 2), { kind: 'max' }) };
  const merge = crossbarMerges(short, { fidelity: 'exact', K, N, signedInput: true, directions: ['forward'] })[0]!;
  assert.equal(merge.applied, false);
  assert.match(merge.reason, /adc.bits = 5 < 6 needed for 8-row tiles \(signed ADC\): plane differences up to ±24/);
  const r = await runMvm(layerXb(short), spec, X, W, feeds);
  assert.ok(mismatches(r.acc!, ideal) > 0, 'a signed ADC at the unsigned lossless width loses information');
  assert.equal(r.lsb, Math.fround(24 / 15), 'the `max` range spreads ±24 over ±15 codes');
});

test('an experiment at fidelity exact with subtract = analog: calibrated signed steps, lossless merges, per-conversion = merged, coarse ADCs not merged', async () => {
  const xb = (bits: number, over: Partial<CrossbarSpec> = {}) =>
    planCrossbar({ subtract: 'analog', adc: adc(bits, { kind: 'calibrate', percentile: 0.999 }), ...over });
  // The runtime's calibrated step uses the signed ADC's ±31 codes at 6 bits (the per-plane one has 63).
  const rt = CrossbarRuntime.create(withMerges(smallCrossbarExperiment('exact', [], xb(6))), { threads: 1 })!;
  rt.setRanges('fc1', { xrange: 1, fullScale: 62 });
  assert.deepEqual(rt.getRanges('fc1')!.step.slice(0, 2), [1, 2]);
  const digital = CrossbarRuntime.create(withMerges(smallCrossbarExperiment('exact', [], xb(6, { subtract: 'digital' }))), { threads: 1 })!;
  digital.setRanges('fc1', { xrange: 1, fullScale: 62 });
  assert.deepEqual(digital.getRanges('fc1')!.step.slice(0, 2), [1, 1]);
  // 32-row tiles, 1-bit DACs, 2-bit cells: differences up to ±96 fit a signed 8-bit ADC (±127).
  const exp = withMerges(smallCrossbarExperiment('exact', [], xb(8), { train: 400, test: 200 }));
  const d = await loadDataset(exp.data, exp.seed);
  const merged = await runExperiment(exp, d, { trainer: { threads: 1 } });
  const every = await runExperiment(exp, d, { trainer: { threads: 1 }, crossbar: { mergeLossless: false } });
  assert.ok(
    merged.layers!.every((l) => /lossless 8-bit signed ADC on I⁺ − I⁻/.test(String(l['mergedExact']))),
    JSON.stringify(merged.layers),
  );
  assert.ok(every.layers!.every((l) => l['mergedExact'] === null && l.adcSaturation === 0));
  assert.equal(every.final.testAccuracy, merged.final.testAccuracy, 'per-conversion and merged evaluation agree');
  // 5 bits (±15 codes): lossy, per conversion, still a working network.
  const coarse = await runExperiment(withMerges(smallCrossbarExperiment('exact', [], xb(5), { train: 400, test: 200 })), d, { trainer: { threads: 1 } });
  assert.ok(
    coarse.layers!.every((l) => l['mergedExact'] === null && (l.snrDb ?? 0) > 5),
    JSON.stringify(coarse.layers),
  );
  assert.ok(coarse.final.testAccuracy > 0.5, `accuracy ${coarse.final.testAccuracy}`);
});

test('analog subtraction: a negative difference on a half code rounds to even in both cores (LSB 8/7: −3.5 → −4, 10.5 → 10)', async () => {
  // 8-row tile, 4-bit weights on 2-bit cells, 4-bit unsigned inputs on 2-bit DACs, 7-bit signed ADC
  // at `max` (±63 codes over ±72 levels): LSB = 8/7. Column 0: n = −4 (−3.5 LSB); column 1: n = 12 (10.5 LSB).
  const xb = xbConfig({ rows: 8, cols: 8, subtract: 'analog', weightBits: 4, cellBits: 2, inputBits: 4, dacBits: 2, adc: adc(7, { kind: 'max' }) });
  const K = 8,
    N = 3;
  const x = Float32Array.of(1, 1, 1, 1, 3, 3, 3, 3);
  const w = new Float32Array(K * N);
  [-1, -1, -1, -1, 0, 0, 0, 0].forEach((v, k) => (w[k * N] = v));
  [0, 0, 0, 0, 1, 1, 1, 1].forEach((v, k) => (w[k * N + 1] = v));
  w[2] = 15; // sets the weight scale to 1 (meets x = 1: 15 = slices 3, 3; stream 0 only)
  const ref = bitTrueMvm(Int32Array.from(x), Int32Array.from(w), 1, K, N, refConfig(xb, { ...xb, adcBits: 7, signed: false, F: 72 }));
  assert.deepEqual(Array.from(ref.acc.subarray(0, 2)), [-4, 10]);
  const feeds = { [sideName('L', 'xrange')]: scalarTensor(15) };
  assert.equal(requantPlan(xb, inputEncoding(4, 2, false), 8)?.kind, 'scale');
  for (const integerConversions of [true, false]) {
    const r = await runMvm(
      layerXb(xb, { signedInput: false, integerConversions }),
      { kind: 'dense', layer: 'L', K, N },
      { data: x, dims: [1, K] },
      { data: w, dims: [K, N] },
      feeds,
    );
    assert.deepEqual(Array.from(r.acc!), Array.from(ref.acc), integerConversions ? 'integer core' : 'float core');
    assert.equal(r.lsb, Math.fround(8 / 7));
  }
});
