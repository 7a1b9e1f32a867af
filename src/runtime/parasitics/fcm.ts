/**
 * Crossbar parasitics (MODELS.md §2): the full circuit model (FCM). The other models and helpers
 * of this folder: circuit.ts (wires, checks, transpose, mvm), aam.ts (the approximate lumped-path
 * model), interpolated.ts (interpolated FCM), spice.ts (the netlist of the same circuit), plan.ts
 * (a plan crossbar's parasitics config and effective matrices), tiles.ts (every array of a layer).
 * The solver itself: line-solver.ts (JS Gauss–Seidel and conjugate gradients), wasm-kernel.ts
 * (the WebAssembly SIMD inner loop) and wasm-sweeps.ts (the Gauss–Seidel sweeps on it).
 *
 * The circuit (all values SI: conductances in S, resistances in Ω, voltages in V, currents in A).
 * A tile has M rows (word lines) × N columns (bit lines); cell (i, j) is a conductance G[i·N + j]
 * between word-line node u(i, j) and bit-line node w(i, j).
 *   - Word line i is driven at its column-0 end: the ideal source V_i, then R_source, then one
 *     word-line segment r_row, then node u(i, 0); adjacent nodes u(i, j) and u(i, j+1) are joined
 *     by r_row; the far end (column N−1) is open.
 *   - Bit line j is sensed at its row-(M−1) end: node w(M−1, j), one bit-line segment r_col, then
 *     R_sense to ground (virtual ground of the sense amplifier); adjacent nodes w(i, j) and
 *     w(i+1, j) are joined by r_col; the far end (row 0) is open. The column's output current is
 *     the current through R_sense.
 * So cell (i, j) sees (j+1) word-line segments between it and its driver and (M−i) bit-line
 * segments between it and its sense resistor — the path MODELS.md's AAM formula lumps:
 * R_ij = R_source + (j+1)·r_row + (M−i)·r_col + R_sense.
 *
 * The network is linear, so I_out = V · G_ni exactly (V a row vector of M drive voltages, I_out of
 * N column currents) with G_ni (M × N) the effective conductance matrix. Row i of G_ni is the vector
 * of column currents when row i is driven with 1 V and every other driver with 0 V
 * (superposition). xbarc computes all M of them at once with a block Gauss–Seidel iteration over
 * lines: with the bit-line voltages fixed, every word line is a tridiagonal system (solved by a
 * pre-factored Thomas sweep), and with the word-line voltages fixed, every bit line is one;
 * R_source and R_sense are end terms of those systems, so they are exact inside each line solve.
 * The right-hand sides are processed in blocks (default 32) with the block index innermost, so each
 * sweep streams over contiguous memory. The unit drive is the end term of its row's forward
 * elimination; in the first sweep (bit lines still at 0 V) only the driven rows need solving.
 *
 * With every line a chain (r_row, r_col > 0, the usual case) the sweeps run in a small WebAssembly
 * SIMD kernel (`y = a·x + c·z` over the lanes of a segment, built in wasm-kernel.ts), about 4× the
 * scalar JS loops: one pass down the rows solves word line i in a one-plane buffer and immediately
 * does the forward elimination of every bit line at row i; a second pass back-substitutes the bit
 * lines. The bit-line factorization starts at the far end, so its last row (the sense end, all the
 * currents need) is final after the first pass, and a converged sweep skips the second. Without
 * WebAssembly, or with a zero-resistance line (`kernel: 'js'` forces it), the same iteration runs
 * in JS.
 *
 * The iteration contracts with factor ρ ≈ (Σ_j G_ij·R_row path) × (Σ_i G_ij·R_col path), tiny when
 * devices are much more resistive than wires (64×64 bench tiles: ρ ≈ 4e-4 / 9e-3, 128×128: 5e-3 /
 * 4e-2 for TxSim / PUMA wires, so 3–6 sweeps). It stops when the estimated remaining error
 * (largest relative change of a column current × ρ/(1−ρ), ρ the observed ratio of successive
 * changes) is below `tol` relative (default 1e-7), element by element; after two sweeps already
 * when an a-priori bound on ρ is below 0.05 (with a 10× safety factor). Where it converges slowly
 * (ρ > 0.5: very low device resistance against long, resistive lines) it continues with conjugate
 * gradients on the bit-line Schur complement, preconditioned by the bit-line solves — the same two
 * line sweeps per step, and convergence in √κ steps. CG runs in JS loops, so the WebAssembly
 * sweeps hand over only when more than ~150 further sweeps are predicted (ρ ≳ 0.9); below that
 * they are faster (e.g. 128×128, 10–100 kΩ devices, 10 Ω wires: 36 sweeps, ~0.13 s, against
 * ~1.4 s with CG).
 *
 * Zero resistances are exact: r_row = 0 makes a word line one node; with R_source = 0 too, it is
 * held at V_i. r_col = 0 makes a bit line one node; with R_sense = 0 too, it is held at 0 V. With
 * all four zero, G_ni = G.
 *
 * Transposed drive (backward pass): the errors drive the bit lines at their sensing end (row M−1)
 * through R_source and the word lines are read at their driving end (column 0) through R_sense —
 * the peripheral circuits stay where they are, only their roles swap. Its matrix is N × M
 * (drive column j → current of row i). It equals the forward matrix transposed only when
 * R_source = R_sense (reciprocity); `reuse` in the language means using the forward one anyway.
 */

import { checkTile, checkWires, type Wires } from './circuit.js';
import { LineSolver } from './line-solver.js';
import { wasmKernel } from './wasm-kernel.js';
import { solveChainsWasm } from './wasm-sweeps.js';

export interface FcmOptions {
  /** Relative accuracy of every element of G_ni (estimated; default 1e-7). */
  tol?: number;
  /** Iteration cap (line sweeps) before giving up with an error (default 2000). */
  maxIter?: number;
  /**
   * Right-hand sides solved together (default 32): trades cache footprint against loop length
   * (rounded up to a multiple of 4, the SIMD width, in the WebAssembly kernel).
   */
  block?: number;
  /**
   * Inner loops: 'wasm' (default where WebAssembly SIMD is available; see `fcmKernel`) or 'js'
   * (the portable line solver, always used for zero-resistance lines).
   */
  kernel?: 'wasm' | 'js';
}

export interface FcmResult {
  /** Effective conductance matrix, row-major: forward M × N; transposed N × M (drive × sense). */
  gni: Float64Array;
  rows: number;
  cols: number;
  /** Line-sweep iterations of the slowest block. */
  iterations: number;
  /** Estimated largest relative error of an element when the solve stopped. */
  errorEstimate: number;
  method: 'exact' | 'gauss-seidel' | 'gauss-seidel+cg';
  /** Which inner loops ran ('wasm' only for the plain Gauss–Seidel path). */
  kernel?: 'wasm' | 'js';
}

/** Forward FCM: G_ni (M × N) such that I_out[j] = Σ_i V[i]·G_ni[i, j]. */
export function fcm(g: ArrayLike<number>, rows: number, cols: number, wires: Wires, opts: FcmOptions = {}): FcmResult {
  checkTile(g, rows, cols);
  checkWires(wires);
  if (wires.row === 0 && wires.col === 0 && wires.source === 0 && wires.sense === 0) {
    return { gni: Float64Array.from(g), rows, cols, iterations: 0, errorEstimate: 0, method: 'exact' };
  }
  if (opts.kernel !== 'js' && wires.row > 0 && wires.col > 0) {
    const k = wasmKernel();
    const r = k && solveChainsWasm(k, g, rows, cols, wires, opts);
    if (r) return r;
  }
  return { ...new LineSolver(Float64Array.from(g), rows, cols, wires).solveAll(opts), kernel: 'js' };
}

/**
 * Transposed-drive FCM: T (N × M), row-major, with I_rows[i] = Σ_j V_col[j]·T[j, i] — bit lines driven
 * at their sensing end through R_source, word lines read at their driving end through R_sense.
 */
export function fcmTransposed(g: ArrayLike<number>, rows: number, cols: number, wires: Wires, opts: FcmOptions = {}): FcmResult {
  checkTile(g, rows, cols);
  checkWires(wires);
  // Relabel: the transposed circuit is a forward circuit on H (N × M) with
  // H[N−1−j, M−1−i] = G[i, j]: its word lines (drive at index 0) are the bit lines, numbered from
  // the sensing end, and its bit lines (sensed at the last index) are the word lines, numbered
  // from the far end.
  const h = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) h[(cols - 1 - j) * rows + (rows - 1 - i)] = g[i * cols + j]!;
  const r = fcm(h, cols, rows, { row: wires.col, col: wires.row, source: wires.source, sense: wires.sense }, opts);
  const t = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) for (let i = 0; i < rows; i++) t[j * rows + i] = r.gni[(cols - 1 - j) * rows + (rows - 1 - i)]!;
  return { ...r, gni: t, rows: cols, cols: rows };
}
