/**
 * The learned parasitics surrogate (GENIEx): an MLP x → 500 ReLU → cols on the normalized features
 * of surrogate-data.ts (x = [V/V_read (rows), (G − G_off)/(G_on − G_off) (rows·cols)]), predicting
 * per column y with f = 1 + fScale·y, f = I_ideal / I_nonideal. Training targets are
 * y = (f − 1)/fScale, fScale the RMS of f − 1 on the training set, so the network fits values of
 * order one.
 *
 * Prediction here is float64 arithmetic on the stored float32 weights (the same numbers on every
 * platform). The first layer splits into a G part and a V part: h = relu(b1 + W1_G·g + W1_V·v).
 * Once a tile is programmed, `foldTile` computes c = b1 + W1_G·g once (a per-tile bias), leaving
 * rows × hidden + hidden × cols multiply-adds per input vector.
 */

import type { Wires } from './circuit.js';
import { matVec } from './surrogate-data.js';

export interface SurrogateNormalization {
  /** Full-scale DAC voltage: features V/vRead. */
  vRead: number;
  /** Device range (S): features (G − gOff)/(gOn − gOff). */
  gOn: number;
  gOff: number;
}

export interface SurrogateModel {
  rows: number;
  cols: number;
  hidden: number;
  norm: SurrogateNormalization;
  /** f = 1 + fScale·y. */
  fScale: number;
  /**
   * The per-tile reference drive as a fraction of V_read: the mean of V/V_read over the training
   * vectors (every row at this level; surrogate-tile.ts).
   */
  referenceDrive: number;
  /** Weights, input-major as the engine's dense layers store them: w1 [rows + rows·cols, hidden], w2 [hidden, cols]. */
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
  /** What the surrogate was trained for (recorded in the saved file). */
  meta: SurrogateMeta;
}

export interface SurrogateMeta {
  /** Name of the ground-truth solver (`linear-fcm`, or the nonlinear one when it is plugged in). */
  solver: string;
  wires: Wires;
  [key: string]: unknown;
}

/** A tile with its G part folded: c = b1 + W1_G·g_norm (hidden values). */
export interface FoldedTile {
  c: Float64Array;
}

export function foldTile(m: SurrogateModel, g: ArrayLike<number>): FoldedTile {
  const { rows: M, cols: N, hidden: H } = m;
  const c = Float64Array.from(m.b1);
  const w1 = m.w1;
  const { gOn, gOff } = m.norm;
  const span = gOn - gOff;
  for (let k = 0; k < M * N; k++) {
    const x = (g[k]! - gOff) / span;
    if (x === 0) continue; // sparse slices: most cells sit at G_off
    const r = (M + k) * H;
    for (let h = 0; h < H; h++) c[h]! += x * w1[r + h]!;
  }
  return { c };
}

/** f of a batch of drives v (B × rows, V) on a folded tile: B × cols. */
export function predictFolded(m: SurrogateModel, tile: FoldedTile, v: ArrayLike<number>): Float64Array {
  const { rows: M, cols: N, hidden: H } = m;
  const B = v.length / M;
  const out = new Float64Array(B * N);
  const h = new Float64Array(H);
  const { w1, w2, b2 } = m;
  const vRead = m.norm.vRead;
  for (let b = 0; b < B; b++) {
    h.set(tile.c);
    for (let i = 0; i < M; i++) {
      const x = v[b * M + i]! / vRead;
      if (x === 0) continue;
      for (let k = 0; k < H; k++) h[k]! += x * w1[i * H + k]!;
    }
    const o = b * N;
    for (let j = 0; j < N; j++) out[o + j] = b2[j]!;
    for (let k = 0; k < H; k++) {
      const a = h[k]!;
      if (!(a > 0)) continue;
      for (let j = 0; j < N; j++) out[o + j]! += a * w2[k * N + j]!;
    }
    for (let j = 0; j < N; j++) out[b * N + j] = 1 + m.fScale * out[b * N + j]!;
  }
  return out;
}

/** f of a tile g (rows × cols, S) for drives v (B × rows, V). */
export function predictF(m: SurrogateModel, g: ArrayLike<number>, v: ArrayLike<number>): Float64Array {
  return predictFolded(m, foldTile(m, g), v);
}

/** Column currents (A) the surrogate predicts: I_ideal / f (B × cols). */
export function surrogateCurrents(m: SurrogateModel, g: Float64Array, v: Float64Array): Float64Array {
  const f = predictF(m, g, v);
  const ideal = matVec(v, g, m.rows, m.cols);
  for (let k = 0; k < ideal.length; k++) ideal[k] = ideal[k]! / f[k]!;
  return ideal;
}
