/**
 * Bit-true integer reference of the exact crossbar MVM (PUMA functional model), written with
 * integer bit operations and plain loops; it shares no code with the ONNX emitters.
 *
 *   y[b, n] = Σ_tiles Σ_streams w_j Σ_planes ±1 Σ_slices 2^(cb·s) · ADC( Σ_{rows r in tile} d_j(x[b,r]) · ℓ_s(W_p[r,n]) )
 *   ADC(n) = clamp(roundHalfEven(n / LSB), 0, M),  LSB = max(F / M, 1),  M = 2^bits − 1
 *
 * with the real quotient: n / LSB is computed as an exact rational (BigInt), so ties (n / LSB a
 * half-integer) round to even exactly. Analog subtraction (`subtract: 'analog'`, differential
 * only) converts the planes' difference with one signed ADC per slice instead:
 *
 *   y[b, n] = Σ_tiles Σ_streams w_j Σ_slices 2^(cb·s) · ADC±( Σ_rows d_j · (ℓ_s(W⁺) − ℓ_s(W⁻)) )
 *   ADC±(n) = sign(n) · clamp(roundHalfEven(|n| / LSB), 0, M),  M = 2^(bits−1) − 1
 *
 * (round half to even is odd-symmetric, so this is clamp(roundHalfEven(n / LSB), −M, M)). F is the ADC full scale in level units (any double, e.g.
 * the float32 value a graph holds); slices are cell_bits wide from the LSB up, the top one holding
 * what remains of weight_bits.
 *
 * Weights and inputs are already integers: W ∈ [−qmax_w, qmax_w], x ∈ [−qmax_x, qmax_x]
 * (or [0, 2^ib − 1] unsigned).
 */

export interface BitTrueConfig {
  /** Tile rows (the reduction is split into tiles of this many rows). */
  rows: number;
  mapping: 'differential' | 'offset';
  weightBits: number;
  cellBits: number;
  inputBits: number;
  dacBits: number;
  signedInput: boolean;
  adcBits: number;
  /** ADC full scale F in level units (one level × one DAC step); the step is max(F / M, 1). */
  fullScale: number;
  /** Where the ± planes are subtracted: each converted and the codes subtracted (default), or the sums before one signed ADC. */
  subtract?: 'digital' | 'analog';
  /** The code of a conversion: nearest, ties to even (default), or truncated toward zero, ⌊n·M/F⌋. */
  rounding?: 'nearest' | 'truncate';
}

export interface BitTrueResult {
  /** [B × N] shift-added ADC codes (integers). */
  acc: Float64Array;
  conversions: number;
  saturated: number;
  /** The largest |partial sum| converted (what `calibrate(1)` observes). */
  largest: number;
}

/** A finite double as an exact fraction num/den (den a power of two). */
function exactFraction(v: number): { num: bigint; den: bigint } {
  let den = 1n;
  let x = v;
  // Doubles ≥ 1 have at most 52 fractional bits; doubling is exact.
  while (!Number.isInteger(x)) {
    x *= 2;
    den *= 2n;
  }
  return { num: BigInt(x), den };
}

/** The ADC code of an integer partial sum n ≥ 0: clamp(roundHalfEven(n·M/F), 0, M) exactly, or n at a one-level step. */
export function adcCode(n: number, fullScale: number, maxCode: number, rounding: 'nearest' | 'truncate' = 'nearest'): { code: number; saturated: boolean } {
  let raw: bigint;
  if (fullScale <= maxCode) raw = BigInt(n);
  else {
    // n / (F/M) = n·M·den / num, rounded half to even in integers.
    const { num, den } = exactFraction(fullScale);
    const p = BigInt(n) * BigInt(maxCode) * den;
    const q = p / num;
    const twice = 2n * (p - q * num);
    raw = rounding === 'truncate' ? q : twice > num || (twice === num && q % 2n === 1n) ? q + 1n : q;
  }
  const saturated = raw > BigInt(maxCode);
  return { code: saturated ? maxCode : Number(raw), saturated };
}

/** The signed ADC code of an integer plane difference n: sign(n)·(the code of |n|), codes ±M. */
export function signedAdcCode(
  n: number,
  fullScale: number,
  maxCode: number,
  rounding: 'nearest' | 'truncate' = 'nearest',
): { code: number; saturated: boolean } {
  const { code, saturated } = adcCode(Math.abs(n), fullScale, maxCode, rounding);
  return { code: n < 0 ? -code : code, saturated };
}

/** Input stream digits and their shift-add weights for one integer input. */
function streams(q: number, c: BitTrueConfig): { digits: number[]; weights: number[] } {
  const mask = (1 << c.dacBits) - 1;
  const digits: number[] = [];
  const weights: number[] = [];
  if (!c.signedInput) {
    for (let j = 0; j * c.dacBits < c.inputBits; j++) {
      digits.push((q >> (j * c.dacBits)) & mask);
      weights.push(2 ** (j * c.dacBits));
    }
  } else if (c.dacBits === 1) {
    const u = q & ((1 << c.inputBits) - 1); // two's complement bit pattern
    for (let j = 0; j < c.inputBits; j++) {
      digits.push((u >> j) & 1);
      weights.push(j === c.inputBits - 1 ? -(2 ** j) : 2 ** j);
    }
  } else {
    const pos = Math.max(q, 0);
    const neg = Math.max(-q, 0);
    const Jm = Math.ceil((c.inputBits - 1) / c.dacBits);
    for (const [v, sign] of [
      [pos, 1],
      [neg, -1],
    ] as const) {
      for (let j = 0; j < Jm; j++) {
        digits.push((v >> (j * c.dacBits)) & mask);
        weights.push(sign * 2 ** (j * c.dacBits));
      }
    }
  }
  return { digits, weights };
}

/** x: [B × K] integers, w: [K × N] integers (row-major). */
export function bitTrueMvm(x: Int32Array, w: Int32Array, B: number, K: number, N: number, c: BitTrueConfig): BitTrueResult {
  const S = Math.ceil(c.weightBits / c.cellBits);
  const cellMask = (1 << c.cellBits) - 1;
  const analog = c.subtract === 'analog';
  if (analog && c.mapping !== 'differential') throw new Error('analog subtraction needs differential mapping');
  const maxCode = analog ? 2 ** (c.adcBits - 1) - 1 : 2 ** c.adcBits - 1;
  const Z = 1 << (c.weightBits - 1);
  // planes[p][k*N+n]: stored unsigned integers (differential: |W⁺|, |W⁻|; offset: W + Z, Z).
  const planes = [new Int32Array(K * N), new Int32Array(K * N)];
  for (let i = 0; i < K * N; i++) {
    const q = w[i]!;
    if (c.mapping === 'differential') {
      planes[0]![i] = Math.max(q, 0);
      planes[1]![i] = Math.max(-q, 0);
    } else {
      planes[0]![i] = q + Z;
      planes[1]![i] = Z;
    }
  }
  const acc = new Float64Array(B * N);
  let conversions = 0;
  let saturated = 0;
  let largest = 0;
  const tiles = Math.ceil(K / c.rows);
  for (let b = 0; b < B; b++) {
    const enc = Array.from({ length: K }, (_, k) => streams(x[b * K + k]!, c));
    const J = enc[0]?.digits.length ?? 0;
    for (let t = 0; t < tiles; t++) {
      const r0 = t * c.rows;
      const r1 = Math.min(K, r0 + c.rows);
      for (let j = 0; j < J; j++) {
        if (analog) {
          for (let s = 0; s < S; s++) {
            for (let n = 0; n < N; n++) {
              let diff = 0;
              for (let r = r0; r < r1; r++) {
                const level = (p: number): number => (planes[p]![r * N + n]! >> (c.cellBits * s)) & cellMask;
                diff += enc[r]!.digits[j]! * (level(0) - level(1));
              }
              const { code, saturated: clipped } = signedAdcCode(diff, c.fullScale, maxCode, c.rounding);
              largest = Math.max(largest, Math.abs(diff));
              conversions++;
              if (clipped) saturated++;
              acc[b * N + n]! += enc[0]!.weights[j]! * 2 ** (c.cellBits * s) * code;
            }
          }
          continue;
        }
        for (let p = 0; p < 2; p++) {
          for (let s = 0; s < S; s++) {
            for (let n = 0; n < N; n++) {
              let partial = 0;
              for (let r = r0; r < r1; r++) partial += enc[r]!.digits[j]! * ((planes[p]![r * N + n]! >> (c.cellBits * s)) & cellMask);
              const { code, saturated: clipped } = adcCode(partial, c.fullScale, maxCode, c.rounding);
              largest = Math.max(largest, partial);
              conversions++;
              if (clipped) saturated++;
              acc[b * N + n]! += enc[0]!.weights[j]! * (p === 0 ? 1 : -1) * 2 ** (c.cellBits * s) * code;
            }
          }
        }
      }
    }
  }
  return { acc, conversions, saturated, largest };
}

/** im2col of an integer image batch [B, C, H, W] → per (b, output pixel) rows of K = C·kh·kw (c, i, j order). */
export function im2colInt(
  x: Int32Array,
  B: number,
  C: number,
  H: number,
  W: number,
  kernel: [number, number],
  stride: [number, number],
  pads: [number, number, number, number],
): { cols: Int32Array; Ho: number; Wo: number; K: number } {
  const [kh, kw] = kernel;
  const Ho = Math.floor((H + pads[0] + pads[2] - kh) / stride[0]) + 1;
  const Wo = Math.floor((W + pads[1] + pads[3] - kw) / stride[1]) + 1;
  const K = C * kh * kw;
  const cols = new Int32Array(B * Ho * Wo * K);
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        const row = (b * Ho * Wo + oy * Wo + ox) * K;
        for (let c = 0; c < C; c++) {
          for (let i = 0; i < kh; i++) {
            for (let j = 0; j < kw; j++) {
              const yy = oy * stride[0] + i - pads[0];
              const xx = ox * stride[1] + j - pads[1];
              const inside = yy >= 0 && yy < H && xx >= 0 && xx < W;
              cols[row + (c * kh + i) * kw + j] = inside ? x[((b * C + c) * H + yy) * W + xx]! : 0;
            }
          }
        }
      }
    }
  }
  return { cols, Ho, Wo, K };
}
