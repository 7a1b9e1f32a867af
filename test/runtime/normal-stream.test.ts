/**
 * Counter-based Gaussian streams (read noise): Philox4x32-10 against Random123's known answers in
 * JS and in the WebAssembly kernel, the kernel bit-identical to the JS reference, ranges and
 * chunking, the float32 Box–Muller against a float64 one on the same words, and the law.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { philox4x32 } from '../../src/runtime/philox.js';
import { normalKernel, philoxKernel } from '../../src/runtime/philox-wasm.js';
import { NormalStream } from '../../src/runtime/normal-stream.js';

/** Random123 tests/kat_vectors, philox4x32 with 10 rounds: counter, key, output. */
const KAT: [number[], number[], number[]][] = [
  [
    [0, 0, 0, 0],
    [0, 0],
    [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
  ],
  [
    [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    [0xffffffff, 0xffffffff],
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  ],
  [
    [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    [0xa4093822, 0x299f31d0],
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  ],
];

test('Philox4x32-10 (JS) reproduces the Random123 known-answer vectors', () => {
  for (const [c, k, want] of KAT) {
    const out: number[] = [];
    philox4x32(c[0]!, c[1]!, c[2]!, c[3]!, k[0]!, k[1]!, out);
    assert.deepEqual(out, want);
  }
});

test('the WebAssembly kernel runs here and its Philox words match the JS reference (known answer, then 64 blocks)', () => {
  if (process.versions.node) assert.equal(normalKernel(), 'wasm');
  const k = philoxKernel(1 << 16);
  if (!k) return;
  k.philox(0, 1, 0, 0, 0, 0);
  assert.deepEqual(Array.from(new Uint32Array(k.memory.buffer, 0, 4)), KAT[0]![2]);
  // Counters (lo + b, hi, 0, 0) near the low word's wrap, a key with high bits set.
  const lo = 0xffffffc0,
    hi = 0x1234,
    k0 = 0x9abcdef0,
    k1 = 0x0fedcba9;
  k.philox(0, 8, lo | 0, hi, k0 | 0, k1);
  const got = new Uint32Array(k.memory.buffer, 0, 4 * 64);
  const want: number[] = [];
  for (let b = 0; b < 64; b++) philox4x32((lo + b) >>> 0, hi, 0, 0, k0, k1, want, 4 * b);
  assert.deepEqual(Array.from(got), want);
});

test('the kernel and the JS reference give the same bits for any range, mean and std', () => {
  const s = new NormalStream(11, 'test/normal');
  const cases: [number, number, number, number][] = [
    [0, 1, 0, 1],
    [1, 2, 0, 1],
    [3, 17, 0, 1],
    [5, 16 * 4096 + 37, 0, 1],
    [123457, 9999, 1, 0.06],
    [7, 1001, -2.5, 3.25],
    // Across a 2^32 block boundary (elements 2^34 ± …) and far out.
    [2 ** 34 - 77, 160, 0, 1],
    [2 ** 34 - 64 * 4096 - 5, 64 * 4096 + 11, 1, 0.5],
    [2 ** 50 + 3, 50, 0, 1],
  ];
  for (const [offset, n, mean, std] of cases) {
    const a = s.fill(new Float32Array(n), offset, mean, std, 'wasm');
    const b = s.fill(new Float32Array(n), offset, mean, std, 'js');
    const ai = new Int32Array(a.buffer);
    const bi = new Int32Array(b.buffer);
    let diff = -1;
    for (let i = 0; i < n && diff < 0; i++) if (ai[i] !== bi[i]) diff = i;
    assert.equal(diff, -1, `offset ${offset}, n ${n}, mean ${mean}, std ${std}: first difference at ${diff} (${a[diff]} vs ${b[diff]})`);
  }
});

test('element e depends only on (key, e): sub-ranges and consecutive `next` chunks are slices of one fill', () => {
  const whole = new NormalStream(5, 'read/conv1/train').fill(new Float32Array(20000), 0);
  const part = new NormalStream(5, 'read/conv1/train').fill(new Float32Array(333), 4567);
  assert.deepEqual(part, whole.subarray(4567, 4567 + 333));
  const s = new NormalStream(5, 'read/conv1/train');
  const chunks = [1, 2, 13, 4096, 3, 10000, 5885].map((n) => Array.from(s.next(new Float32Array(n))));
  assert.equal(s.position, 20000);
  assert.deepEqual(new Float32Array(chunks.flat()), whole);
  // mean + std·ξ is the same ξ.
  const scaled = new NormalStream(5, 'read/conv1/train').fill(new Float32Array(100), 0, 1, 0.06);
  scaled.forEach((v, i) => assert.equal(v, Math.fround(1 + Math.fround(Math.fround(0.06) * whole[i]!))));
  // Another seed or another name: another stream.
  const other = [new NormalStream(6, 'read/conv1/train'), new NormalStream(5, 'read/conv1/eval')].map((t) => t.fill(new Float32Array(100), 0));
  for (const o of other) assert.ok(o.some((v, i) => v !== whole[i]));
});

test('the float32 Box–Muller is the float64 one on the same words to a few float32 ulps', () => {
  const s = new NormalStream(2, 'test/accuracy');
  const n = 1 << 16;
  const z = s.fill(new Float32Array(n), 0);
  const words: number[] = [];
  let worst = 0;
  for (let b = 0; b < n / 4; b++) {
    philox4x32(b, 0, 0, 0, s.k0, s.k1, words, 0);
    for (const p of [0, 2]) {
      const x = words[p]!,
        y = words[p + 1]!;
      const r = Math.sqrt(-2 * Math.log(((x >>> 8) + 1) * 2 ** -24));
      const phi = (((y >>> 6) & 0xffffff) * 2 ** -24 - 0.5) * (Math.PI / 2);
      const q = y >>> 30;
      const turn = [
        [Math.cos(phi), Math.sin(phi)],
        [-Math.sin(phi), Math.cos(phi)],
        [-Math.cos(phi), -Math.sin(phi)],
        [Math.sin(phi), -Math.cos(phi)],
      ][q]!;
      for (let j = 0; j < 2; j++) {
        const ref = r * turn[j]!;
        worst = Math.max(worst, Math.abs(z[4 * b + p + j]! - ref) / Math.max(Math.abs(ref), 2 ** -10));
      }
    }
  }
  assert.ok(worst < 5e-7, `worst relative error ${worst}`);
});

/** Φ(x) (Abramowitz–Stegun 7.1.26 for erf, |error| < 1.5e−7). */
function phi(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

test('the stream is standard normal: moments, Kolmogorov–Smirnov, no correlation between neighbours, bounded tails', () => {
  const n = 1 << 20;
  const z = new NormalStream(0, 'test/law').fill(new Float32Array(n), 0);
  let s1 = 0,
    s2 = 0,
    s3 = 0,
    s4 = 0,
    lag1 = 0,
    lag2 = 0,
    max = 0;
  for (let i = 0; i < n; i++) {
    const v = z[i]!;
    s1 += v;
    s2 += v * v;
    s3 += v ** 3;
    s4 += v ** 4;
    if (i > 0) lag1 += v * z[i - 1]!;
    if (i > 1) lag2 += v * z[i - 2]!;
    max = Math.max(max, Math.abs(v));
  }
  const se = 1 / Math.sqrt(n);
  assert.ok(Math.abs(s1 / n) < 5 * se, `mean ${s1 / n}`);
  assert.ok(Math.abs(s2 / n - 1) < 5 * Math.SQRT2 * se, `variance ${s2 / n}`);
  assert.ok(Math.abs(s3 / n) < 5 * Math.sqrt(15) * se, `skewness ${s3 / n}`);
  assert.ok(Math.abs(s4 / n - 3) < 5 * Math.sqrt(96) * se, `kurtosis ${s4 / n}`);
  // Pairs of a Box–Muller draw (lag 1) and neighbouring pairs (lag 2) are uncorrelated.
  assert.ok(Math.abs(lag1 / n) < 5 * se && Math.abs(lag2 / n) < 5 * se, `lag correlations ${lag1 / n}, ${lag2 / n}`);
  assert.ok(max <= Math.sqrt(48 * Math.LN2) && max > 4.5, `max |z| ${max}`);
  const sorted = Float64Array.from(z).sort();
  let d = 0;
  for (let i = 0; i < n; i++) {
    const c = phi(sorted[i]!);
    d = Math.max(d, Math.abs(c - i / n), Math.abs(c - (i + 1) / n));
  }
  assert.ok(d < 1.63 / Math.sqrt(n), `KS distance ${d} (1 % critical value ${1.63 / Math.sqrt(n)})`);
});
