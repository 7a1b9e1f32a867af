/**
 * Parasitics (IR drop) in crossbar execution (fidelity fast and exact): the distortion
 * D = (G − G_ni)/G of every physical array of a layer, folded into the per-cell level model the
 * MVM graphs are fed (xb/<layer>/A, B; crossbar/config.ts).
 *
 * A layer's matrix [K, N] is stored in 2 planes (differential ±, or offset main/reference) × S
 * slices, each split into tiles of rows × cols cells (K over rows, N over columns). Each
 * (plane, slice, row tile, column tile) is one array: its conductances are
 * G = ΔG·(ℓ·A + B + g₀) (ℓ the slice level of the quantized weight, A/B the programmed device
 * state, g₀ = G_off/ΔG); an edge tile is padded to the full rows × cols with unprogrammed cells at
 * G_off (undriven rows at 0 V, unread columns) — they still load the lines. The circuit solve
 * (fcm, aam, or a learned surrogate's per-tile prediction: surrogate-tile.ts) gives the effective G_ni; the cell then contributes ΔG·(ℓ·A + B + g₀)·(1 − D), so the
 * fed level model becomes
 *
 *     A' = A·(1 − D),   B' = (B + g₀)·(1 − D) − g₀,
 *
 * i.e. L' = (ℓ·A + B + g₀)(1 − D) − g₀: the background (dummy G_off) column is subtracted
 * ideally. Because ℓ is recomputed in-graph from the current weights every run, feeding a kept D
 * is exactly TxSim's interpolated FCM (G ⊙ (1 − D) between solves). The backward pass
 * (`backward = transposed`) solves the transposed-drive circuit of each array for its own D
 * (T[j, i] → D[i, j] = 1 − T[j, i]/G[i, j]); `reuse` uses the forward D. With a nonlinear device
 * curve, D also carries the cells' secant factor at the operating point (plan.ts, tileForward).
 */

import { maxLevel, gOffLevels, offsetZ, weightQmax, weightSlices } from '../../model/crossbar-math.js';
import type { CrossbarSpec } from '../../model/crossbar.js';
import { forwardEffective, tileBackward, type ParasiticsConfig } from './plan.js';
import { surrogateEffectiveBatch } from './surrogate-tile.js';

/** ONNX Round: half to even. */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The integer stored values per plane [2, K, N] of weights Wk [K, N] (as the graphs quantize them). */
export function planeValues(xb: CrossbarSpec, Wk: ArrayLike<number>, K: number, N: number): Int32Array {
  const qmax = weightQmax(xb);
  let m = 0;
  for (let i = 0; i < K * N; i++) m = Math.max(m, Math.abs(Wk[i]!));
  const sW = Math.fround(Math.max(Math.fround(m / qmax), 1e-30));
  const U = new Int32Array(2 * K * N);
  const Z = offsetZ(xb);
  for (let i = 0; i < K * N; i++) {
    const q = Math.min(qmax, Math.max(-qmax, roundEven(Math.fround(Wk[i]! / sW))));
    if (xb.mapping === 'differential') {
      U[i] = q > 0 ? q : 0;
      U[K * N + i] = q < 0 ? -q : 0;
    } else {
      U[i] = q + Z;
      U[K * N + i] = Z;
    }
  }
  return U;
}

/** A layer's weight tensor as the [K, N] matrix the crossbar stores (dense [K, N]; conv [O, C, kh, kw] → [C·kh·kw, O]). */
export function weightKN(w: Float32Array, kind: 'dense' | 'conv', K: number, N: number): Float32Array {
  if (kind === 'dense') return w;
  const out = new Float32Array(K * N);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[k * N + n] = w[n * K + k]!;
  return out;
}

export interface EffectiveProgramming {
  /** Forward A', B' [2, S, K, N]. */
  A: Float32Array;
  B: Float32Array;
  /** Backward A', B' (the transposed-drive circuit), when requested. */
  Ab?: Float32Array;
  Bb?: Float32Array;
  /** Circuit solves done (arrays × directions). */
  solves: number;
  /** Mean D over the programmed cells (forward). */
  meanD: number;
}

/**
 * Effective level model of a layer under parasitics: per array, solve the circuit for the
 * conductances of weights Wk [K, N] on devices (A, B) and fold D into A, B.
 */
export function effectiveProgramming(
  xb: CrossbarSpec,
  pcfg: ParasiticsConfig,
  Wk: ArrayLike<number>,
  K: number,
  N: number,
  A: Float32Array,
  B: Float32Array,
  backward: boolean,
): EffectiveProgramming {
  const S = weightSlices(xb);
  const cb = xb.cellBits;
  const mask = 2 ** cb - 1;
  const g0 = gOffLevels(xb);
  const dG = (xb.device.gOn - xb.device.gOff) / maxLevel(xb);
  const gOff = xb.device.gOff;
  const R = pcfg.rows;
  const C = pcfg.cols;
  const U = planeValues(xb, Wk, K, N);
  const outA = new Float32Array(A.length);
  const outB = new Float32Array(B.length);
  const wantBack = backward && pcfg.backward === 'transposed';
  const outAb = wantBack ? new Float32Array(A.length) : undefined;
  const outBb = wantBack ? new Float32Array(B.length) : undefined;
  const g = new Float64Array(R * C);
  /** The conductances of array (plane p, slice s, rows r0…, columns c0…) into out (R × C, padding at G_off). */
  const fillTile = (out: Float64Array, p: number, s: number, r0: number, c0: number): void => {
    out.fill(gOff);
    const base = (p * S + s) * K * N;
    for (let i = 0; i < Math.min(R, K - r0); i++) {
      for (let j = 0; j < Math.min(C, N - c0); j++) {
        const k = r0 + i;
        const n = c0 + j;
        const lev = (U[p * K * N + k * N + n]! >>> (cb * s)) & mask;
        const at = base + k * N + n;
        out[i * C + j] = Math.max(1e-30, dG * (lev * A[at]! + B[at]! + g0));
      }
    }
  };
  // A surrogate predicts all of the layer's arrays in one batched pass (surrogate-kernel.ts; the
  // same bits as array by array), in the order of the loop below.
  let batched: Float64Array[] | null = null;
  if (pcfg.kind === 'surrogate') {
    const gs: Float64Array[] = [];
    for (let p = 0; p < 2; p++)
      for (let s = 0; s < S; s++)
        for (let r0 = 0; r0 < K; r0 += R)
          for (let c0 = 0; c0 < N; c0 += C) {
            const t = new Float64Array(R * C);
            fillTile(t, p, s, r0, c0);
            gs.push(t);
          }
    batched = surrogateEffectiveBatch(pcfg.surrogate!, gs);
  }
  let solves = 0;
  let arrayIndex = 0;
  let dSum = 0;
  for (let p = 0; p < 2; p++) {
    for (let s = 0; s < S; s++) {
      const base = (p * S + s) * K * N;
      for (let r0 = 0; r0 < K; r0 += R) {
        for (let c0 = 0; c0 < N; c0 += C) {
          fillTile(g, p, s, r0, c0);
          const rows = Math.min(R, K - r0);
          const cols = Math.min(C, N - c0);
          const gni = batched ? batched[arrayIndex++]! : forwardEffective(g, pcfg);
          solves++;
          const T = wantBack ? tileBackward(g, pcfg) : null;
          if (T) solves++;
          for (let i = 0; i < rows; i++) {
            for (let j = 0; j < cols; j++) {
              const at = base + (r0 + i) * N + c0 + j;
              const keep = gni[i * C + j]! / g[i * C + j]!;
              dSum += 1 - keep;
              outA[at] = A[at]! * keep;
              outB[at] = (B[at]! + g0) * keep - g0;
              if (T) {
                const kb = T[j * R + i]! / g[i * C + j]!;
                outAb![at] = A[at]! * kb;
                outBb![at] = (B[at]! + g0) * kb - g0;
              }
            }
          }
        }
      }
    }
  }
  const res: EffectiveProgramming = { A: outA, B: outB, solves, meanD: dSum / (2 * S * K * N) };
  if (outAb && outBb) {
    res.Ab = outAb;
    res.Bb = outBb;
  }
  return res;
}
