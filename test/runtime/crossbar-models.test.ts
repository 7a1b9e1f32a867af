/**
 * Crossbar models: fast vs exact, convergence to the ideal layer, and the direction/magnitude of
 * each non-ideality (D2D variation, stuck-at faults, drift, ADC resolution and saturation, read
 * noise), plus the straight-through saturation mask in backward.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { programDevices } from '../../src/runtime/crossbar/config.js';
import { driftFactor, gOffLevels, inputEncoding, weightQmax } from '../../src/model/crossbar-math.js';
import { sideName, statName } from '../../src/runtime/crossbar/emitter.js';
import { DataType } from '../../src/runtime/engine/onnx.js';
import ort from 'onnxruntime-node';
import { Rng } from '../../src/runtime/rng.js';
import { NormalStream } from '../../src/runtime/normal-stream.js';
import { bitTrueMvm } from '../reference/bit-true.js';
import { adc, layerXb, runMvm, scalarTensor, stepTensor, xbConfig } from './crossbar-helpers.js';

function randn(rng: Rng, n: number, std = 1): Float32Array {
  return rng.fillNormal(new Float32Array(n), 0, std);
}

function matmul(x: Float32Array, w: Float32Array, B: number, K: number, N: number): Float64Array {
  const y = new Float64Array(B * N);
  for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) y[b * N + n]! += x[b * K + k]! * w[k * N + n]!;
  return y;
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

const maxAbs = (a: ArrayLike<number>): number => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const rangeFeeds = (xrange: number): Record<string, ort.Tensor> => ({ [sideName('L', 'xrange')]: scalarTensor(xrange), [sideName('L', 'step')]: stepTensor() });

test('fast and exact agree to float tolerance when every ADC is lossless (dense and conv, both mappings)', async () => {
  const rng = new Rng(3, 'test/fast-exact');
  for (const mapping of ['differential', 'offset'] as const) {
    for (const dac of [1, 2]) {
      // exact: per tile the largest partial sum is rows·(2^dac−1)·(2^cb−1) ≤ 2^12 − 1; fast: 24-bit layer ADC, LSB = 1 level.
      const xb = xbConfig({ rows: 32, cols: 16, mapping, weightBits: 6, cellBits: 2, inputBits: 6, dacBits: dac, adc: adc(12, { kind: 'max' }) });
      const xbFast = { ...xb, adc: adc(24, { kind: 'max' }) };
      const B = 3,
        K = 70,
        N = 11;
      const x = randn(rng, B * K);
      const w = randn(rng, K * N, 0.2);
      const spec = { kind: 'dense' as const, layer: 'L', K, N };
      const feeds = rangeFeeds(maxAbs(x));
      const ex = await runMvm(layerXb(xb), spec, { data: x, dims: [B, K] }, { data: w, dims: [K, N] }, feeds);
      const fa = await runMvm(layerXb(xbFast, { fidelity: 'fast' }), spec, { data: x, dims: [B, K] }, { data: w, dims: [K, N] }, feeds);
      assert.ok(relErr(fa.y, ex.y) < 1e-6, `${mapping} dac ${dac}: fast vs exact ${relErr(fa.y, ex.y)}`);
      assert.deepEqual(Array.from(fa.acc!), Array.from(ex.acc!), 'identical integer results');
    }
  }
  // conv
  const xb = xbConfig({ rows: 16, cols: 8, weightBits: 4, cellBits: 2, inputBits: 5, dacBits: 1, adc: adc(8, { kind: 'max' }) });
  const spec = {
    kind: 'conv2d' as const,
    layer: 'L',
    C: 2,
    H: 7,
    W: 6,
    O: 5,
    kernel: [3, 3] as [number, number],
    stride: [1, 2] as [number, number],
    pads: [1, 1, 1, 1] as [number, number, number, number],
    Ho: 7,
    Wo: 3,
  };
  const fastVsExact = async (s: typeof spec, x: Float32Array, w: Float32Array): Promise<number> => {
    const xd = { data: x, dims: [2, s.C, s.H, s.W] };
    const wd = { data: w, dims: [s.O, s.C, ...s.kernel] };
    const feeds = rangeFeeds(maxAbs(x));
    const ex = await runMvm(layerXb(xb), s, xd, wd, feeds);
    const fa = await runMvm(layerXb({ ...xb, adc: adc(24, { kind: 'max' }) }, { fidelity: 'fast' }), s, xd, wd, feeds);
    return relErr(fa.y, ex.y);
  };
  const e1 = await fastVsExact(spec, randn(rng, 2 * 2 * 7 * 6), randn(rng, 5 * 2 * 9, 0.3));
  assert.ok(e1 < 1e-6, `conv fast vs exact ${e1}`);
  // 16 → 16 channels at stride 1: the fast forward takes the blocked (NCHWc) form where the machine has it.
  const wide = { ...spec, C: 16, O: 16, H: 5, W: 5, stride: [1, 1] as [number, number], Ho: 5, Wo: 5 };
  const e2 = await fastVsExact(wide, randn(rng, 2 * 16 * 25), randn(rng, 16 * 16 * 9, 0.3));
  assert.ok(e2 < 1e-6, `16-channel conv fast vs exact ${e2}`);
});

test('zero variation, lossless ADC and many levels ≈ the ideal layer; error shrinks with weight/input bits', async () => {
  const rng = new Rng(4, 'test/ideal');
  const B = 4,
    K = 50,
    N = 9;
  const x = randn(rng, B * K);
  const w = randn(rng, K * N, 0.3);
  const ideal = matmul(x, w, B, K, N);
  const errs: number[] = [];
  for (const bits of [4, 8, 12]) {
    const xb = xbConfig({ rows: 64, weightBits: bits, cellBits: 4, inputBits: bits, dacBits: 1, adc: adc(12, { kind: 'max' }) });
    const r = await runMvm(layerXb(xb), { kind: 'dense', layer: 'L', K, N }, { data: x, dims: [B, K] }, { data: w, dims: [K, N] }, rangeFeeds(maxAbs(x)));
    errs.push(relErr(r.y, ideal));
  }
  assert.ok(errs[2]! < 2e-3, `12-bit relative error ${errs[2]}`);
  assert.ok(errs[0]! > errs[1]! && errs[1]! > errs[2]!, `errors ${errs.join(', ')}`);
});

test('fewer ADC bits → larger error; saturation is counted exactly like the reference', async () => {
  const rng = new Rng(5, 'test/adc');
  const B = 4,
    K = 64,
    N = 16;
  const x = randn(rng, B * K);
  const w = randn(rng, K * N, 0.3);
  const ideal = matmul(x, w, B, K, N);
  const errs: number[] = [];
  for (const bits of [3, 5, 8]) {
    const xb = xbConfig({ rows: 64, weightBits: 8, cellBits: 2, inputBits: 8, dacBits: 1, adc: adc(bits, { kind: 'max' }) });
    const r = await runMvm(layerXb(xb), { kind: 'dense', layer: 'L', K, N }, { data: x, dims: [B, K] }, { data: w, dims: [K, N] }, rangeFeeds(maxAbs(x)));
    errs.push(relErr(r.y, ideal));
  }
  assert.ok(errs[0]! > errs[1]! && errs[1]! > errs[2]!, `errors by ADC bits 3/5/8: ${errs.join(', ')}`);

  // Saturation: integer inputs, a calibrated (fed) step that clips; the stats output counts
  // exactly the conversions the bit-true reference clips.
  const xb = xbConfig({ rows: 32, weightBits: 4, cellBits: 2, inputBits: 5, dacBits: 1, adc: adc(4, { kind: 'calibrate', percentile: 0.9 }) });
  const enc = inputEncoding(5, 1, false);
  const xi = Float32Array.from({ length: B * K }, () => rng.int(enc.qmax + 1));
  xi[0] = enc.qmax;
  const qw = weightQmax(xb);
  const wi = Float32Array.from({ length: K * N }, () => rng.int(2 * qw + 1) - qw);
  wi[0] = qw;
  const r = await runMvm(
    layerXb(xb, { outputs: 'stats', signedInput: false }),
    { kind: 'dense', layer: 'L', K, N },
    { data: xi, dims: [B, K] },
    { data: wi, dims: [K, N] },
    rangeFeeds(enc.qmax),
  );
  const ref = bitTrueMvm(Int32Array.from(xi), Int32Array.from(wi), B, K, N, {
    rows: 32,
    mapping: 'differential',
    weightBits: 4,
    cellBits: 2,
    inputBits: 5,
    dacBits: 1,
    signedInput: false,
    adcBits: 4,
    fullScale: 1,
  });
  const sat = (r.out[statName('L', 'sat')]!.data as Float32Array)[0]!;
  const conv = (r.out[statName('L', 'conv')]!.data as Float32Array)[0]!;
  assert.ok(ref.saturated > 0);
  assert.equal(sat, ref.saturated);
  assert.equal(conv, ref.conversions);
});

test('fast fidelity: the layer-level ADC rounds half-code ties to even (LSB = 12/7, dense and conv, max and fed ranges)', async () => {
  // Signed 7-bit converter (M = 63) over K = 12 rows of 2-bit inputs and weights: max full scale
  // 12·3·3 = 108, LSB = 108/63 = 12/7 (a = 7, b = 12: not a power of two, so a float32
  // reciprocal, or ORT folding the division into the GEMM as ×float32(7/12), misrounds).
  // Sums 6 → 3.5 → 4, 18 → 10.5 → 10, −6 → −4; 7 → 4.08 → 4 is no tie.
  const xb = xbConfig({ rows: 64, weightBits: 2, cellBits: 2, inputBits: 2, dacBits: 1, adc: adc(7, { kind: 'max' }) });
  const K = 12,
    N = 2;
  const sums = [6, 18, -6, 7];
  const want = [4, 10, -4, 4];
  assert.equal(Math.round(6 * Math.fround(7 / 12)), 3, 'a float32 multiplier 7/12 rounds the tie 3.5 down');
  // Sample b: its sum on column 0 (inputs 0…3 against weights ±1, ±3); column 1 holds the largest weight.
  const x = new Float32Array(sums.length * K);
  const w = new Float32Array(K * N);
  for (let k = 0; k < K; k++) w[k * N] = k < 6 ? 1 : k < 9 ? -1 : 3;
  w[1] = 3;
  const inputs = [
    [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
    [3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0],
    [1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0],
  ];
  inputs.forEach((row, b) => x.set(row, b * K));
  for (const [b, s] of sums.entries())
    assert.equal(
      inputs[b]!.reduce((acc, v, k) => acc + v * w[k * N]!, 0),
      s,
    );
  const feeds = { [sideName('L', 'xrange')]: scalarTensor(3), [sideName('L', 'step')]: stepTensor([7, 12, 0]) };
  const conv = {
    kind: 'conv2d' as const,
    layer: 'L',
    C: K,
    H: 1,
    W: 1,
    O: N,
    kernel: [1, 1] as [number, number],
    stride: [1, 1] as [number, number],
    pads: [0, 0, 0, 0] as [number, number, number, number],
    Ho: 1,
    Wo: 1,
  };
  // Conv weights [O, C, 1, 1] = Wᵀ.
  const wc = new Float32Array(N * K);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) wc[n * K + k] = w[k * N + n]!;
  for (const range of [{ kind: 'max' as const }, { kind: 'calibrate' as const, percentile: 1 }]) {
    const cfg = layerXb({ ...xb, adc: adc(7, range) }, { fidelity: 'fast', signedInput: false });
    const dense = await runMvm(cfg, { kind: 'dense', layer: 'L', K, N }, { data: x, dims: [sums.length, K] }, { data: w, dims: [K, N] }, feeds);
    const cv = await runMvm(cfg, conv, { data: x, dims: [sums.length, K, 1, 1] }, { data: wc, dims: [N, K, 1, 1] }, feeds);
    for (let b = 0; b < sums.length; b++) {
      assert.equal(dense.acc![b * N], want[b], `dense, ${range.kind}: sum ${sums[b]} → ${want[b]}`);
      assert.equal(cv.acc![b * N], want[b], `conv, ${range.kind}: sum ${sums[b]} → ${want[b]}`);
    }
    assert.equal(dense.lsb, Math.fround(12 / 7));
  }
  // adc.rounding = truncate: toward zero, 3.5 → 3, 10.5 → 10, −3.5 → −3, 4.08 → 4 (NeuroSim's (int) conversion).
  const trunc = layerXb({ ...xb, adc: { ...adc(7, { kind: 'max' }), rounding: 'truncate' } }, { fidelity: 'fast', signedInput: false });
  const t = await runMvm(trunc, { kind: 'dense', layer: 'L', K, N }, { data: x, dims: [sums.length, K] }, { data: w, dims: [K, N] }, feeds);
  assert.deepEqual(
    sums.map((_, b) => t.acc![b * N]),
    [3, 10, -3, 4],
  );
});

test('device programming: D2D σ, lognormal mean, stuck-at fractions and drift match the spec', () => {
  const K = 100,
    N = 100;
  const sigma = 0.05;
  const xb = xbConfig({ weightBits: 4, cellBits: 2 }, { d2dSigma: sigma });
  const p = programDevices(xb, 'fc', K, N, 1);
  const g0 = gOffLevels(xb);
  let s = 0,
    s2 = 0;
  for (let i = 0; i < p.A.length; i++) {
    s += p.A[i]!;
    s2 += p.A[i]! ** 2;
    assert.ok(Math.abs(p.B[i]! - g0 * (p.A[i]! - 1)) < 1e-5);
  }
  const mean = s / p.A.length;
  const std = Math.sqrt(s2 / p.A.length - mean * mean);
  assert.ok(Math.abs(mean - 1) < 3e-3, `mean ${mean}`);
  assert.ok(Math.abs(std / sigma - 1) < 0.03, `empirical σ ${std} vs ${sigma}`);
  // Reproducible from the named stream; another seed differs.
  assert.deepEqual(programDevices(xb, 'fc', K, N, 1).A, p.A);
  assert.notDeepEqual(programDevices(xb, 'fc', K, N, 2).A, p.A);

  const logn = programDevices(xbConfig({}, { d2dSigma: 0.2, d2dDist: 'lognormal' }), 'fc', K, N, 1);
  const lm = logn.A.reduce((a, b) => a + b, 0) / logn.A.length;
  assert.ok(Math.abs(lm - 1) < 0.01 && logn.A.every((a) => a > 0), `lognormal mean ${lm}`);

  const stuck = programDevices(xbConfig({ weightBits: 4, cellBits: 2 }, { pSa0: 0.1, pSa1: 0.05 }), 'fc', K, N, 1);
  let sa0 = 0,
    sa1 = 0;
  for (let i = 0; i < stuck.A.length; i++) {
    if (stuck.A[i] === 0 && stuck.B[i] === 0) sa0++;
    if (stuck.A[i] === 0 && stuck.B[i] === 3) sa1++;
  }
  const n = stuck.A.length;
  assert.ok(Math.abs(sa0 / n - 0.1) < 4 * Math.sqrt((0.1 * 0.9) / n), `SA0 fraction ${sa0 / n}`);
  assert.ok(Math.abs(sa1 / n - 0.05) < 4 * Math.sqrt((0.05 * 0.95) / n), `SA1 fraction ${sa1 / n}`);

  const dev = xbConfig({}, { driftNu: 0.1, driftT0: 1 }).device;
  assert.equal(driftFactor(dev, 0), 1);
  assert.ok(Math.abs(driftFactor(dev, 1000) - 1000 ** -0.1) < 1e-12);
  const drifted = programDevices(xbConfig({}, { driftNu: 0.1, driftT0: 1 }), 'fc', 4, 4, 1, 1000);
  assert.ok(drifted.A.every((a) => Math.abs(a - 1000 ** -0.1) < 1e-6));
});

test('D2D variation: output error grows linearly with σ; drift shrinks the output', async () => {
  const rng = new Rng(6, 'test/d2d');
  const B = 8,
    K = 64,
    N = 32;
  const x = randn(rng, B * K);
  const w = randn(rng, K * N, 0.3);
  const spec = { kind: 'dense' as const, layer: 'L', K, N };
  const run = async (device: Record<string, number>, t = 0): Promise<Float32Array> => {
    const xb = xbConfig({ weightBits: 8, cellBits: 8, inputBits: 8, adc: adc(24, { kind: 'max' }) }, device);
    const p = programDevices(xb, 'L', K, N, 9, t);
    const feeds = {
      ...rangeFeeds(maxAbs(x)),
      [sideName('L', 'A')]: new ort.Tensor('float32', p.A, p.dims),
      [sideName('L', 'B')]: new ort.Tensor('float32', p.B, p.dims),
    };
    return (await runMvm(layerXb(xb, { fidelity: 'fast', variation: true }), spec, { data: x, dims: [B, K] }, { data: w, dims: [K, N] }, feeds)).y;
  };
  const clean = await run({});
  const e1 = relErr(await run({ d2dSigma: 0.02 }), clean);
  const e2 = relErr(await run({ d2dSigma: 0.04 }), clean);
  assert.ok(e1 > 0.005, `σ 2 % error ${e1}`);
  assert.ok(e2 / e1 > 1.8 && e2 / e1 < 2.2, `error ratio for 2× σ: ${e2 / e1}`);
  // Drift scales every conductance by (t/t0)^−ν; with background subtraction of nominal G_off the
  // weight part scales by the same factor, so outputs shrink toward it.
  const drifted = await run({ driftNu: 0.05, driftT0: 1 }, 100);
  const ratio = drifted.reduce((a, v, i) => a + v * clean[i]!, 0) / clean.reduce((a, v) => a + v * v, 0);
  assert.ok(Math.abs(ratio - 100 ** -0.05) < 0.02, `drift gain ${ratio} vs ${100 ** -0.05}`);
});

test('read noise (fast): empirical relative σ of the output matches read_noise', async () => {
  const rng = new Rng(7, 'test/read');
  const B = 16,
    K = 64,
    N = 64;
  const x = randn(rng, B * K);
  const w = randn(rng, K * N, 0.3);
  const sigma = 0.05;
  const xb = xbConfig({ weightBits: 8, cellBits: 2, inputBits: 8, adc: adc(24, { kind: 'max' }) }, { readNoise: sigma });
  const spec = { kind: 'dense' as const, layer: 'L', K, N };
  // The graph takes the factor 1 + σ·ξ (the runtime draws it from the layer's normal stream); 1 is no noise.
  const factor = new NormalStream(1, 'noise').fill(new Float32Array(B * N), 0, 1, sigma);
  const base = rangeFeeds(maxAbs(x));
  const noisy = await runMvm(
    layerXb(xb, { fidelity: 'fast', readNoise: true }),
    spec,
    { data: x, dims: [B, K] },
    { data: w, dims: [K, N] },
    { ...base, [sideName('L', 'noise')]: new ort.Tensor('float32', factor, [B, N]) },
  );
  const clean = await runMvm(
    layerXb(xb, { fidelity: 'fast', readNoise: true }),
    spec,
    { data: x, dims: [B, K] },
    { data: w, dims: [K, N] },
    { ...base, [sideName('L', 'noise')]: new ort.Tensor('float32', new Float32Array(B * N).fill(1), [B, N]) },
  );
  let s2 = 0,
    n = 0;
  for (let i = 0; i < B * N; i++) {
    if (Math.abs(clean.y[i]!) < 1e-3) continue;
    s2 += ((noisy.y[i]! - clean.y[i]!) / Math.abs(clean.y[i]!)) ** 2;
    n++;
  }
  const emp = Math.sqrt(s2 / n);
  assert.ok(Math.abs(emp / sigma - 1) < 0.1, `empirical read-noise σ ${emp} vs ${sigma}`);
});

test('backward: crossbar dx ≈ dy·Wᵀ with lossless settings; saturated outputs pass no gradient', async () => {
  const rng = new Rng(8, 'test/backward');
  const B = 4,
    K = 40,
    N = 12;
  const x = randn(rng, B * K);
  const w = randn(rng, K * N, 0.3);
  const dy = randn(rng, B * N);
  const xb = xbConfig({ weightBits: 12, cellBits: 4, backward: { inputBits: 12, dacBits: 1, adc: adc(12, { kind: 'max' }) } });
  const r = await runMvm(
    layerXb(xb, { fidelity: 'exact' }),
    { kind: 'dense', layer: 'L', K, N },
    { data: x, dims: [B, K] },
    { data: w, dims: [K, N] },
    rangeFeeds(maxAbs(x)),
    { data: dy, dims: [B, N] },
  );
  const ideal = new Float64Array(B * K);
  for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) ideal[b * K + k]! += dy[b * N + n]! * w[k * N + n]!;
  assert.ok(relErr(r.dx!, ideal) < 3e-3, `backward relative error ${relErr(r.dx!, ideal)}`);

  // STE: a 3-bit fast ADC ranged at the median |output| saturates about half; the (ideal) backward of the same
  // emitter sees dy masked where the forward clipped.
  const g = (await import('../../src/runtime/engine/onnx.js')).GraphBuilder;
  const { CrossbarMvm } = await import('../../src/runtime/crossbar/emitter.js');
  const gb = new g('ste');
  gb.input('x', 'float', [B, K]);
  gb.input('w', 'float', [K, N]);
  gb.input('dy', 'float', [B, N]);
  const xs = xbConfig({ adc: adc(3, { kind: 'calibrate', percentile: 0.5 }) });
  const m = new CrossbarMvm(layerXb(xs, { fidelity: 'fast', ranges: 'dynamic' }));
  const spec = { kind: 'dense' as const, layer: 'L', K, N };
  const fwd = m.forward(gb, spec, 'x', 'w');
  gb.output('y', fwd.y);
  gb.output('dx', m.backwardInput(gb, spec, 'dy', 'w', fwd));
  // Fast fidelity saves the mask as a bool `keep` (true where no ADC saturated).
  gb.output('mask', fwd.saved['mask'] ?? gb.op('Cast', [fwd.saved['keep']!], { to: DataType.FLOAT }));
  const session = await ort.InferenceSession.create(gb.toBytes());
  const out = await session.run({
    x: new ort.Tensor('float32', x, [B, K]),
    w: new ort.Tensor('float32', w, [K, N]),
    dy: new ort.Tensor('float32', dy, [B, N]),
  });
  const mask = out['mask']!.data as Float32Array;
  const y = out['y']!.data as Float32Array;
  const top = maxAbs(y);
  const zeros = Array.from(mask).filter((v) => v === 0).length;
  assert.ok(zeros > 0 && zeros < mask.length, `saturated outputs: ${zeros} of ${mask.length}`);
  for (let i = 0; i < mask.length; i++) if (mask[i] === 0) assert.ok(Math.abs(Math.abs(y[i]!) - top) < 1e-6 * top, 'masked outputs sit at full scale');
  const dx = out['dx']!.data as Float32Array;
  const want = new Float64Array(B * K);
  for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) want[b * K + k]! += mask[b * N + n]! * dy[b * N + n]! * w[k * N + n]!;
  assert.ok(relErr(dx, want) < 1e-5);
  await session.release();
});
