/**
 * The approximate models (AAM, MODELS.md §2; derivation and error tables in docs/parasitics.md,
 * "AAM"). Both keep one effective conductance per cell, G_ni[p, j] = G_pj / (1 + δ_pj), in O(M·N):
 *
 *   - `lumped`: δ = G_pj·R_pj with R_pj = R_source + (j+1)·r_row + (M−p)·r_col + R_sense — each cell
 *     alone in series with its shortest path. It ignores the current the other cells draw from the
 *     same lines, so it underestimates IR drop (by up to ~20× on low-resistance 64×64 tiles).
 *   - `loaded` (default): δ is the first-order relative voltage loss of cell (p, j) for a unit drive
 *     on row p, with every line carrying the ideal currents of all its cells:
 *       word line p: R_source·Σ_j G_pj + r_row·Σ_{k ≤ j} T_p(k), T_p(k) = Σ_{j' ≥ k} G_pj' (the
 *         current through segment k);
 *       bit line j: the cell's current c = G_pj raises bit-line node i by c·K(i, p), K = R_sense +
 *         r_col·(M − max(i, p)) (the resistance the two paths to the sense share), and every cell of
 *         the column (word lines near 0 V) returns G_ij·c·K(i, p) of it: δ gains
 *         R_sense·Σ_i G_ij + r_col·Σ_i G_ij·(M − max(i, p)).
 *     The first-order loss 1 − δ (a single Jacobi step from the ideal currents) overshoots once
 *     δ is large; 1/(1 + δ) resums it as the 1 × 1 series circuit does, where it is exact.
 */

import { checkTile, checkWires, transpose, type Wires } from './circuit.js';

export type AamForm = 'loaded' | 'lumped';

/** AAM lumped path resistance of cell (i, j): R_source + (j+1)·r_row + (M−i)·r_col + R_sense. */
export function aamPathResistance(i: number, j: number, rows: number, wires: Wires): number {
  return wires.source + (j + 1) * wires.row + (rows - i) * wires.col + wires.sense;
}

/** The relative first-order voltage loss δ of every cell (M × N), lumped or loaded (see the header). */
export function aamLoss(g: ArrayLike<number>, rows: number, cols: number, wires: Wires, form: AamForm = 'loaded'): Float64Array {
  checkTile(g, rows, cols);
  checkWires(wires);
  const M = rows;
  const N = cols;
  const d = new Float64Array(M * N);
  if (form === 'lumped') {
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) d[i * N + j] = g[i * N + j]! * aamPathResistance(i, j, M, wires);
    return d;
  }
  for (let p = 0; p < M; p++) {
    let total = 0;
    for (let j = 0; j < N; j++) total += g[p * N + j]!;
    let segment = total; // current through the word-line segment before column j
    let drop = wires.source * total;
    for (let j = 0; j < N; j++) {
      drop += wires.row * segment;
      d[p * N + j] = drop;
      segment -= g[p * N + j]!;
    }
  }
  for (let j = 0; j < N; j++) {
    let column = 0;
    let weighted = 0; // Σ_i G_ij·(M − i)
    for (let i = 0; i < M; i++) {
      column += g[i * N + j]!;
      weighted += g[i * N + j]! * (M - i);
    }
    let above = 0; // Σ_{i ≤ p} G_ij
    let below = weighted; // Σ_{i > p} G_ij·(M − i)
    for (let p = 0; p < M; p++) {
      const x = g[p * N + j]!;
      above += x;
      below -= x * (M - p);
      d[p * N + j]! += wires.sense * column + wires.col * ((M - p) * above + below);
    }
  }
  return d;
}

/** AAM: G_ni[i, j] = G_ij / (1 + δ_ij) (forward, M × N). */
export function aam(g: ArrayLike<number>, rows: number, cols: number, wires: Wires, form: AamForm = 'loaded'): Float64Array {
  const d = aamLoss(g, rows, cols, wires, form);
  const out = new Float64Array(rows * cols);
  for (let k = 0; k < out.length; k++) out[k] = g[k]! / (1 + d[k]!);
  return out;
}

/**
 * AAM for the transposed drive (N × M). Lumped: the path from the bit-line driver to the word-line
 * sense passes the same segments, so it is the forward AAM transposed. Loaded: the forward model on
 * the relabelled circuit of fcmTransposed (the bit lines as driven lines).
 */
export function aamTransposed(g: ArrayLike<number>, rows: number, cols: number, wires: Wires, form: AamForm = 'loaded'): Float64Array {
  if (form === 'lumped') return transpose(aam(g, rows, cols, wires, form), rows, cols);
  checkTile(g, rows, cols);
  const h = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) h[(cols - 1 - j) * rows + (rows - 1 - i)] = g[i * cols + j]!;
  const r = aam(h, cols, rows, { row: wires.col, col: wires.row, source: wires.source, sense: wires.sense }, form);
  const t = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) for (let i = 0; i < rows; i++) t[j * rows + i] = r[(cols - 1 - j) * rows + (rows - 1 - i)]!;
  return t;
}
