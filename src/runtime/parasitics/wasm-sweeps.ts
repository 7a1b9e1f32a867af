/**
 * The Gauss–Seidel sweeps of `fcm` on the WebAssembly kernel (wasm-kernel.ts), for tiles whose
 * lines are all chains; the algorithm and its stopping rule are those of line-solver.ts (fcm.ts).
 */

import type { Wires } from './circuit.js';
import type { FcmOptions, FcmResult } from './fcm.js';
import { DEFAULT_TOL, relChange } from './line-solver.js';
import type { WasmKernel } from './wasm-kernel.js';

/** Remaining sweeps the WebAssembly Gauss–Seidel may take before conjugate gradients take over. */
const SWEEPS_BEFORE_CG = 150;

/**
 * The Gauss–Seidel iteration of `LineSolver.solveBlock` with the WebAssembly kernel, for chains
 * only (r_row, r_col > 0). One pass per sweep goes down the planes i: the word-line solve of row i
 * (forward and back substitution, in a one-plane buffer that stays in L1), then at once the
 * forward elimination of every bit line at row i; a second pass back-substitutes the bit lines.
 * The currents need only the last plane, which the forward elimination already leaves final, so a
 * converged sweep skips the back substitution. The Thomas factors are computed straight into the
 * kernel's memory, laid out [i·N + j] for both line directions. Returns null where the iteration is
 * too slow (`LineSolver` then continues with conjugate gradients) or the memory cannot grow.
 */
export function solveChainsWasm(k: WasmKernel, g: ArrayLike<number>, M: number, N: number, wires: Wires, opts: FcmOptions): FcmResult | null {
  const tol = opts.tol ?? DEFAULT_TOL;
  const maxIter = opts.maxIter ?? 2000;
  const B = Math.ceil(Math.max(1, Math.min(M, opts.block ?? 32)) / 4) * 4; // lanes, padded to the SIMD width
  const even = (v: number) => v + (v & 1); // 16-byte alignment of every array
  const MN = even(M * N);
  // f64 offsets in the kernel's memory: 1.0 | word lines lm, g/m (forward), g/m (back) | bit lines
  // the same | U | W
  const ONE = 0;
  const rLm = 2;
  const rG = rLm + MN;
  const rGm = rG + MN;
  const cLm = rGm + MN;
  const cG = cLm + MN;
  const cGm = cG + MN;
  const UP = cGm + MN; // (N+1) planes of B: a zero plane, then U(i, j) of the row being solved
  const W = UP + (N + 1) * B; // (M+1) planes of N·B: a zero plane, then W(i, j)
  const bytes = (W + (M + 1) * N * B) * 8;
  if (bytes > 2 ** 31 - 1) return null;
  const mem = k.memory;
  if (mem.buffer.byteLength < bytes) {
    try {
      mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / 65536));
    } catch {
      return null;
    }
  }
  const f = new Float64Array(mem.buffer, 0, bytes / 8);
  const gRow = 1 / wires.row;
  const gCol = 1 / wires.col;
  const gDrive = 1 / (wires.source + wires.row);
  const gSense = 1 / (wires.col + wires.sense);
  f[ONE] = 1;
  // Thomas factors as in LineSolver.factor: pivots m_k, then lm = load/m, g/m; word lines have the
  // driver at j = 0, bit lines the sense at i = M−1
  const drive0 = new Float64Array(M); // a 1 V drive's term in y_0 of word line i: g_drive/m_0
  for (let i = 0; i < M; i++) {
    let prev = 0;
    for (let j = 0; j < N; j++) {
      const q = i * N + j;
      const load = g[q]!;
      const d = load + (j > 0 ? gRow - gRow * gRow * prev : gDrive) + (j < N - 1 ? gRow : 0);
      const inv = 1 / d;
      f[rLm + q] = load * inv;
      f[rG + q] = j > 0 ? gRow * inv : 1; // j = 0: weight of the drive term, read from the zero plane
      f[rGm + q] = gRow * inv;
      if (j === 0) drive0[i] = gDrive * inv;
      prev = inv;
    }
  }
  const prevC = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      const q = i * N + j;
      const load = g[q]!;
      const d = load + (i > 0 ? gCol - gCol * gCol * prevC[j]! : 0) + (i < M - 1 ? gCol : gSense);
      const inv = 1 / d;
      f[cLm + q] = load * inv;
      f[cG + q] = i > 0 ? gCol * inv : 0;
      f[cGm + q] = gCol * inv;
      prevC[j] = inv;
    }
  }
  f.fill(0, UP, UP + B);
  f.fill(0, W, W + N * B);
  const ax = k.axpby;
  const B8 = B * 8;
  const plane = N * B;
  const gni = new Float64Array(M * N);
  const I = new Float64Array(N * B);
  const Iold = new Float64Array(N * B);
  let rhoBound = -1;
  let iterations = 0;
  let errorEstimate = 0;
  for (let k0 = 0; k0 < M; k0 += B) {
    const nb = Math.min(B, M - k0);
    // (no clearing: the first sweep writes every plane of W before reading it)
    let prevDelta = Infinity;
    let est = Infinity;
    let done = false;
    for (let it = 1; it <= maxIter && !done; it++) {
      for (let i = 0; i < M; i++) {
        const wp = W + (i + 1) * plane;
        const bd = i - k0; // the right-hand side driven on this row
        const driven = bd >= 0 && bd < nb;
        let u = UP + B; // word-line voltages of row i, N segments of B lanes
        if (it > 1 || driven) {
          // the drive enters y_0 through the zero plane before U(i, 0); in the first sweep W is
          // not written yet, so the zero plane of W stands in for it
          if (driven) f[UP + bd] = drive0[i]!;
          ax(N, B, u * 8, (it > 1 ? wp : W) * 8, UP * 8, (rLm + i * N) * 8, (rG + i * N) * 8, B8, 8, 8);
          if (N > 1) ax(N - 1, B, (UP + (N - 1) * B) * 8, (UP + (N - 1) * B) * 8, (UP + N * B) * 8, ONE * 8, (rGm + i * N + N - 2) * 8, -B8, 0, -8);
          if (driven) f[UP + bd] = 0;
        } else u = W; // first sweep, undriven row: U = 0 (the zero plane of W)
        ax(N, B, wp * 8, u * 8, (wp - plane) * 8, (cLm + i * N) * 8, (cG + i * N) * 8, B8, 8, 8);
      }
      Iold.set(I);
      const last = W + M * plane;
      for (let e = 0; e < plane; e++) I[e] = gSense * f[last + e]!;
      if (it > 1) {
        // the stopping rule of LineSolver.solveBlock
        const delta = relChange(N, nb, B, I, Iold);
        const rho = delta / prevDelta;
        prevDelta = delta;
        if (delta === 0) {
          est = 0;
          done = true;
        } else if (it === 2) {
          if (rhoBound < 0) rhoBound = chainContractionBound(f, M, N, rLm, rG, rGm, cLm, cG, cGm);
          if (rhoBound < 0.05) {
            est = (10 * delta * rhoBound) / (1 - rhoBound);
            done = est < tol;
          }
        } else if (rho < 1) {
          est = (delta * rho) / (1 - rho);
          done = est < tol;
        }
        if (done) {
          iterations = Math.max(iterations, it);
          errorEstimate = Math.max(errorEstimate, est);
          break;
        }
        // Slow convergence: these sweeps are so cheap that they beat the JS conjugate gradients
        // (≈ 200 sweeps' worth) unless many more are still needed.
        if (it >= 6 && rho > 0.5 && (rho >= 1 || Math.log(tol / est) / Math.log(rho) > SWEEPS_BEFORE_CG)) return null;
      }
      // bit-line back substitution, all planes in one call (bottom row first)
      if (M > 1)
        ax(
          (M - 1) * N,
          B,
          (W + (M - 1) * plane + (N - 1) * B) * 8,
          (W + (M - 1) * plane + (N - 1) * B) * 8,
          (W + M * plane + (N - 1) * B) * 8,
          ONE * 8,
          (cGm + (M - 2) * N + N - 1) * 8,
          -B8,
          0,
          -8,
        );
    }
    if (!done) throw new Error(`fcm: the circuit solve did not converge in ${maxIter} iterations (estimated error ${est})`);
    for (let b = 0; b < nb; b++) for (let j = 0; j < N; j++) gni[(k0 + b) * N + j] = I[j * B + b]!;
  }
  return { gni, rows: M, cols: N, iterations, errorEstimate, method: 'gauss-seidel', kernel: 'wasm' };
}

/** `LineSolver.contractionBound` from the flat factors of `solveChainsWasm`. */
function chainContractionBound(f: Float64Array, M: number, N: number, rLm: number, rG: number, rGm: number, cLm: number, cG: number, cGm: number): number {
  let rowPart = 0;
  const y = new Float64Array(Math.max(M, N));
  for (let i = 0; i < M; i++) {
    const o = i * N;
    for (let j = 0; j < N; j++) y[j] = f[rLm + o + j]! + (j > 0 ? f[rG + o + j]! * y[j - 1]! : 0);
    for (let j = N - 2; j >= 0; j--) y[j]! += f[rGm + o + j]! * y[j + 1]!;
    for (let j = 0; j < N; j++) rowPart = Math.max(rowPart, y[j]!);
  }
  let colPart = 0;
  for (let j = 0; j < N; j++) {
    for (let i = 0; i < M; i++) y[i] = f[cLm + i * N + j]! + (i > 0 ? f[cG + i * N + j]! * y[i - 1]! : 0);
    for (let i = M - 2; i >= 0; i--) y[i]! += f[cGm + i * N + j]! * y[i + 1]!;
    for (let i = 0; i < M; i++) colPart = Math.max(colPart, y[i]!);
  }
  return rowPart * colPart;
}
