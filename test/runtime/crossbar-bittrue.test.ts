/**
 * The exact-fidelity crossbar MVM (ONNX graph) against the independent bit-true integer
 * reference (test/reference/bit-true.ts) on many random small configurations: every tile ×
 * stream × plane × slice ADC code, shift-added, must match exactly (zero mismatches), forward
 * and backward, dense and conv, through both conversion cores (8-bit integer and float). The
 * reference rounds n/LSB as an exact rational, so half-code ties must round to even; dedicated
 * cases put partial sums on ties, and others slice weights into a narrow top slice.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossbarMerges } from '../../src/compiler/merges.js';
import { adcMaxCode, adcStep, inputEncoding, sliceBits, unitCurrent, weightQmax, widestSliceLevel } from '../../src/model/crossbar-math.js';
import type { AdcSpec, CrossbarSpec } from '../../src/model/crossbar.js';
import { CrossbarMvm, sideName } from '../../src/runtime/crossbar/emitter.js';
import { fedStep, requantPlan } from '../../src/runtime/crossbar/exact-int.js';
import type { MvmSpec } from '../../src/runtime/engine/mvm.js';
import { Rng } from '../../src/runtime/rng.js';
import { adcCode, bitTrueMvm, im2colInt } from '../reference/bit-true.js';
import { adc, layerXb, runMvm, scalarTensor, stepTensor, xbConfig } from './crossbar-helpers.js';

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

/** Largest partial sum of a tile: rows · (2^dac − 1) · (2^min(cell, weight bits) − 1), written out independently of config.ts. */
const largest = (rows: number, dacBits: number, cellBits: number, weightBits: number): number =>
  rows * (2 ** dacBits - 1) * (2 ** Math.min(cellBits, weightBits) - 1);

/**
 * The full scale (level units) the graph's ADC works with, for the reference: `max` the largest
 * partial sum of the tiles in use, `fixed` the current in level units rounded to float32 (the
 * graph holds float32), `calibrate` the fed value.
 */
function fullScaleOf(range: AdcSpec['range'], xb: CrossbarSpec, rows: number, dacBits: number, fed: number): number {
  if (range.kind === 'max') return largest(rows, dacBits, xb.cellBits, xb.weightBits);
  if (range.kind === 'fixed') return Math.fround(range.current / unitCurrent(xb, dacBits));
  return fed;
}

interface Case {
  mapping: 'differential' | 'offset';
  wb: number;
  cb: number;
  ib: number;
  dac: number;
  signed: boolean;
  rows: number;
  cols: number;
  adcBits: number;
  range: AdcSpec['range'];
  bib: number;
  bdac: number;
  badcBits: number;
}

/** A case's array and converter geometry, as xbConfig takes it. */
function caseArray(k: Case) {
  return { rows: k.rows, cols: k.cols, mapping: k.mapping, weightBits: k.wb, cellBits: k.cb, inputBits: k.ib, dacBits: k.dac };
}

/** The bit-true reference's options for a case's forward MVM on full scale F. */
function forwardRefOptions(k: Case, F: number) {
  return {
    rows: k.rows,
    mapping: k.mapping,
    weightBits: k.wb,
    cellBits: k.cb,
    inputBits: k.ib,
    dacBits: k.dac,
    signedInput: k.signed,
    adcBits: k.adcBits,
    fullScale: F,
  };
}

function randomCase(rng: Rng): Case {
  const mapping = rng.uniform() < 0.6 ? 'differential' : 'offset';
  const pick = <T>(xs: T[]): T => xs[rng.int(xs.length)]!;
  const u = rng.uniform();
  return {
    mapping,
    // weight_bits not a multiple of cell_bits half the time: a narrow top slice.
    wb: mapping === 'offset' ? 2 + rng.int(7) : 1 + rng.int(8),
    cb: 1 + rng.int(4),
    ib: 2 + rng.int(7),
    dac: 1 + rng.int(3),
    signed: rng.uniform() < 0.6,
    rows: pick([4, 8, 16, 33, 64]),
    cols: pick([3, 8, 16, 64]),
    adcBits: 2 + rng.int(9),
    // Lossy steps too: integer and non-integer full scales exercise ties and clipping.
    range: u < 0.5 ? CAL : u < 0.75 ? { kind: 'max' } : { kind: 'fixed', current: 2e-8 * (1 + 40 * rng.uniform()) },
    bib: 2 + rng.int(7),
    bdac: 1 + rng.int(3),
    badcBits: 3 + rng.int(8),
  };
}

/**
 * A calibrated full scale as the calibration pass produces it for ideal devices: an observed
 * partial sum, so an integer no larger than the largest one (a one-level step where that fits
 * the codes; the integer core relies on it).
 */
const calibratedFullScale = (rng: Rng, worst: number): number => 1 + rng.int(worst);

test('exact dense crossbar MVM = bit-true reference (forward and backward), 80 random configurations', async () => {
  const rng = new Rng(11, 'test/bittrue-dense');
  let checked = 0;
  let saturatedSeen = 0;
  let merged = 0;
  const integerKinds = { scale: 0, divide: 0, 'calibrated/scale': 0, 'calibrated/divide': 0 };
  for (let c = 0; c < 80; c++) {
    const k = randomCase(rng);
    const B = 1 + rng.int(4);
    const K = 1 + rng.int(140);
    const N = 1 + rng.int(20);
    const xb = xbConfig({
      ...caseArray(k),
      adc: adc(k.adcBits, k.range),
      backward: {
        inputBits: k.bib,
        dacBits: k.bdac,
        adc: adc(k.badcBits, rng.uniform() < 0.5 ? { kind: 'max' } : { kind: 'fixed', current: 1e-7 * (1 + 20 * rng.uniform()) }),
      },
    });
    const enc = inputEncoding(k.ib, k.dac, k.signed);
    const qw = weightQmax(xb);
    const x = ints(rng, B * K, k.signed ? -enc.qmax : 0, enc.qmax, enc.qmax);
    const w = ints(rng, K * N, -qw, qw, qw);
    const benc = inputEncoding(k.bib, k.bdac, true);
    const dy = ints(rng, B * N, -benc.qmax, benc.qmax, benc.qmax);
    const R = Math.min(k.rows, K);
    const M = 2 ** k.adcBits - 1;
    const fed = calibratedFullScale(rng, largest(R, k.dac, k.cb, k.wb));
    const step = fedStep(xb, fed, M, R);
    const feeds = { [sideName('L', 'xrange')]: scalarTensor(enc.qmax), [sideName('L', 'step')]: stepTensor(step) };
    const r = await runMvm(
      layerXb(xb, { signedInput: k.signed }),
      { kind: 'dense', layer: 'L', K, N },
      { data: x, dims: [B, K] },
      { data: w, dims: [K, N] },
      feeds,
      { data: dy, dims: [B, N] },
    );
    const F = fullScaleOf(k.range, xb, R, k.dac, fed);
    const ref = bitTrueMvm(Int32Array.from(x), Int32Array.from(w), B, K, N, forwardRefOptions(k, F));
    assert.equal(r.lsb, Math.fround(Math.max(F, M) / M));
    assert.equal(mismatches(r.acc!, ref.acc), 0, `forward case ${c}: ${JSON.stringify({ ...k, B, K, N, F })}`);
    // Both conversion cores: the 8-bit integer one (where it applies) and the float one.
    const plan = requantPlan(xb, enc, R);
    if (plan) {
      const f = await runMvm(
        layerXb(xb, { signedInput: k.signed, integerConversions: false }),
        { kind: 'dense', layer: 'L', K, N },
        { data: x, dims: [B, K] },
        { data: w, dims: [K, N] },
        feeds,
      );
      assert.equal(mismatches(f.acc!, ref.acc), 0, `forward case ${c}, float core`);
      integerKinds[plan.kind === 'choose' ? (step[2] > 0 ? 'calibrated/scale' : 'calibrated/divide') : plan.kind]++;
    }
    saturatedSeen += ref.saturated;
    // Backward: dx = dy·Wᵀ on the transposed arrays, tiles of `cols` rows, signed dy, its own ADC.
    const wT = new Int32Array(N * K);
    for (let i = 0; i < K; i++) for (let j = 0; j < N; j++) wT[j * K + i] = w[i * N + j]!;
    const bF = fullScaleOf(xb.backward.adc.range, xb, Math.min(k.cols, N), k.bdac, 0);
    const bref = bitTrueMvm(Int32Array.from(dy), wT, B, N, K, {
      rows: k.cols,
      mapping: k.mapping,
      weightBits: k.wb,
      cellBits: k.cb,
      inputBits: k.bib,
      dacBits: k.bdac,
      signedInput: true,
      adcBits: k.badcBits,
      fullScale: bF,
    });
    assert.equal(mismatches(r.bacc!, bref.acc), 0, `backward case ${c}: ${JSON.stringify({ ...k, B, K, N, bF })}`);
    checked += ref.acc.length + bref.acc.length;
    // Where the merge of all conversions into one GEMM is provably exact, it must match too.
    // The decision is the compiler's (the same function that fills the plan's mapping.merges).
    const mergedCfg = layerXb(xb, { signedInput: k.signed, merges: crossbarMerges(xb, { fidelity: 'exact', K, N, signedInput: k.signed }) });
    if (F <= M && new CrossbarMvm(mergedCfg).mergeReason('forward', K, N)) {
      const m = await runMvm(mergedCfg, { kind: 'dense', layer: 'L', K, N }, { data: x, dims: [B, K] }, { data: w, dims: [K, N] }, feeds);
      assert.equal(mismatches(m.acc!, ref.acc), 0, `merged case ${c}`);
      merged++;
    }
  }
  assert.ok(merged >= 3, `${merged} configurations checked through the merged path`);
  // (Steps without an exact multiplier are rare at random: the divide requantization has its own tests below.)
  assert.ok(
    integerKinds.scale >= 5 && integerKinds['calibrated/scale'] >= 5,
    `configurations checked through both conversion cores: ${JSON.stringify(integerKinds)}`,
  );
  assert.ok(checked > 500, `compared ${checked} outputs`);
  assert.ok(saturatedSeen > 0, 'some configurations saturate the ADC');
});

test('adc.rounding = truncate: exact dense MVM = bit-true reference with ⌊n·M/F⌋ per conversion (offset: column and reference each truncated), 40 random configurations', async () => {
  const rng = new Rng(12, 'test/bittrue-truncate');
  let differs = 0;
  let checked = 0;
  for (let c = 0; c < 40; c++) {
    const k = randomCase(rng);
    const B = 1 + rng.int(3);
    const K = 1 + rng.int(140);
    const N = 1 + rng.int(12);
    // max and fixed ranges (a calibrated step comes from a fed side input, covered above for rounding).
    const range: AdcSpec['range'] = rng.uniform() < 0.5 ? { kind: 'max' } : { kind: 'fixed', current: 2e-8 * (1 + 40 * rng.uniform()) };
    const xb = xbConfig({
      ...caseArray(k),
      adc: { ...adc(k.adcBits, range), rounding: 'truncate' },
    });
    const enc = inputEncoding(k.ib, k.dac, k.signed);
    const qw = weightQmax(xb);
    const x = ints(rng, B * K, k.signed ? -enc.qmax : 0, enc.qmax, enc.qmax);
    const w = ints(rng, K * N, -qw, qw, qw);
    const R = Math.min(k.rows, K);
    const feeds = { [sideName('L', 'xrange')]: scalarTensor(enc.qmax) };
    const r = await runMvm(
      layerXb(xb, { signedInput: k.signed }),
      { kind: 'dense', layer: 'L', K, N },
      { data: x, dims: [B, K] },
      { data: w, dims: [K, N] },
      feeds,
    );
    const F = fullScaleOf(range, xb, R, k.dac, 0);
    const base = forwardRefOptions(k, F);
    const ref = bitTrueMvm(Int32Array.from(x), Int32Array.from(w), B, K, N, { ...base, rounding: 'truncate' });
    assert.equal(mismatches(r.acc!, ref.acc), 0, `truncate case ${c}: ${JSON.stringify({ ...k, range, B, K, N, F })}`);
    if (mismatches(ref.acc, bitTrueMvm(Int32Array.from(x), Int32Array.from(w), B, K, N, base).acc) > 0) differs++;
    checked += ref.acc.length;
  }
  assert.ok(differs >= 10, `${differs} configurations where truncation and rounding differ`);
  assert.ok(checked > 200, `compared ${checked} outputs`);
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
    const xb = xbConfig({
      ...caseArray(k),
      adc: adc(k.adcBits, k.range),
    });
    const enc = inputEncoding(k.ib, k.dac, k.signed);
    const qw = weightQmax(xb);
    const x = ints(rng, B * C * H * W, k.signed ? -enc.qmax : 0, enc.qmax, enc.qmax);
    const wt = ints(rng, O * C * kh * kw, -qw, qw, qw);
    const { cols, Ho, Wo, K } = im2colInt(Int32Array.from(x), B, C, H, W, [kh, kw], stride, pads);
    const spec = { kind: 'conv2d' as const, layer: 'L', C, H, W, O, kernel: [kh, kw] as [number, number], stride, pads, Ho, Wo };
    const R = Math.min(k.rows, K);
    const M = 2 ** k.adcBits - 1;
    const fed = calibratedFullScale(rng, largest(R, k.dac, k.cb, k.wb));
    const feeds = { [sideName('L', 'xrange')]: scalarTensor(enc.qmax), [sideName('L', 'step')]: stepTensor(fedStep(xb, fed, M, R)) };
    const r = await runMvm(layerXb(xb, { signedInput: k.signed }), spec, { data: x, dims: [B, C, H, W] }, { data: wt, dims: [O, C, kh, kw] }, feeds);
    // W as [K, O]: W[o, c, i, j] → row (c·kh + i)·kw + j.
    const wKN = new Int32Array(K * O);
    for (let o = 0; o < O; o++) for (let kk = 0; kk < K; kk++) wKN[kk * O + o] = wt[o * K + kk]!;
    const L = Ho * Wo;
    const ref = bitTrueMvm(cols, wKN, B * L, K, O, forwardRefOptions(k, fullScaleOf(k.range, xb, R, k.dac, fed)));
    // Reference rows are (b, pixel) × O; the graph's acc is [B, O, Ho, Wo].
    const want = new Float64Array(B * O * L);
    for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) for (let o = 0; o < O; o++) want[(b * O + o) * L + l] = ref.acc[(b * L + l) * O + o]!;
    assert.equal(mismatches(r.acc!, want), 0, `conv case ${c}: ${JSON.stringify({ ...k, B, C, H, W, O, kh, kw, stride, pads })}`);
    if (requantPlan(xb, enc, R)) {
      const f = await runMvm(
        layerXb(xb, { signedInput: k.signed, integerConversions: false }),
        spec,
        { data: x, dims: [B, C, H, W] },
        { data: wt, dims: [O, C, kh, kw] },
        feeds,
      );
      assert.equal(mismatches(f.acc!, want), 0, `conv case ${c}, float core`);
      integerCases++;
    }
  }
  assert.ok(integerCases >= 10, `${integerCases} conv configurations checked through both conversion cores`);
});

// ---- half-code ties ------------------------------------------------------------------------------

/**
 * One output column whose only non-zero partial sum is n = Σ x_r·w_r: weights below 2^cell_bits
 * (slice 0 only), unsigned inputs below 2^dac_bits (stream 0 only), on the + plane.
 */
function singleSum(rows: number, n: number, cellBits: number, dacBits: number): { x: Float32Array; w: Float32Array } {
  const x = new Float32Array(rows);
  const w = new Float32Array(rows);
  const wl = 2 ** cellBits - 1;
  let left = n;
  for (let r = 0; r < rows && left > 0; r++) {
    // One row carries x·w = min(left, x_max·w_max); the rest of the sum goes to later rows.
    const xr = Math.min(2 ** dacBits - 1, Math.ceil(left / wl));
    const wr = Math.min(wl, Math.floor(left / xr));
    x[r] = xr;
    w[r] = wr;
    left -= xr * wr;
  }
  assert.equal(left, 0, `partial sum ${n} does not fit ${rows} rows`);
  return { x, w };
}

/** Every converter path of the exact forward at one configuration: integer core (where it applies), float core. */
async function exactPaths(
  xb: CrossbarSpec,
  spec: MvmSpec,
  x: Float32Array,
  w: Float32Array,
  feeds: Record<string, ReturnType<typeof scalarTensor>>,
  B: number,
): Promise<{ name: string; acc: Float32Array; lsb: number }[]> {
  const K = spec.kind === 'dense' ? spec.K : 0;
  const N = spec.kind === 'dense' ? spec.N : 0;
  const out: { name: string; acc: Float32Array; lsb: number }[] = [];
  for (const integerConversions of [true, false]) {
    const r = await runMvm(layerXb(xb, { signedInput: false, integerConversions }), spec, { data: x, dims: [B, K] }, { data: w, dims: [K, N] }, feeds);
    out.push({ name: integerConversions ? 'integer core' : 'float core', acc: r.acc!, lsb: r.lsb! });
  }
  return out;
}

test('ADC ties round half to even, exactly, in both cores: LSB = 8/7, 16/7, 32/7, 16/15, 8/3 (max range), calibrated and fixed steps', async () => {
  // The partial sums n that land on half codes, with the codes round half to even gives:
  // n·M/F = 3.5 → 4, 10.5 → 10, 7.5 → 8, 1.5 → 2.
  const cases: { rows: number; dac: number; cell: number; wb: number; bits: number; lsb: [number, number]; ties: [number, number][] }[] = [
    {
      rows: 8,
      dac: 2,
      cell: 2,
      wb: 4,
      bits: 6,
      lsb: [8, 7],
      ties: [
        [4, 4],
        [12, 10],
        [20, 18],
        [28, 24],
      ],
    },
    {
      rows: 16,
      dac: 2,
      cell: 2,
      wb: 4,
      bits: 6,
      lsb: [16, 7],
      ties: [
        [8, 4],
        [24, 10],
      ],
    },
    {
      rows: 32,
      dac: 2,
      cell: 2,
      wb: 4,
      bits: 6,
      lsb: [32, 7],
      ties: [
        [16, 4],
        [48, 10],
      ],
    },
    { rows: 16, dac: 1, cell: 1, wb: 4, bits: 4, lsb: [16, 15], ties: [[8, 8]] },
    { rows: 8, dac: 1, cell: 1, wb: 4, bits: 2, lsb: [8, 3], ties: [[4, 2]] },
  ];
  // The defect these cases pin down: the step applied as a product with float32(1/float32(LSB)).
  const old = (n: number, F: number, M: number): number => Math.round(Math.fround(n * Math.fround(1 / Math.fround(F / M))));
  assert.equal(old(4, 72, 63), 3, 'the old conversion rounded the tie 3.5 at LSB 8/7 down');
  let integerRuns = 0;
  for (const c of cases) {
    const M = 2 ** c.bits - 1;
    const F = largest(c.rows, c.dac, c.cell, c.wb);
    assert.equal(F * c.lsb[1], M * c.lsb[0], `LSB = ${c.lsb[0]}/${c.lsb[1]}`);
    const ranges: [string, AdcSpec['range'], number][] = [
      ['max', { kind: 'max' }, F],
      // The same step as a fixed current of F level units, and as a calibrated full scale (fed
      // with its exact multiplier, and without one: the integer core's divide branch).
      ['fixed', { kind: 'fixed', current: F * unitCurrent(xbConfig({ cellBits: c.cell }), c.dac) }, F],
      ['calibrate', CAL, F],
      ['calibrate, divide', CAL, F],
    ];
    for (const [name, range, fs] of ranges) {
      const xb = xbConfig({ rows: c.rows, cols: 8, weightBits: c.wb, cellBits: c.cell, inputBits: 4, dacBits: c.dac, adc: adc(c.bits, range) });
      if (range.kind === 'fixed') assert.equal(Math.fround(range.current / unitCurrent(xb, c.dac)), F, 'the fixed current is F level units in float32');
      for (const [n, code] of c.ties) {
        assert.equal(adcCode(n, fs, M).code, code, `reference: n = ${n} at LSB ${c.lsb.join('/')}`);
        const codeBelow = Math.round(((n - 1) * M) / F);
        // Sample 0 × column 0 sums to the tie, sample 1 × column 1 to the sum below it (no tie);
        // column 2 holds the largest weight, so that the mapping's weight scale is 1.
        const one = singleSum(c.rows, n, c.cell, c.dac);
        const below = singleSum(c.rows, n - 1, c.cell, c.dac);
        const K = c.rows,
          N = 3;
        const x = new Float32Array(2 * K);
        x.set(one.x, 0);
        x.set(below.x, K);
        const w = new Float32Array(K * N);
        for (let r = 0; r < K; r++) {
          w[r * N] = one.w[r]!;
          w[r * N + 1] = below.w[r]!;
        }
        w[2] = 2 ** c.wb - 1;
        const step = fedStep(xb, fs, M, c.rows);
        if (name === 'calibrate') assert.ok(step[2] > 0, `an exact multiplier for LSB ${c.lsb.join('/')}`);
        const feeds = {
          [sideName('L', 'xrange')]: scalarTensor(15),
          [sideName('L', 'step')]: stepTensor(name === 'calibrate, divide' ? [step[0], step[1], 0] : step),
        };
        const spec: MvmSpec = { kind: 'dense', layer: 'L', K, N };
        const ref = bitTrueMvm(Int32Array.from(x), Int32Array.from(w), 2, K, N, {
          rows: c.rows,
          mapping: 'differential',
          weightBits: c.wb,
          cellBits: c.cell,
          inputBits: 4,
          dacBits: c.dac,
          signedInput: false,
          adcBits: c.bits,
          fullScale: fs,
        });
        assert.equal(ref.acc[0], code, `reference shift-add: the tie's code at ${name}`);
        for (const path of await exactPaths(xb, spec, x, w, feeds, 2)) {
          assert.equal(path.acc[0], code, `${path.name}, ${name} range, LSB ${c.lsb.join('/')}: n = ${n} → ${code}`);
          assert.equal(path.acc[N + 1], codeBelow, `${path.name}, ${name}: n = ${n - 1} → ${codeBelow}`);
          assert.equal(mismatches(path.acc, ref.acc), 0, `${path.name}, ${name}: all outputs = reference`);
          assert.equal(path.lsb, Math.fround(c.lsb[0] / c.lsb[1]));
        }
        if (requantPlan(xb, inputEncoding(4, c.dac, false), c.rows)) integerRuns++;
      }
    }
  }
  assert.ok(integerRuns >= 20, `${integerRuns} tie cases ran through the integer core`);
});

test('ties at a step without an exact QLinearMatMul multiplier take the divide requantization and stay exact', async () => {
  // 64 rows × 1-bit DAC × 2-bit cells, 6-bit ADC: full scale 108 gives LSB 12/7 (a = 7, b = 12),
  // with ties at n = 6 (3.5 → 4) and n = 18 (10.5 → 10) rounding in opposite directions: no single
  // float32 multiplier rounds both right (exact-int.ts `exactMultiplier`).
  const M = 63;
  assert.deepEqual(adcStep(108, M), { a: 7, b: 12 });
  const xb0 = xbConfig({ rows: 64, cols: 8, weightBits: 2, cellBits: 2, inputBits: 1, dacBits: 1, adc: adc(6, { kind: 'max' }) });
  const u = unitCurrent(xb0, 1);
  const xb = { ...xb0, adc: adc(6, { kind: 'fixed', current: 108 * u }) };
  const enc = inputEncoding(1, 1, false);
  const plan = requantPlan(xb, enc, 64);
  assert.equal(plan?.kind, 'divide');
  const rng = new Rng(5, 'test/bittrue-divide');
  const B = 6,
    K = 64,
    N = 9;
  // Sparse 0/1 inputs and small weights: partial sums around the ties.
  const x = Float32Array.from({ length: B * K }, () => (rng.uniform() < 0.2 ? 1 : 0));
  const w = Float32Array.from({ length: K * N }, () => rng.int(4) * (rng.uniform() < 0.5 ? 1 : -1));
  w[0] = 3; // the largest weight: the mapping's weight scale is 1
  const spec: MvmSpec = { kind: 'dense', layer: 'L', K, N };
  const ref = bitTrueMvm(Int32Array.from(x), Int32Array.from(w), B, K, N, {
    rows: 64,
    mapping: 'differential',
    weightBits: 2,
    cellBits: 2,
    inputBits: 1,
    dacBits: 1,
    signedInput: false,
    adcBits: 6,
    fullScale: 108,
  });
  for (const path of await exactPaths(xb, spec, x, w, { [sideName('L', 'xrange')]: scalarTensor(1) }, B))
    assert.equal(mismatches(path.acc, ref.acc), 0, path.name);
  // The same step calibrated: fed without a multiplier, the If takes the divide branch.
  const cal = { ...xb0, adc: adc(6, CAL) };
  const step = fedStep(cal, 108, M, 64);
  assert.deepEqual(step, [7, 12, 0]);
  assert.equal(requantPlan(cal, enc, 64)?.kind, 'choose');
  for (const path of await exactPaths(cal, spec, x, w, { [sideName('L', 'xrange')]: scalarTensor(1), [sideName('L', 'step')]: stepTensor(step) }, B))
    assert.equal(mismatches(path.acc, ref.acc), 0, `calibrated, ${path.name}`);
  // The partial sums include both ties.
  const sums = new Set<number>();
  for (let b = 0; b < B; b++)
    for (let n = 0; n < N; n++)
      for (const sign of [1, -1]) sums.add(Array.from({ length: K }, (_, k) => x[b * K + k]! * Math.max(0, sign * w[k * N + n]!)).reduce((s, v) => s + v, 0));
  assert.ok(sums.has(6) && sums.has(18), `partial sums seen: ${[...sums].sort((p, q) => p - q).join(' ')}`);
});

test('a near-tie of a non-integer full scale: float32 cannot round it, the float core divides in float64 and the integer core finds an exact multiplier', async () => {
  // fixed full scale float32(176.4) = 176.39999389… level units on a 6-bit ADC: n = 7 gives
  // 7·63/176.39999389 = 2.50000008657 (code 3), whose float32 quotient is 2.5 (code 2).
  const F = Math.fround(176.4);
  const M = 63;
  assert.equal(Math.fround((7 * M) / F), 2.5, 'the float32 quotient is the tie 2.5, which rounds to 2');
  assert.equal(adcCode(7, F, M).code, 3);
  const xb0 = xbConfig({ rows: 8, cols: 8, weightBits: 1, cellBits: 1, inputBits: 1, dacBits: 1, adc: adc(6, { kind: 'max' }) });
  const xb = { ...xb0, adc: adc(6, { kind: 'fixed', current: F * unitCurrent(xb0, 1) }) };
  assert.equal(Math.fround(xb.adc.range.kind === 'fixed' ? xb.adc.range.current / unitCurrent(xb, 1) : 0), F);
  const plan = requantPlan(xb, inputEncoding(1, 1, false), 8);
  assert.equal(plan?.kind, 'scale');
  assert.notEqual(plan!.s, Math.fround(plan!.a! / plan!.b!), 'a neighbour of float32(a/b) is the exact multiplier');
  // Sample b has b + 1 inputs at 1 on a column of ones: partial sums 1 … 8.
  const B = 8,
    K = 8,
    N = 1;
  const x = Float32Array.from({ length: B * K }, (_, i) => (i % K <= Math.floor(i / K) ? 1 : 0));
  const w = new Float32Array(K).fill(1);
  const ref = bitTrueMvm(Int32Array.from(x), Int32Array.from(w), B, K, N, {
    rows: 8,
    mapping: 'differential',
    weightBits: 1,
    cellBits: 1,
    inputBits: 1,
    dacBits: 1,
    signedInput: false,
    adcBits: 6,
    fullScale: F,
  });
  assert.equal(ref.acc[6], 3);
  for (const path of await exactPaths(xb, { kind: 'dense', layer: 'L', K, N }, x, w, { [sideName('L', 'xrange')]: scalarTensor(1) }, B)) {
    assert.equal(path.acc[6], 3, `${path.name}: n = 7 → 3`);
    assert.equal(mismatches(path.acc, ref.acc), 0, path.name);
  }
});

// ---- narrow top slices ----------------------------------------------------------------------------

test('narrow top slices (8-bit weights on 3-bit cells: 3, 3, 2 bits; 5 on 2: 2, 2, 1; 2 on 4) = bit-true reference, both cores, forward and backward, dense and conv', async () => {
  const rng = new Rng(21, 'test/bittrue-narrow');
  const bits: Record<string, number[]> = { '8/3': [3, 3, 2], '5/2': [2, 2, 1], '2/4': [2] };
  for (const [wb, cb] of [
    [8, 3],
    [5, 2],
    [2, 4],
  ] as const) {
    // Slices from the LSB up: the top one is the narrow one.
    assert.deepEqual(sliceBits(xbConfig({ weightBits: wb, cellBits: cb })), bits[`${wb}/${cb}`]);
    for (const mapping of ['differential', 'offset'] as const) {
      for (const range of [{ kind: 'max' as const }, CAL]) {
        const xb = xbConfig({
          rows: 16,
          cols: 8,
          mapping,
          weightBits: wb,
          cellBits: cb,
          inputBits: 6,
          dacBits: 2,
          adc: adc(7, range),
          backward: { inputBits: 5, dacBits: 1, adc: adc(6, { kind: 'max' }) },
        });
        // The widest slice bounds the partial sums (and the `max` range): 3 bits, 2 bits, 2 bits.
        assert.equal(widestSliceLevel(xb), 2 ** Math.min(wb, cb) - 1);
        const B = 3,
          K = 37,
          N = 10;
        const enc = inputEncoding(6, 2, true);
        const qw = weightQmax(xb);
        const x = ints(rng, B * K, -enc.qmax, enc.qmax, enc.qmax);
        const w = ints(rng, K * N, -qw, qw, qw);
        const benc = inputEncoding(5, 1, true);
        const dy = ints(rng, B * N, -benc.qmax, benc.qmax, benc.qmax);
        const M = adcMaxCode(xb.adc, false);
        const worst = largest(16, 2, cb, wb);
        const fed = worst <= M ? worst : Math.ceil(worst * 0.7);
        const feeds = { [sideName('L', 'xrange')]: scalarTensor(enc.qmax), [sideName('L', 'step')]: stepTensor(fedStep(xb, fed, M, 16)) };
        const spec: MvmSpec = { kind: 'dense', layer: 'L', K, N };
        const what = `${wb}-bit weights on ${cb}-bit cells, ${mapping}, ${range.kind}`;
        const ref = bitTrueMvm(Int32Array.from(x), Int32Array.from(w), B, K, N, {
          rows: 16,
          mapping,
          weightBits: wb,
          cellBits: cb,
          inputBits: 6,
          dacBits: 2,
          signedInput: true,
          adcBits: 7,
          fullScale: range.kind === 'max' ? worst : fed,
        });
        assert.ok(requantPlan(xb, enc, 16), `${what}: the integer core applies`);
        for (const integerConversions of [true, false]) {
          const r = await runMvm(layerXb(xb, { integerConversions }), spec, { data: x, dims: [B, K] }, { data: w, dims: [K, N] }, feeds, {
            data: dy,
            dims: [B, N],
          });
          assert.equal(mismatches(r.acc!, ref.acc), 0, `${what}, forward (${integerConversions ? 'integer' : 'float'} core)`);
          const wT = new Int32Array(N * K);
          for (let i = 0; i < K; i++) for (let j = 0; j < N; j++) wT[j * K + i] = w[i * N + j]!;
          const bref = bitTrueMvm(Int32Array.from(dy), wT, B, N, K, {
            rows: 8,
            mapping,
            weightBits: wb,
            cellBits: cb,
            inputBits: 5,
            dacBits: 1,
            signedInput: true,
            adcBits: 6,
            fullScale: largest(8, 1, cb, wb),
          });
          assert.equal(mismatches(r.bacc!, bref.acc), 0, `${what}, backward`);
        }
        // Conv, on the same settings.
        const C = 2,
          H = 6,
          W = 5,
          O = 4;
        const cspec = {
          kind: 'conv2d' as const,
          layer: 'L',
          C,
          H,
          W,
          O,
          kernel: [3, 3] as [number, number],
          stride: [1, 1] as [number, number],
          pads: [1, 1, 1, 1] as [number, number, number, number],
          Ho: 6,
          Wo: 5,
        };
        const xc = ints(rng, C * H * W, -enc.qmax, enc.qmax, enc.qmax);
        const wc = ints(rng, O * C * 9, -qw, qw, qw);
        const { cols, K: Kc } = im2colInt(Int32Array.from(xc), 1, C, H, W, [3, 3], [1, 1], [1, 1, 1, 1]);
        const wKN = new Int32Array(Kc * O);
        for (let o = 0; o < O; o++) for (let kk = 0; kk < Kc; kk++) wKN[kk * O + o] = wc[o * Kc + kk]!;
        const cref = bitTrueMvm(cols, wKN, 30, Kc, O, {
          rows: 16,
          mapping,
          weightBits: wb,
          cellBits: cb,
          inputBits: 6,
          dacBits: 2,
          signedInput: true,
          adcBits: 7,
          fullScale: range.kind === 'max' ? worst : fed,
        });
        const want = new Float64Array(O * 30);
        for (let l = 0; l < 30; l++) for (let o = 0; o < O; o++) want[o * 30 + l] = cref.acc[l * O + o]!;
        for (const integerConversions of [true, false]) {
          const r = await runMvm(layerXb(xb, { integerConversions }), cspec, { data: xc, dims: [1, C, H, W] }, { data: wc, dims: [O, C, 3, 3] }, feeds);
          assert.equal(mismatches(r.acc!, want), 0, `${what}, conv (${integerConversions ? 'integer' : 'float'} core)`);
        }
      }
    }
  }
});
