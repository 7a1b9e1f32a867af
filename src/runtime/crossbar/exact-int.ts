/**
 * The exact-fidelity forward conversions on 8-bit integers — the same arithmetic as the float
 * per-conversion core of emitter.ts, at a fraction of its memory traffic.
 *
 * Where the stored levels and the DAC digits are small non-negative integers (no device
 * non-idealities) and the ADC's transfer is ideal with at most 256 codes, every partial sum
 * n = Σ_rows d·ℓ is an exact integer and its code is clip(round_half_even(n·a/b), 0, maxCode) for
 * the step LSB = b/a (config.ts `adcStep`). Two requantizations compute it exactly:
 *  - `scale`: ONNX's QLinearMatMul in one kernel — an integer GEMM of uint8 levels and uint8
 *    digits, requantized with the float32 multiplier s = a_scale·b_scale/y_scale, rounded half to
 *    even and saturated to uint8. Exact only where round_half_even(float32(n·s)) equals the real
 *    rounding for every n that can occur; `exactMultiplier` searches s near a/b and checks every
 *    n (a one-level step: s = 1). The GEMM, the ADC and the code store are then one pass writing
 *    one byte per conversion instead of four float passes.
 *  - `divide` (steps without such a multiplier): MatMulInteger (int32 n), DequantizeLinear (n·a,
 *    exact in float32), QuantizeLinear (IEEE division by b, half to even, saturated to uint8):
 *    exact where `exactInFloat32` holds; about 1.5× the time of `scale`, still below the float
 *    core.
 * Calibrated steps are known only when the graph runs: the runtime feeds [a, b, s] with s the
 * exact multiplier or 0 (`fedStep`), and an If takes `scale` where s > 0, else `divide`.
 * The plane/slice shift-add reads those bytes with one MatMulInteger; the stream shift-add and the
 * row-tile sum are as in the float core.
 *
 * Analog subtraction (`subtract = analog`): the levels are the planes' difference L⁺ − L⁻ in
 * ±(2^cell_bits − 1), stored as uint8 with the zero point 2^cell_bits − 1 (cell_bits ≤ 7), and the
 * signed codes ±(2^(bits−1) − 1) (bits ≤ 8) as uint8 with the zero point 128: the same u8×u8
 * kernels, round half to even being symmetric, so the multiplier checks of non-negative sums hold
 * for negative ones.
 *
 * Convolutions are unfolded on the integer digits, not on the float image: the digits of the
 * (padded) image are extracted once per pixel, then one Gather with a constant index tensor lays
 * out every row tile's patch rows, with the batch and stream digits contiguous (the columns are
 * ordered (pixel, sample, stream)). Padded tile rows read an all-zero row.
 *
 * Used for static-range evaluation graphs without statistics (the integer codes do not tell a
 * saturated conversion from one that landed on the top code, which the ADC statistics and the
 * training straight-through mask need); those keep the float core. The bit-true tests run both.
 */

import { DataType, type GraphBuilder } from '../engine/onnx.js';
import type { MvmSpec } from '../engine/mvm.js';
import {
  adcStep,
  analogSubtraction,
  columnMaxCode,
  conversionWeights,
  convertedPlanes,
  exactInFloat32,
  maxLevel,
  unitCurrent,
  widestSliceLevel,
  type InputEncoding,
} from '../../model/crossbar-math.js';
import type { CrossbarSpec } from '../../model/crossbar.js';

/** Whether the forward conversions of a layer with these settings can run on 8-bit integers (levels, digits and codes fit bytes; ideal ADC transfer). */
export function integerConversionsApply(xb: CrossbarSpec, enc: InputEncoding): boolean {
  const adc = xb.adc;
  // Analog subtraction: levels ±(2^cb − 1) and codes ±M shifted by their zero points into a byte.
  const fits = analogSubtraction(xb) ? xb.cellBits <= 7 && columnMaxCode(xb, adc) <= 127 : xb.cellBits <= 8 && columnMaxCode(xb, adc) <= 255;
  return fits && enc.dacBits <= 8 && adc.gainError === 0 && adc.inl === 0 && adc.offset === 0 && adc.rounding === 'nearest';
}

/**
 * How the integer core converts (module comment), or null where it cannot be exact: `scale`
 * (QLinearMatMul, multiplier `s`) or `divide` (MatMulInteger → DequantizeLinear(a) →
 * QuantizeLinear(b)) for the constant steps a, b of `max` and `fixed` ranges; `choose` for a fed
 * (calibrated) step. `rows`: the tile rows in use, min(K, rows).
 */
export type RequantPlan = { kind: 'scale'; a: number; b: number; s: number } | { kind: 'divide'; a: number; b: number } | { kind: 'choose' };

/** The largest partial sum of `rows`-row tiles: every row at the top DAC digit and the widest slice's top level. */
export const largestSum = (xb: CrossbarSpec, dacBits: number, rows: number): number => rows * (2 ** dacBits - 1) * widestSliceLevel(xb);

export function requantPlan(xb: CrossbarSpec, enc: InputEncoding, rows: number): RequantPlan | null {
  if (!integerConversionsApply(xb, enc)) return null;
  const adc = xb.adc;
  const M = columnMaxCode(xb, adc);
  const worst = largestSum(xb, enc.dacBits, rows);
  if (worst >= 2 ** 24) return null;
  if (adc.range.kind === 'calibrate') {
    // A calibrated full scale is an observed partial sum (≤ worst), so b ≤ worst, and 1 when worst ≤ M: `divide` is exact for all.
    return worst <= M || exactInFloat32(worst, M) ? { kind: 'choose' } : null;
  }
  const F = adc.range.kind === 'max' ? worst : adc.range.current / unitCurrent(xb, enc.dacBits);
  const { a, b } = adcStep(F, M);
  const s = exactMultiplier(a, b, M, worst);
  if (s !== null) return { kind: 'scale', a, b, s };
  return exactInFloat32(b, M) ? { kind: 'divide', a, b } : null;
}

/**
 * The fed form of a static step (`xb/<layer>/step`): [a, b, s] with LSB = b/a (`adcStep`) and s
 * the exact QLinearMatMul multiplier for the partial sums of `rows`-row tiles, or 0 where none
 * exists (then the integer core divides; the float core reads a and b only).
 */
export function fedStep(xb: CrossbarSpec, fullScale: number, maxCode: number, rows: number): [number, number, number] {
  const { a, b } = adcStep(fullScale, maxCode);
  const worst = largestSum(xb, xb.dacBits, rows);
  return [a, b, maxCode <= 255 && worst < 2 ** 24 ? (exactMultiplier(a, b, maxCode, worst) ?? 0) : 0];
}

/** round_half_even(n·a/b) for non-negative integers with 2·n·a + b < 2^53 (exact in double). */
export function roundRatioHalfEven(n: number, a: number, b: number): number {
  const num = 2 * n * a + b;
  const q = Math.floor(num / (2 * b));
  // num − q·2b is the exact remainder: zero at a tie (n·a/b = q − ½), where q odd rounds down.
  return num - q * 2 * b === 0 && q % 2 === 1 ? q - 1 : q;
}

/**
 * A float32 multiplier s with clip(round_half_even(float32(n·s)), 0, M) equal to
 * clip(round_half_even(n·a/b), 0, M) for every integer 0 ≤ n ≤ worst (QLinearMatMul's
 * requantization: int32 → float32, product, half-to-even conversion), or null: float32(a/b) or one
 * of its nearest neighbours, each checked at every n up to the first that saturates both
 * (both roundings are monotone in n). Checks at most ~2^21 values of n. Both roundings are odd
 * functions of n (float32 products and half-to-even rounding are sign-symmetric), so s is also
 * exact for the signed codes clip(·, −M, M) of −worst ≤ n ≤ worst.
 */
export function exactMultiplier(a: number, b: number, maxCode: number, worst: number): number | null {
  if (a === b) return 1;
  if (worst > 2 ** 21 || !Number.isInteger(a) || !Number.isInteger(b) || 2 * worst * a + b >= 2 ** 53) return null;
  const f32 = new Float32Array(1);
  const bits = new Uint32Array(f32.buffer);
  f32[0] = a / b;
  const base = bits[0]!;
  for (const d of [0, -1, 1, -2, 2, -3, 3]) {
    bits[0] = base + d;
    const s = f32[0]!;
    let ok = true;
    for (let n = 0; n <= worst && ok; n++) {
      const want = Math.min(maxCode, roundRatioHalfEven(n, a, b));
      const p = Math.fround(n * s);
      const fl = Math.floor(p);
      const got = Math.min(maxCode, p - fl > 0.5 ? fl + 1 : p - fl < 0.5 ? fl : fl % 2 === 0 ? fl : fl + 1);
      if (got !== want) ok = false;
      else if (want === maxCode) break;
    }
    if (ok) return s;
  }
  return null;
}

/** The requantization of `integerForwardCore` as graph tensors (scalar float32): see `RequantPlan`; `choose` takes `scale` (multiplier s) where s > 0. */
export type Requantization = { kind: 'scale'; s: string } | { kind: 'divide'; a: string; b: string } | { kind: 'choose'; s: string; a: string; b: string };

/**
 * acc [N, M] (ADC codes shift-added over planes, slices, streams and row tiles) of the tile-major
 * levels Lm [T, P·S·N, R] (P = 2 planes, or 1 analog difference) (float holding small integers; the float core's layout) and the
 * quantized inputs `xq` (float integers; dense [B, K], conv [B, C, H, W]). For conv, M is ordered
 * (pixel, sample).
 */
export function integerForwardCore(
  g: GraphBuilder,
  spec: MvmSpec,
  xq: string,
  Lm: string,
  enc: InputEncoding,
  xb: CrossbarSpec,
  tiles: { T: number; R: number; S: number },
  requant: Requantization,
): string {
  const { T, R, S } = tiles;
  const K = spec.kind === 'dense' ? spec.K : spec.C * spec.kernel[0] * spec.kernel[1];
  const N = spec.kind === 'dense' ? spec.N : spec.O;
  const D = spec.kind === 'dense' ? denseDigits(g, xq, enc, K, T, R) : convDigits(g, spec, xq, enc, T, R);
  const one = g.scalar(1);
  const zero = g.constUint8([0], []);
  const P = convertedPlanes(xb);
  const signed = P === 1;
  // Analog subtraction: levels L⁺ − L⁻ + zl and codes c + zc, with zero points zl = 2^cb − 1 and zc = 128.
  const zl = signed ? g.constUint8([maxLevel(xb)], []) : zero;
  const zc = signed ? g.constUint8([128], []) : zero;
  const L8 = g.op('Cast', [signed ? g.op('Add', [Lm, g.scalar(maxLevel(xb))]) : Lm], { to: DataType.UINT8 });
  // [T, PSN, M·J] uint8. QLinearMatMul's multiplier is a_scale·b_scale/y_scale = s·1/1 = s.
  const scale = (b: GraphBuilder, s: string): string => b.op('QLinearMatMul', [L8, s, zl, D, one, zero, one, zc]);
  const divide = (b: GraphBuilder, a: string, by: string): string =>
    b.op('QuantizeLinear', [b.op('DequantizeLinear', [b.op('MatMulInteger', signed ? [L8, D, zl] : [L8, D]), a]), by, zc]);
  let code: string;
  if (requant.kind === 'scale') code = scale(g, requant.s);
  else if (requant.kind === 'divide') code = divide(g, requant.a, requant.b);
  else {
    const yes = g.branch('requant/scale');
    yes.output(g.fresh('codes'), scale(yes, requant.s), 'uint8');
    const no = g.branch('requant/divide');
    no.output(g.fresh('codes'), divide(no, requant.a, requant.b), 'uint8');
    code = g.ifElse(g.op('Greater', [requant.s, g.scalar(0)]), yes, no)[0]!;
  }
  const maxCode = columnMaxCode(xb, xb.adc);
  // Signed codes saturate to the byte [−128, 127]: clip to the symmetric ±M.
  if (signed) code = g.op('Clip', [code, g.constUint8([128 - maxCode], []), g.constUint8([128 + maxCode], [])]);
  else if (maxCode < 255) code = g.op('Clip', [code, zero, g.constUint8([maxCode], [])]);
  const grouped = g.op('Reshape', [code, g.constInt64([T, P * S, -1])]);
  // Shift-add weights (±)2^(cell_bits·s) as uint8, signed weights with a zero point (MLAS's u8×u8
  // kernel is several times faster than its s8×u8 one), signed codes with theirs; a float MatMul
  // where the weights do not fit a byte.
  const psw = conversionWeights(xb);
  const zp = signed ? 0 : Math.max(...psw);
  const ps =
    Math.max(...psw) + zp <= 255
      ? g.op(
          'Cast',
          [
            g.op('MatMulInteger', [
              g.constUint8(
                psw.map((w) => w + zp),
                [1, P * S],
              ),
              grouped,
              g.constUint8([zp], []),
              ...(signed ? [zc] : []),
            ]),
          ],
          { to: DataType.FLOAT },
        )
      : g.op('MatMul', [g.constFloat(psw, [1, P * S]), signedCodes(g, grouped, signed)]); // [T, 1, N·M·J]
  return sumStreamsAndTiles(g, ps, enc, T, N);
}

/** uint8 codes as float values (minus the zero point 128 of signed codes). */
function signedCodes(g: GraphBuilder, codes: string, signed: boolean): string {
  const f = g.op('Cast', [codes], { to: DataType.FLOAT });
  return signed ? g.op('Sub', [f, g.scalar(128)]) : f;
}

/** Plane/slice-combined codes ps [T, 1, N·M·J] → acc [N, M]: streams shift-added, row tiles summed. */
export function sumStreamsAndTiles(g: GraphBuilder, ps: string, enc: InputEncoding, T: number, N: number): string {
  const J = enc.streams;
  const streams = g.op('MatMul', [g.op('Reshape', [ps, g.constInt64([T, -1, J])]), g.constFloat(enc.weights, [J, 1])]); // [T, N·M, 1]
  return g.op('Reshape', [g.op('ReduceSum', [streams, g.constInt64([0])], { keepdims: 0 }), g.constInt64([N, -1])]);
}

/** Dense inputs xq [B, K] → uint8 digits [T, R, B·J]. */
function denseDigits(g: GraphBuilder, xq: string, enc: InputEncoding, K: number, T: number, R: number): string {
  let cols = g.op('Transpose', [xq], { perm: [1, 0] }); // [K, B]
  if (T * R > K) cols = g.op('Pad', [cols, g.constInt64([0, 0, T * R - K, 0])]);
  return g.op('Reshape', [streamDigits(g, cols, enc, DataType.UINT8), g.constInt64([T, R, -1])]);
}

/** Conv inputs xq [B, C, H, W] → uint8 digits [T, R, L·B·J], columns ordered (pixel, sample, stream). */
function convDigits(g: GraphBuilder, spec: Extract<MvmSpec, { kind: 'conv2d' }>, xq: string, enc: InputEncoding, T: number, R: number): string {
  const [pt, pl, pb, pr] = spec.pads;
  const Hp = spec.H + pt + pb;
  const Wp = spec.W + pl + pr;
  const pixels = spec.C * Hp * Wp;
  const img = pt + pl + pb + pr > 0 ? g.op('Pad', [xq, g.constInt64([0, 0, pt, pl, 0, 0, pb, pr])]) : xq;
  // [C·Hp·Wp + 1, B]: one row per padded pixel, then an all-zero row for padded tile rows.
  const rows = g.op('Pad', [g.op('Reshape', [g.op('Transpose', [img], { perm: [1, 2, 3, 0] }), g.constInt64([pixels, -1])]), g.constInt64([0, 0, 1, 0])]);
  const digits = g.op('Reshape', [streamDigits(g, rows, enc, DataType.UINT8), g.constInt64([pixels + 1, -1])]); // [pixels + 1, B·J]
  const idx = g.constInt64(patchIndex(spec, T, R, Hp, Wp, pixels), [T, R, spec.Ho * spec.Wo]);
  return g.op('Reshape', [g.op('Gather', [digits, idx], { axis: 0 }), g.constInt64([T, R, -1])]);
}

/** Row of the padded-pixel table read by tile t, tile row r, output pixel l (the zero row past K). */
export function patchIndex(spec: Extract<MvmSpec, { kind: 'conv2d' }>, T: number, R: number, Hp: number, Wp: number, zeroRow: number): number[] {
  const [kh, kw] = spec.kernel;
  const [sh, sw] = spec.stride;
  const K = spec.C * kh * kw;
  const L = spec.Ho * spec.Wo;
  const out = new Array<number>(T * R * L);
  for (let k = 0; k < T * R; k++) {
    const c = Math.floor(k / (kh * kw));
    const i = Math.floor(k / kw) % kh;
    const j = k % kw;
    for (let ho = 0; ho < spec.Ho; ho++) {
      for (let wo = 0; wo < spec.Wo; wo++) {
        out[k * L + ho * spec.Wo + wo] = k >= K ? zeroRow : c * Hp * Wp + (ho * sh + i) * Wp + (wo * sw + j);
      }
    }
  }
  return out;
}

/**
 * DAC stream digits of integer-valued floats q [...] along a new trailing axis [..., J], per the
 * encoding (LSB stream first; powers of two, so exact), as float (`to` = 1) or uint8 (`to` = 2).
 */
export function streamDigits(g: GraphBuilder, q: string, enc: InputEncoding, to: typeof DataType.FLOAT | typeof DataType.UINT8 = DataType.FLOAT): string {
  const base = 2 ** enc.dacBits;
  // Integer bit operations on uint32 (the inputs are non-negative integers below 2^32).
  const split = (u: string, J: number): string => {
    const shifts = g.constUint32(
      Array.from({ length: J }, (_, j) => j * enc.dacBits),
      [J],
    );
    const u32 = g.op('Unsqueeze', [g.op('Cast', [u], { to: DataType.UINT32 }), g.constInt64([-1])]);
    return g.op('Cast', [g.op('BitwiseAnd', [g.op('BitShift', [u32, shifts], { direction: 'RIGHT' }), g.constUint32([base - 1], [])])], { to });
  };
  switch (enc.kind) {
    case 'unsigned':
      return split(q, enc.streams);
    case 'twos': {
      const neg = g.op('Cast', [g.op('Less', [q, g.scalar(0)])], { to: DataType.FLOAT });
      return split(g.op('Add', [q, g.op('Mul', [neg, g.scalar(2 ** enc.bits)])]), enc.streams);
    }
    case 'signmag': {
      const Jm = enc.streams / 2;
      return g.op('Concat', [split(g.op('Relu', [q]), Jm), split(g.op('Relu', [g.op('Neg', [q])]), Jm)], { axis: -1 });
    }
  }
}
