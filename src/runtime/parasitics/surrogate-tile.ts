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

import { predictF, type SurrogateModel } from './surrogate-model.js';

/** f_j of a tile at the reference drive (every row at V_read): cols values. */
export function referenceF(m: SurrogateModel, g: ArrayLike<number>): Float64Array {
  return predictF(m, g, new Float64Array(m.rows).fill(m.referenceDrive * m.norm.vRead));
}

/** The tile's effective conductances under the surrogate, G[i, j] / f_j(V_ref) (rows × cols). */
export function surrogateEffective(m: SurrogateModel, g: ArrayLike<number>): Float64Array {
  const f = referenceF(m, g);
  const out = new Float64Array(m.rows * m.cols);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[i * m.cols + j] = g[i * m.cols + j]! / Math.max(f[j]!, 1e-12);
  return out;
}
