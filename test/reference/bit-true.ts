/**
 * Bit-true integer reference of the exact crossbar MVM (PUMA functional model), written with
 * integer bit operations and plain loops; it shares no code with the ONNX emitters.
 *
 *   y[b, n] = Σ_tiles Σ_streams w_j Σ_planes ±1 Σ_slices 2^(cb·s) · ADC( Σ_{rows r in tile} d_j(x[b,r]) · ℓ_s(W_p[r,n]) )
 *   ADC(n) = clamp(roundHalfEven(float32(n · float32(1 / lsb))), 0, 2^bits − 1)
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
  /** ADC step in units of one level × one DAC step (a float32 value). */
  lsb: number;
}

export interface BitTrueResult {
  /** [B × N] shift-added ADC codes (integers). */
  acc: Float64Array;
  conversions: number;
  saturated: number;
}

export function roundHalfEven(v: number): number {
  const fl = Math.floor(v);
  const diff = v - fl;
  if (diff > 0.5) return fl + 1;
  if (diff < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
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
    for (const [v, sign] of [[pos, 1], [neg, -1]] as const) {
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
  const maxCode = 2 ** c.adcBits - 1;
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
  const tiles = Math.ceil(K / c.rows);
  const inv = Math.fround(1 / c.lsb);
  for (let b = 0; b < B; b++) {
    const enc = Array.from({ length: K }, (_, k) => streams(x[b * K + k]!, c));
    const J = enc[0]?.digits.length ?? 0;
    for (let t = 0; t < tiles; t++) {
      const r0 = t * c.rows;
      const r1 = Math.min(K, r0 + c.rows);
      for (let j = 0; j < J; j++) {
        for (let p = 0; p < 2; p++) {
          for (let s = 0; s < S; s++) {
            for (let n = 0; n < N; n++) {
              let partial = 0;
              for (let r = r0; r < r1; r++) partial += enc[r]!.digits[j]! * ((planes[p]![r * N + n]! >> (c.cellBits * s)) & cellMask);
              const raw = roundHalfEven(Math.fround(partial * inv));
              const code = Math.min(maxCode, Math.max(0, raw));
              conversions++;
              if (raw > maxCode) saturated++;
              acc[b * N + n]! += enc[0]!.weights[j]! * (p === 0 ? 1 : -1) * 2 ** (c.cellBits * s) * code;
            }
          }
        }
      }
    }
  }
  return { acc, conversions, saturated };
}

/** im2col of an integer image batch [B, C, H, W] → per (b, output pixel) rows of K = C·kh·kw (c, i, j order). */
export function im2colInt(
  x: Int32Array, B: number, C: number, H: number, W: number,
  kernel: [number, number], stride: [number, number], pads: [number, number, number, number],
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
