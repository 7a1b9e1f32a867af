/**
 * Counter-based Gaussian streams (the reference, in plain JS): element e of a stream is a pure
 * function of (key, e), so any range of a stream can be drawn directly, in any order or chunking,
 * and bit for bit the same by the WebAssembly SIMD kernel (philox-wasm.ts) and by the JS below.
 * Streams: normal-stream.ts.
 *
 * Bits: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011; Random123's constants and round order, checked against its known-answer vectors). The
 * key is (k0, k1); the counter of block b is (b mod 2^32, ⌊b / 2^32⌋, 0, 0), and element e
 * (e < 2^51) is word e mod 4 of block ⌊e/4⌋.
 *
 * Transform: Box–Muller on the word pairs (x, y) = words (0, 1) and (2, 3) of a block, in float32
 * with every operation rounded to float32 (so the JS mirror is exact: a float64 operation on
 * float32 values rounded once to float32 is the float32 operation), no fused multiply-adds:
 *   u = (⌊x / 2^8⌋ + 1)·2^−24 ∈ (0, 1]             r = sqrt(−2·ln u)  (Cephes logf, ≈ 1 ulp)
 *   q = ⌊y / 2^30⌋, f = (⌊y / 2^6⌋ mod 2^24)·2^−24   φ = (f − ½)·π/2 ∈ [−π/4, π/4)
 *   (c, s) = (cos φ, sin φ) (Cephes cosf/sinf polynomials on [−π/4, π/4], ≈ 1 ulp)
 *   rotated by q quarter turns: q = 0 (c, s), 1 (−s, c), 2 (−c, −s), 3 (s, −c)
 *   element 2k = r·(first), element 2k + 1 = r·(second); written as mean + std·z (two roundings).
 * The angle q·π/2 + φ is uniform on a full turn, so the pair is two independent N(0, 1) values up
 * to the 24-bit resolution of u and f: |z| ≤ sqrt(48·ln 2) ≈ 5.77 (P(|N(0,1)| > 5.77) ≈ 8e−9).
 */

export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32 (exact: each partial product < 2^49). */
function mulhi(a: number, b: number): number {
  const p1 = (a >>> 16) * b;
  const p0 = (a & 0xffff) * b;
  return Math.floor((p1 + Math.floor(p0 / 65536)) / 65536) >>> 0;
}

/** Philox4x32-10 of counter (c0, c1, c2, c3) and key (k0, k1), written to out[at…at+3]. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array | number[], at = 0): void {
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  out[at] = c0;
  out[at + 1] = c1;
  out[at + 2] = c2;
  out[at + 3] = c3;
}

const fr = Math.fround;

/** The float32 constants of the transform (shared with the WebAssembly kernel). */
export const BOX_MULLER = {
  sqrtHalf: fr(Math.SQRT1_2),
  log: [
    7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
  ].map(fr),
  ln2Lo: fr(-2.1219444e-4),
  ln2Hi: fr(0.693359375),
  piOver2: fr(Math.PI / 2),
  sin: [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(fr),
  cos: [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(fr),
  twoM24: 2 ** -24,
} as const;

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** −2·ln u for u = k·2^−24, k ∈ [1, 2^24], in float32 (Cephes logf). */
function minusTwoLn(k: number): number {
  const C = BOX_MULLER;
  const u = k * C.twoM24;
  f32[0] = u;
  const bits = i32[0]!;
  let e = (bits >>> 23) - 126;
  i32[0] = (bits & 0x007fffff) | 0x3f000000;
  const m = f32[0]!; // [0.5, 1)
  let x: number;
  if (m < C.sqrtHalf) {
    e -= 1;
    x = fr(m + m) - 1;
  } else x = m - 1;
  const z = fr(x * x);
  const P = C.log;
  let p = P[0]!;
  for (let i = 1; i < P.length; i++) p = fr(fr(p * x) + P[i]!);
  let y = fr(fr(p * x) * z);
  const fe = e; // |e| ≤ 24: exact in float32
  y = fr(y + fr(fe * C.ln2Lo));
  y = fr(y + fr(z * -0.5));
  let l = fr(x + y);
  l = fr(l + fr(fe * C.ln2Hi));
  return l * -2;
}

/** Box–Muller of one word pair, written as mean + std·z to out[at], out[at + 1]. */
function boxMuller(x: number, y: number, mean: number, std: number, out: Float32Array, at: number): void {
  const C = BOX_MULLER;
  const r = fr(Math.sqrt(minusTwoLn((x >>> 8) + 1)));
  const f = ((y >>> 6) & 0xffffff) * C.twoM24;
  const phi = fr((f - 0.5) * C.piOver2);
  const z = fr(phi * phi);
  const S = C.sin;
  const K = C.cos;
  const s = fr(fr(fr(fr(fr(fr(fr(S[0]! * z) + S[1]!) * z) + S[2]!) * z) * phi) + phi);
  const c = fr(fr(fr(fr(fr(fr(fr(fr(K[0]! * z) + K[1]!) * z) + K[2]!) * z) * z) - fr(z * 0.5)) + 1);
  const q = y >>> 30;
  let a = q & 1 ? s : c;
  let b = q & 1 ? c : s;
  if (q === 1 || q === 2) a = -a;
  if (q >= 2) b = -b;
  out[at] = fr(mean + fr(std * fr(r * a)));
  out[at + 1] = fr(mean + fr(std * fr(r * b)));
}

/** Stream elements [offset, offset + out.length) of key (k0, k1) as mean + std·ξ (float32 mean, std), in plain JS. */
export function fillNormalsJs(out: Float32Array, offset: number, k0: number, k1: number, mean: number, std: number): void {
  const words = new Uint32Array(4);
  const block = new Float32Array(4);
  const end = offset + out.length;
  for (let b = Math.floor(offset / 4); b * 4 < end; b++) {
    philox4x32(b >>> 0, Math.floor(b / 4294967296) >>> 0, 0, 0, k0, k1, words);
    boxMuller(words[0]!, words[1]!, mean, std, block, 0);
    boxMuller(words[2]!, words[3]!, mean, std, block, 2);
    for (let w = 0; w < 4; w++) {
      const e = b * 4 + w;
      if (e >= offset && e < end) out[e - offset] = block[w]!;
    }
  }
}
