/**
 * The surrogate folded per tile, as the crossbar runtime applies it (docs/parasitics.md, "Learned
 * surrogate"): once a tile is programmed, f is predicted for one reference drive — every row at
 * the training vectors' mean level, `referenceDrive`·V_read — and each column's cells are scaled
 * by 1/f_j:
 * G_eff[i, j] = G[i, j] / f_j(V_ref, G). The MVM then stays one folded matrix product per input
 * (the cost of an FCM-folded MVM), at the price of ignoring how f varies with the input pattern
 * (surrogate-eval.ts measures that as the `tile` error). For a linear circuit f depends only on
 * the drive pattern, not its level, so the true f is the same for any uniform drive; the MLP's is
 * not, and the mean level keeps its input near what it was trained on (16 × 16, PUMA wires: bias
 * of f −0.001 at the mean level against +0.005 with every row at V_read).
 */

import { FoldArena, foldInstance, foldJs } from './surrogate-kernel.js';
import { predictF, type SurrogateModel } from './surrogate-model.js';

/** f_j of a tile at the reference drive (every row at V_read): cols values. */
export function referenceF(m: SurrogateModel, g: ArrayLike<number>): Float64Array {
  return predictF(m, g, new Float64Array(m.rows).fill(m.referenceDrive * m.norm.vRead));
}

/** The tile's effective conductances under the surrogate, G[i, j] / f_j(V_ref) (rows × cols). */
export function surrogateEffective(m: SurrogateModel, g: ArrayLike<number>): Float64Array {
  return scaleColumns(m, g, referenceF(m, g));
}

/** Tiles per kernel call: the accumulators (tiles × hidden float64) stay in cache. */
const CHUNK = 32;
const arenas = new WeakMap<SurrogateModel, FoldArena | null>();

function arenaOf(m: SurrogateModel): FoldArena | null {
  let a = arenas.get(m);
  if (a === undefined) {
    // The kernel steps two values at a time; odd widths take the JS loops (same bits).
    const k = m.hidden % 2 === 0 && m.cols % 2 === 0 ? foldInstance() : null;
    a = k ? new FoldArena(k, m.w1, m.w2, Math.max(m.rows * m.cols, m.hidden), Math.max(m.hidden, m.cols), CHUNK) : null;
    arenas.set(m, a);
  }
  return a;
}

/**
 * `referenceF` of many tiles at once — the same bits as tile by tile (surrogate-kernel.ts: the same
 * loops in the same order), with each weight row read once per chunk of tiles and the inner loop
 * in WebAssembly SIMD. `js` forces the JS loops (the reference the kernel is tested against).
 */
export function referenceFBatch(m: SurrogateModel, gs: readonly ArrayLike<number>[], js = false): Float64Array[] {
  const out: Float64Array[] = [];
  const arena = js ? null : arenaOf(m);
  for (let t0 = 0; t0 < gs.length; t0 += CHUNK) out.push(...referenceChunk(m, gs.slice(t0, t0 + CHUNK), arena));
  return out;
}

function referenceChunk(m: SurrogateModel, gs: readonly ArrayLike<number>[], arena: FoldArena | null): Float64Array[] {
  const { rows: M, cols: N, hidden: H } = m;
  const T = gs.length;
  const K = M * N;
  const { gOn, gOff, vRead } = m.norm;
  const span = gOn - gOff;
  const fold = (Kk: number, Hh: number, c: Float64Array, x: Float64Array, w: 'w1G' | 'w1V' | 'w2'): void => {
    if (arena) {
      const wAt = w === 'w2' ? arena.w2 : arena.w1 + (w === 'w1G' ? M * H * 4 : 0);
      arena.k.fold(T, Kk, Hh, arena.c, arena.x, wAt);
      return;
    }
    foldJs(T, Kk, Hh, c, x, w === 'w2' ? m.w2 : m.w1, w === 'w1G' ? M * H : 0);
  };
  // One x and one c region, reused by the three layers (as the kernel's memory is).
  const jsX = arena ? null : new Float64Array(Math.max(K, H) * T);
  const jsC = arena ? null : new Float64Array(Math.max(H, N) * T);
  const xBuf = (n: number) => (arena ? arena.xView(n) : jsX!.subarray(0, n));
  const cBuf = (n: number) => (arena ? arena.cView(n) : jsC!.subarray(0, n));
  // c = b1 + W1_G·g_norm (foldTile)
  let x = xBuf(K * T);
  for (let t = 0; t < T; t++) {
    const g = gs[t]!;
    for (let k = 0; k < K; k++) x[k * T + t] = (g[k]! - gOff) / span;
  }
  let c = cBuf(T * H);
  for (let t = 0; t < T; t++) c.set(m.b1, t * H);
  fold(K, H, c, x, 'w1G');
  // h = c + W1_V·(v/vRead), every row at the reference drive (predictFolded)
  const xv = (m.referenceDrive * vRead) / vRead;
  x = xBuf(M * T);
  x.fill(xv);
  fold(M, H, c, x, 'w1V');
  // y = b2 + W2·relu(h)
  c = cBuf(T * H);
  x = xBuf(H * T);
  for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) x[h * T + t] = c[t * H + h]! > 0 ? c[t * H + h]! : 0;
  const y = cBuf(T * N);
  for (let t = 0; t < T; t++) y.set(m.b2, t * N);
  fold(H, N, y, x, 'w2');
  const res: Float64Array[] = [];
  for (let t = 0; t < T; t++) res.push(Float64Array.from(y.subarray(t * N, (t + 1) * N), (v) => 1 + m.fScale * v));
  return res;
}

/** `surrogateEffective` of many tiles at once (the same bits). */
export function surrogateEffectiveBatch(m: SurrogateModel, gs: readonly ArrayLike<number>[]): Float64Array[] {
  return referenceFBatch(m, gs).map((f, t) => scaleColumns(m, gs[t]!, f));
}

function scaleColumns(m: SurrogateModel, g: ArrayLike<number>, f: Float64Array): Float64Array {
  const out = new Float64Array(m.rows * m.cols);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[i * m.cols + j] = g[i * m.cols + j]! / Math.max(f[j]!, 1e-12);
  return out;
}
