/** `xbarc mvm`: .npy reading/writing and one crossbar MVM from a spec's crossbar declaration. */

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { mvmCommand } from '../../src/cli/mvm-command.js';
import { crossbarMerges } from '../../src/compiler/merges.js';
import { crossbarMvm } from '../../src/runtime/crossbar/mvm-api.js';
import { formatNpy, parseNpy } from '../../src/runtime/crossbar/npy.js';
import { Rng } from '../../src/runtime/rng.js';
import { bitTrueMvm } from '../reference/bit-true.js';
import { adc, planCrossbar } from './crossbar-helpers.js';

const SPEC = `device d {
  levels   = 4
  r_on     = 100 kOhm
  on_off   = 10
  d2d_sigma = 5 %
}

crossbar lossless {
  size        = 32 x 32
  device      = d
  weight_bits = 8
  cell_bits   = 2
  input_bits  = 8
  dac_bits    = 1
  adc         = { bits = 8, range = max }
}

crossbar calibrated = lossless {
  adc = { bits = 8, range = calibrate(99.9 %) }
}
`;

/** A float64 C-order .npy written by hand (what numpy.save writes for float64). */
function npy64(data: number[], shape: number[]): Uint8Array {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + 8 * data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  data.forEach((v, i) => view.setFloat64(10 + header.length + 8 * i, v, true));
  return out;
}

test('.npy: float32 round trip, float64 input, clear errors', () => {
  const a = { data: Float32Array.of(1, -2.5, 3, 4, 5, 6), shape: [2, 3] };
  const back = parseNpy(formatNpy(a));
  assert.deepEqual(back.shape, [2, 3]);
  assert.deepEqual(Array.from(back.data), Array.from(a.data));
  assert.equal(formatNpy(a).indexOf(10) % 16, 15, 'header padded to a 16-byte boundary, ending in a newline');
  const b = parseNpy(npy64([0.5, 1.5, -2], [3]));
  assert.deepEqual(b.shape, [3]);
  assert.deepEqual(Array.from(b.data), [0.5, 1.5, -2]);
  assert.throws(() => parseNpy(new TextEncoder().encode('hello world')), /not a \.npy file/);
  const f = npy64([1, 2], [2]);
  const fortran = new TextDecoder('latin1').decode(f).replace("'fortran_order': False", "'fortran_order': True ");
  assert.throws(() => parseNpy(Uint8Array.from(fortran, (c) => c.charCodeAt(0))), /Fortran-order/);
  const int = new TextDecoder('latin1').decode(f).replace("'<f8'", "'<i8'");
  assert.throws(() => parseNpy(Uint8Array.from(int, (c) => c.charCodeAt(0))), /dtype <i8 is not supported/);
  assert.throws(() => parseNpy(npy64([1, 2], [3])), /needs 3/);
});

test('xbarc mvm: Y ≈ X·W through a lossless crossbar; fast ≈ exact; seeded; shape errors are clear', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-mvm-'));
  try {
    const spec = join(dir, 'spec.xbar');
    writeFileSync(spec, SPEC);
    const rng = new Rng(1, 'test/mvm');
    const K = 40,
      N = 7,
      B = 5;
    const W = { data: rng.fillNormal(new Float32Array(K * N), 0, 0.3), shape: [K, N] };
    const X = { data: rng.fillNormal(new Float32Array(B * K)), shape: [B, K] };
    writeFileSync(join(dir, 'W.npy'), formatNpy(W));
    writeFileSync(join(dir, 'X.npy'), formatNpy(X));
    const run = async (fidelity: string, seed = '0', out = 'Y.npy', crossbar = 'lossless') => {
      const code = await mvmCommand({ spec, crossbar, weights: join(dir, 'W.npy'), inputs: join(dir, 'X.npy'), out: join(dir, out), fidelity, seed });
      assert.equal(code, 0);
      return parseNpy(readFileSync(join(dir, out)));
    };
    const exact = await run('exact');
    assert.deepEqual(exact.shape, [B, N]);
    let num = 0,
      den = 0;
    for (let b = 0; b < B; b++) {
      for (let n = 0; n < N; n++) {
        let y = 0;
        for (let k = 0; k < K; k++) y += X.data[b * K + k]! * W.data[k * N + n]!;
        num += (exact.data[b * N + n]! - y) ** 2;
        den += y * y;
      }
    }
    const rel = Math.sqrt(num / den);
    // 8-bit weights and inputs with 5 % D2D variation: a few percent off the ideal product.
    assert.ok(rel > 1e-3 && rel < 0.1, `relative error ${rel}`);
    assert.deepEqual(Array.from((await run('exact', '0', 'Y2.npy')).data), Array.from(exact.data), 'same seed, same devices');
    assert.notDeepEqual(Array.from((await run('exact', '1', 'Y3.npy')).data), Array.from(exact.data), 'another seed, other devices');
    // Fast: one signed 8-bit ADC on the layer-level result. With the worst-case range it is
    // coarse; calibrated on the inputs (99.9 %) it lands within a 7-bit step of the exact result.
    const fastMax = await run('fast');
    const fastCal = await run('fast', '0', 'Y4.npy', 'calibrated');
    const dist = (a: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - exact.data[i]!) ** 2, 0) / den);
    assert.ok(dist(fastCal.data) < 0.08, `calibrated fast vs exact ${dist(fastCal.data)}`);
    assert.ok(dist(fastMax.data) > dist(fastCal.data), `worst-case range is coarser: ${dist(fastMax.data)} vs ${dist(fastCal.data)}`);

    writeFileSync(join(dir, 'bad.npy'), formatNpy({ data: new Float32Array(B * (K + 1)), shape: [B, K + 1] }));
    const bad = await mvmCommand({ spec, crossbar: 'lossless', weights: join(dir, 'W.npy'), inputs: join(dir, 'bad.npy'), out: join(dir, 'Z.npy') });
    assert.equal(bad, 1);
    assert.equal(await mvmCommand({ spec, crossbar: 'nope', weights: join(dir, 'W.npy'), inputs: join(dir, 'X.npy'), out: join(dir, 'Z.npy') }), 1);
    assert.equal(
      await mvmCommand({ spec, crossbar: 'lossless', weights: join(dir, 'W.npy'), inputs: join(dir, 'X.npy'), out: join(dir, 'Z.npy'), fidelity: 'ideal' }),
      2,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("crossbarMvm at exact fidelity follows the compiler's merge decision: lossless merges give identical numbers", async () => {
  const rng = new Rng(5, 'test/mvm-merge');
  const K = 70,
    N = 9,
    B = 6;
  const W = { data: rng.fillNormal(new Float32Array(K * N), 0, 0.3), shape: [K, N] };
  const X = { data: rng.fillNormal(new Float32Array(B * K)), shape: [B, K] };
  // 32-row tiles, 1-bit DACs, 2-bit cells: partial sums up to 32·1·3 = 96 fit an 8-bit ADC.
  const lossless = planCrossbar();
  const decide = (xb: typeof lossless) => crossbarMerges(xb, { fidelity: 'exact', K, N, directions: ['forward'], signedInput: true })[0]!;
  const merged = await crossbarMvm(lossless, W, X, { fidelity: 'exact', seed: 0, merge: decide(lossless) });
  const every = await crossbarMvm(lossless, W, X, { fidelity: 'exact', seed: 0, mergeLossless: false });
  assert.equal(merged.merge.applied, true, merged.merge.reason);
  assert.equal(every.merge.applied, false);
  assert.deepEqual(Array.from(merged.data), Array.from(every.data));
  // A 6-bit ADC cannot hold those sums: not merged, and the result differs.
  const lossy = planCrossbar({ adc: { bits: 6, range: { kind: 'max' }, offset: 0, gainError: 0, inl: 0, rounding: 'nearest' } });
  const coarse = await crossbarMvm(lossy, W, X, { fidelity: 'exact', seed: 0, merge: decide(lossy) });
  // Without a decision nothing is merged: every conversion runs, with the lossless result.
  const undecided = await crossbarMvm(lossless, W, X, { fidelity: 'exact', seed: 0 });
  assert.equal(undecided.merge.applied, false);
  assert.deepEqual(Array.from(undecided.data), Array.from(every.data));
  assert.equal(coarse.merge.applied, false);
  assert.match(coarse.merge.reason, /6 < 7/);
  assert.notDeepEqual(Array.from(coarse.data), Array.from(merged.data));
});

test('xbarc mvm: a partial sum on a half code rounds to even (8×8 tile, LSB = 8/7: 3.5 codes → 4)', async () => {
  // The bit-true check's repro: 4-bit weights on 2-bit cells, 4-bit inputs on 2-bit DACs, a 6-bit
  // ADC at the worst-case range 8·3·3 = 72 level units: LSB = 72/63 = 8/7. Input 1 on rows 0–3
  // against weight 1 is the only non-zero partial sum, n = 4 = 3.5 LSB; the 15s set both scales
  // to 1 and meet zeros. Ties to even: code 4, y = 4·8/7 = 4.5714286 (code 3 gave 3.4285717).
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-mvm-tie-'));
  try {
    const spec = join(dir, 'tie.xbar');
    writeFileSync(
      spec,
      `device d {
  levels = 4
  r_on   = 100 kOhm
  on_off = 10
}

crossbar xb {
  size        = 8 x 8
  device      = d
  mapping     = differential
  weight_bits = 4
  cell_bits   = 2
  input_bits  = 4
  dac_bits    = 2
  adc         = { bits = 6, range = max }
}
`,
    );
    const W = new Float32Array(64);
    [1, 1, 1, 1, 0, 0, 0, 15].forEach((v, k) => (W[k * 8] = v));
    writeFileSync(join(dir, 'W.npy'), formatNpy({ data: W, shape: [8, 8] }));
    writeFileSync(join(dir, 'X.npy'), formatNpy({ data: Float32Array.of(1, 1, 1, 1, 15, 0, 0, 0), shape: [1, 8] }));
    const code = await mvmCommand({
      spec,
      crossbar: 'xb',
      weights: join(dir, 'W.npy'),
      inputs: join(dir, 'X.npy'),
      out: join(dir, 'Y.npy'),
      fidelity: 'exact',
      seed: '0',
    });
    assert.equal(code, 0);
    const Y = parseNpy(readFileSync(join(dir, 'Y.npy')));
    assert.deepEqual(Y.shape, [1, 8]);
    assert.equal(Y.data[0], Math.fround(4 * Math.fround(8 / 7)));
    assert.ok(Math.abs(Y.data[0]! - 32 / 7) < 1e-6, `y = ${Y.data[0]}`);
    assert.deepEqual(Array.from(Y.data.subarray(1)), new Array(7).fill(0));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('xbarc mvm --subtract analog: a negative plane difference on a half code rounds to even (−3.5 codes → −4); bad values are clear', async () => {
  // As the tie above, on a 7-bit signed ADC (codes ±63) at the worst case 72: LSB = 8/7 again. The
  // weights are negative, so the only non-zero difference is n = I⁺ − I⁻ = −4 = −3.5 LSB → −4.
  const dir = mkdtempSync(join(tmpdir(), 'xbarc-mvm-analog-'));
  try {
    const spec = join(dir, 'tie.xbar');
    writeFileSync(
      spec,
      `device d { levels = 4 }
crossbar xb {
  size        = 8 x 8
  device      = d
  weight_bits = 4
  cell_bits   = 2
  input_bits  = 4
  dac_bits    = 2
  adc         = { bits = 7, range = max }
}
`,
    );
    const W = new Float32Array(64);
    [-1, -1, -1, -1, 0, 0, 0, -15].forEach((v, k) => (W[k * 8] = v));
    writeFileSync(join(dir, 'W.npy'), formatNpy({ data: W, shape: [8, 8] }));
    writeFileSync(join(dir, 'X.npy'), formatNpy({ data: Float32Array.of(1, 1, 1, 1, 15, 0, 0, 0), shape: [1, 8] }));
    const run = (subtract?: string) =>
      mvmCommand({
        spec,
        crossbar: 'xb',
        weights: join(dir, 'W.npy'),
        inputs: join(dir, 'X.npy'),
        out: join(dir, 'Y.npy'),
        ...(subtract ? { subtract } : {}),
      });
    assert.equal(await run('analog'), 0);
    const Y = parseNpy(readFileSync(join(dir, 'Y.npy')));
    assert.equal(Y.data[0], Math.fround(-4 * Math.fround(8 / 7)));
    assert.deepEqual(Array.from(Y.data.subarray(1)), new Array(7).fill(0));
    // Per plane the 7-bit ADC has 127 codes ≥ 72: lossless, y = −4 exactly.
    assert.equal(await run(), 0);
    assert.equal(parseNpy(readFileSync(join(dir, 'Y.npy'))).data[0], -4);
    assert.equal(await run('both'), 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('crossbarMvm with subtract = analog calibrates its signed ADC on |I⁺ − I⁻| in-graph (= bit-true reference at the observed full scale)', async () => {
  const rng = new Rng(9, 'test/mvm-analog-calibrate');
  const K = 37,
    N = 5,
    B = 4;
  // Integer inputs and weights whose extremes are the quantizers' q_max: both scales are 1.
  const x = Float32Array.from({ length: B * K }, () => rng.int(63) - 31);
  const w = Float32Array.from({ length: K * N }, () => rng.int(511) - 255);
  x[0] = 31;
  w[0] = -255;
  const xb = planCrossbar({
    rows: 16,
    subtract: 'analog',
    weightBits: 8,
    cellBits: 2,
    inputBits: 6,
    dacBits: 1,
    adc: adc(5, { kind: 'calibrate', percentile: 1 }),
  });
  const Y = await crossbarMvm(xb, { data: w, shape: [K, N] }, { data: x, shape: [B, K] }, { fidelity: 'exact', seed: 0, mergeLossless: false });
  const cfg = {
    rows: 16,
    mapping: 'differential' as const,
    subtract: 'analog' as const,
    weightBits: 8,
    cellBits: 2,
    inputBits: 6,
    dacBits: 1,
    signedInput: true,
    adcBits: 5,
  };
  const F = bitTrueMvm(Int32Array.from(x), Int32Array.from(w), B, K, N, { ...cfg, fullScale: 1 }).largest;
  const ref = bitTrueMvm(Int32Array.from(x), Int32Array.from(w), B, K, N, { ...cfg, fullScale: F });
  assert.ok(F > 15 && ref.saturated === 0, `a lossy step: full scale ${F} over 15 codes, nothing clipped at the observed maximum`);
  const lsb = Math.fround(F / 15);
  assert.deepEqual(
    Array.from(Y.data),
    Array.from(ref.acc, (a) => Math.fround(a * lsb)),
  );
});
