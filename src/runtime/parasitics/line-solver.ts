/**
 * The JS line solver of `fcm` (algorithm, convergence bound and edge cases in fcm.ts): block
 * Gauss–Seidel over pre-factored word and bit lines, conjugate gradients on the bit-line Schur
 * complement where it converges slowly, and exact lumped / held lines for zero resistances.
 */

import type { Wires } from './circuit.js';
import type { FcmOptions, FcmResult } from './fcm.js';

export const DEFAULT_TOL = 1e-7;

/** y[o+b] = a·x[o+b] + c·y[p+b] for b < len (unrolled by 4: V8 does not vectorize). */
function axpby(y: Float64Array, o: number, a: number, x: Float64Array, c: number, p: number, len: number): void {
  let b = 0;
  for (; b + 3 < len; b += 4) {
    const q = o + b;
    const r = p + b;
    y[q] = a * x[q]! + c * y[r]!;
    y[q + 1] = a * x[q + 1]! + c * y[r + 1]!;
    y[q + 2] = a * x[q + 2]! + c * y[r + 2]!;
    y[q + 3] = a * x[q + 3]! + c * y[r + 3]!;
  }
  for (; b < len; b++) y[o + b] = a * x[o + b]! + c * y[p + b]!;
}

/** y[o+b] += c·y[n+b] for b < len (unrolled by 4). */
function addScaled(y: Float64Array, o: number, c: number, n: number, len: number): void {
  let b = 0;
  for (; b + 3 < len; b += 4) {
    const q = o + b;
    const r = n + b;
    y[q]! += c * y[r]!;
    y[q + 1]! += c * y[r + 1]!;
    y[q + 2]! += c * y[r + 2]!;
    y[q + 3]! += c * y[r + 3]!;
  }
  for (; b < len; b++) y[o + b]! += c * y[n + b]!;
}

/** Largest change of a current I[j·B + b] relative to the largest current of its right-hand side b. */
export function relChange(N: number, nb: number, B: number, I: Float64Array, Iold: Float64Array): number {
  let worst = 0;
  for (let b = 0; b < nb; b++) {
    let peak = 0;
    for (let j = 0; j < N; j++) peak = Math.max(peak, Math.abs(I[j * B + b]!));
    const floor = peak * 1e-12 || Number.MIN_VALUE;
    for (let j = 0; j < N; j++) {
      const x = I[j * B + b]!;
      const d = Math.abs(x - Iold[j * B + b]!) / Math.max(Math.abs(x), floor);
      if (d > worst) worst = d;
    }
  }
  return worst;
}

/** A tridiagonal line pre-factored for the Thomas algorithm, or a lumped / held node. */
interface LineFactor {
  /** 'tri': chain of n nodes; 'lumped': one node (zero segment resistance); 'held': fixed voltage. */
  kind: 'tri' | 'lumped' | 'held';
  /** 1/m_k of the LU pivots (tri), or 1/(g_end + ΣG) (lumped). */
  invm: Float64Array;
  /** g/m_k for the back substitution (tri). */
  gm: Float64Array;
  /** load_k/m_k: the forward-substitution weight of the cell current (tri). */
  lm: Float64Array;
}

export class LineSolver {
  private readonly gRow: number; // word-line segment conductance (Infinity when r_row = 0)
  private readonly gCol: number;
  private readonly gDrive: number; // 1/(R_source + r_row) (Infinity when both zero)
  private readonly gSense: number; // 1/(r_col + R_sense)
  private readonly rowF: LineFactor[];
  private readonly colF: LineFactor[];
  // the bit-line factors again, laid out [i·N + j] (see the constructor)
  private readonly cLm: Float64Array;
  private readonly cG: Float64Array;
  private readonly cGm: Float64Array;
  /** `contractionBound()`, computed on the first block that needs it (-1 until then). */
  private rhoBound = -1;
  /** `driveResponse(i)` per row i. */
  private readonly driveCache = new Map<number, Float64Array>();

  constructor(
    private readonly g: Float64Array,
    private readonly M: number,
    private readonly N: number,
    wires: Wires,
  ) {
    const inv = (r: number) => (r === 0 ? Infinity : 1 / r);
    this.gRow = inv(wires.row);
    this.gCol = inv(wires.col);
    this.gDrive = inv(wires.source + wires.row);
    this.gSense = inv(wires.col + wires.sense);
    this.rowF = [];
    for (let i = 0; i < M; i++) this.rowF.push(this.factor(N, (k) => g[i * N + k]!, this.gRow, this.gDrive, 0));
    this.colF = [];
    for (let j = 0; j < N; j++) this.colF.push(this.factor(M, (k) => g[k * N + j]!, this.gCol, this.gSense, M - 1));
    // The bit-line factors again, laid out [i·N + j], so a sweep streams over whole planes of
    // (column, rhs) with i outermost instead of striding down each column.
    this.cLm = new Float64Array(M * N);
    this.cG = new Float64Array(M * N);
    this.cGm = new Float64Array(M * N);
    if (this.colF[0]?.kind === 'tri') {
      for (let j = 0; j < N; j++) {
        const f = this.colF[j]!;
        for (let i = 0; i < M; i++) {
          this.cLm[i * N + j] = f.lm[i]!;
          this.cG[i * N + j] = this.gCol * f.invm[i]!;
          this.cGm[i * N + j] = f.gm[i]!;
        }
      }
    }
  }

  /**
   * A rigorous bound on the Gauss–Seidel contraction in the ∞-norm of the bit-line voltages:
   * ‖A_W⁻¹D‖∞·‖A_U⁻¹D‖∞ — each factor is the largest line voltage when every cell's other end sits
   * at 1 V and the drivers / senses at 0 V (one Thomas solve per line).
   */
  contractionBound(): number {
    const worst = (factors: LineFactor[], n: number, load: (line: number, k: number) => number, gSeg: number): number => {
      let m = 0;
      const y = new Float64Array(n);
      for (let l = 0; l < factors.length; l++) {
        const f = factors[l]!;
        if (f.kind === 'held') continue;
        if (f.kind === 'lumped') {
          let s = 0;
          for (let k = 0; k < n; k++) s += load(l, k);
          m = Math.max(m, s * f.invm[0]!);
          continue;
        }
        for (let k = 0; k < n; k++) y[k] = f.lm[k]! + (k > 0 ? gSeg * f.invm[k]! * y[k - 1]! : 0);
        for (let k = n - 2; k >= 0; k--) y[k]! += f.gm[k]! * y[k + 1]!;
        for (let k = 0; k < n; k++) m = Math.max(m, y[k]!);
      }
      return m;
    };
    const { M, N, g } = this;
    const rowPart = worst(this.rowF, N, (i, j) => g[i * N + j]!, this.gRow);
    const colPart = worst(this.colF, M, (j, i) => g[i * N + j]!, this.gCol);
    return rowPart * colPart;
  }

  /** All bit lines at once (every line is a chain): forward and back substitution plane by plane. */
  private colSweepPlanes(B: number, src: Float64Array, W: Float64Array, scaleByLoad: boolean): void {
    const { M, N, cLm, cG, cGm } = this;
    const plane = N * B;
    for (let i = 0; i < M; i++) {
      const base = i * plane;
      for (let j = 0; j < N; j++) {
        const a = scaleByLoad ? cLm[i * N + j]! : this.colF[j]!.invm[i]!;
        const c = i > 0 ? cG[i * N + j]! : 0;
        const o = base + j * B;
        const p = o - plane;
        if (i === 0) for (let b = 0; b < B; b++) W[o + b] = a * src[o + b]!;
        else axpby(W, o, a, src, c, p, B);
      }
    }
    for (let i = M - 2; i >= 0; i--) {
      const base = i * plane;
      for (let j = 0; j < N; j++) {
        const c = cGm[i * N + j]!;
        const o = base + j * B;
        const n = o + plane;
        addScaled(W, o, c, n, B);
      }
    }
  }

  private factor(n: number, load: (k: number) => number, gSeg: number, gEnd: number, endAt: number): LineFactor {
    const invm = new Float64Array(n);
    const gm = new Float64Array(n);
    const lm = new Float64Array(n);
    if (gSeg === Infinity) {
      if (gEnd === Infinity) return { kind: 'held', invm, gm, lm };
      let s = gEnd;
      for (let k = 0; k < n; k++) s += load(k);
      invm[0] = 1 / s;
      return { kind: 'lumped', invm, gm, lm };
    }
    let prev = 0;
    for (let k = 0; k < n; k++) {
      let d = load(k) + (k > 0 ? gSeg : 0) + (k < n - 1 ? gSeg : 0) + (k === endAt ? gEnd : 0);
      if (k > 0) d -= gSeg * gSeg * prev;
      invm[k] = 1 / d;
      gm[k] = gSeg / d;
      lm[k] = load(k) / d;
      prev = invm[k]!;
    }
    return { kind: 'tri', invm, gm, lm };
  }

  solveAll(opts: FcmOptions): FcmResult {
    const { M, N } = this;
    const tol = opts.tol ?? DEFAULT_TOL;
    const maxIter = opts.maxIter ?? 2000;
    const B = Math.max(1, Math.min(M, opts.block ?? 32));
    const gni = new Float64Array(M * N);
    let iterations = 0;
    let errorEstimate = 0;
    let usedCg = false;
    const U = new Float64Array(M * N * B);
    const W = new Float64Array(M * N * B);
    const I = new Float64Array(N * B);
    const Iold = new Float64Array(N * B);
    for (let k0 = 0; k0 < M; k0 += B) {
      const nb = Math.min(B, M - k0);
      const r = this.solveBlock(k0, nb, B, U, W, I, Iold, tol, maxIter);
      iterations = Math.max(iterations, r.iterations);
      errorEstimate = Math.max(errorEstimate, r.errorEstimate);
      usedCg ||= r.cg;
      for (let b = 0; b < nb; b++) for (let j = 0; j < N; j++) gni[(k0 + b) * N + j] = I[j * B + b]!;
    }
    return { gni, rows: M, cols: N, iterations, errorEstimate, method: usedCg ? 'gauss-seidel+cg' : 'gauss-seidel' };
  }

  /**
   * Unit drives on rows k0 … k0+nb−1 (right-hand side b ↔ row k0+b). Layout: U[(i·N + j)·B + b].
   * Returns when every column current has converged to `tol` relative.
   */
  private solveBlock(
    k0: number,
    nb: number,
    B: number,
    U: Float64Array,
    W: Float64Array,
    I: Float64Array,
    Iold: Float64Array,
    tol: number,
    maxIter: number,
  ): { iterations: number; errorEstimate: number; cg: boolean } {
    W.fill(0);
    U.fill(0);
    let prevDelta = Infinity;
    let est = Infinity;
    for (let it = 1; it <= maxIter; it++) {
      if (it === 1) this.firstRowSweep(k0, nb, B, U);
      else this.rowSweep(k0, nb, B, U, W);
      this.colSweep(nb, B, U, W);
      Iold.set(I);
      this.currents(nb, B, U, W, I);
      if (it === 1) continue;
      const delta = this.relChange(nb, B, I, Iold);
      if (delta === 0) return { iterations: it, errorEstimate: 0, cg: false };
      const rho = delta / prevDelta;
      prevDelta = delta;
      if (it === 2) {
        // Strongly contracting circuits (devices ≫ wires) can stop after two sweeps: the a-priori
        // bound stands in for the not-yet-observed ratio, with a 10× safety factor.
        if (this.rhoBound < 0) this.rhoBound = this.contractionBound();
        const rb = this.rhoBound;
        if (rb < 0.05) {
          est = (10 * delta * rb) / (1 - rb);
          if (est < tol) return { iterations: it, errorEstimate: est, cg: false };
        }
      }
      if (it >= 3 && rho < 1) {
        est = (delta * rho) / (1 - rho);
        if (est < tol) return { iterations: it, errorEstimate: est, cg: false };
      }
      if (it >= 6 && rho > 0.5 && this.gCol !== Infinity) {
        const r = this.cgBlock(k0, nb, B, U, W, I, tol, maxIter - it);
        return { iterations: it + r.iterations, errorEstimate: r.errorEstimate, cg: true };
      }
    }
    throw new Error(`fcm: the circuit solve did not converge in ${maxIter} iterations (estimated error ${est})`);
  }

  /** The first word-line sweep, with W = 0: only the driven row of each right-hand side is non-zero. */
  private firstRowSweep(k0: number, nb: number, B: number, U: Float64Array): void {
    const { N } = this;
    U.fill(0);
    for (let b = 0; b < nb; b++) {
      const i = k0 + b;
      const resp = this.driveResponse(i);
      for (let j = 0; j < N; j++) U[(i * N + j) * B + b] = resp[j]!;
    }
  }

  /** Word-line voltages of row i for 1 V on its driver and its bit lines at 0 V. */
  private driveResponse(i: number): Float64Array {
    let r = this.driveCache.get(i);
    if (r) return r;
    const { N, gRow, gDrive } = this;
    const f = this.rowF[i]!;
    r = new Float64Array(N);
    if (f.kind === 'held') r.fill(1);
    else if (f.kind === 'lumped') r.fill(gDrive * f.invm[0]!);
    else {
      r[0] = gDrive * f.invm[0]!;
      for (let j = 1; j < N; j++) r[j] = gRow * f.invm[j]! * r[j - 1]!;
      for (let j = N - 2; j >= 0; j--) r[j]! += f.gm[j]! * r[j + 1]!;
    }
    this.driveCache.set(i, r);
    return r;
  }

  /** Word lines given the bit-line voltages W (and unit drive on row k0+b for rhs b). */
  private rowSweep(k0: number, nb: number, B: number, U: Float64Array, W: Float64Array, drive = true): void {
    const { M, N, g, gRow, gDrive } = this;
    for (let i = 0; i < M; i++) {
      const f = this.rowF[i]!;
      const base = i * N * B;
      const bDrive = drive ? i - k0 : -1; // the rhs whose unit source is on this row (if in block)
      const hasDrive = bDrive >= 0 && bDrive < nb;
      if (f.kind === 'held') {
        for (let j = 0; j < N; j++) {
          const o = base + j * B;
          for (let b = 0; b < nb; b++) U[o + b] = 0;
          if (hasDrive) U[o + bDrive] = 1;
        }
        continue;
      }
      if (f.kind === 'lumped') {
        // One node: (gDrive·V + Σ_j G_ij W_ij) / (gDrive + Σ_j G_ij)
        const inv = f.invm[0]!;
        const acc = U.subarray(base, base + B);
        acc.fill(0);
        for (let j = 0; j < N; j++) {
          const gij = g[i * N + j]!;
          const o = base + j * B;
          for (let b = 0; b < nb; b++) acc[b]! += gij * W[o + b]!;
        }
        if (hasDrive) acc[bDrive]! += gDrive;
        for (let b = 0; b < nb; b++) acc[b]! *= inv;
        for (let j = 1; j < N; j++) U.copyWithin(base + j * B, base, base + nb);
        continue;
      }
      const invm = f.invm;
      const gm = f.gm;
      const lm = f.lm;
      // forward: y_j = (G_ij W_ij + [j=0]·gDrive·V + g·y_{j−1}) / m_j
      {
        const a = lm[0]!;
        for (let b = 0; b < nb; b++) U[base + b] = a * W[base + b]!;
        if (hasDrive) U[base + bDrive]! += gDrive * invm[0]!;
      }
      for (let j = 1; j < N; j++) {
        const a = lm[j]!;
        const gi = gRow * invm[j]!;
        const o = base + j * B;
        const p = o - B;
        axpby(U, o, a, W, gi, p, nb);
      }
      // back: x_j = y_j + (g/m_j)·x_{j+1}
      for (let j = N - 2; j >= 0; j--) {
        const c = gm[j]!;
        const o = base + j * B;
        const n = o + B;
        addScaled(U, o, c, n, nb);
      }
    }
  }

  /** Bit lines given the word-line voltages U. Solves B_j W = D_j U. */
  private colSweep(nb: number, B: number, U: Float64Array, W: Float64Array): void {
    const { M, N, g, gCol } = this;
    const stride = N * B;
    if (this.colF[0]!.kind === 'tri') {
      this.colSweepPlanes(B, U, W, true);
      return;
    }
    for (let j = 0; j < N; j++) {
      const f = this.colF[j]!;
      const base = j * B;
      if (f.kind === 'held') {
        for (let i = 0; i < M; i++) {
          const o = base + i * stride;
          for (let b = 0; b < nb; b++) W[o + b] = 0;
        }
        continue;
      }
      if (f.kind === 'lumped') {
        const inv = f.invm[0]!;
        const acc = W.subarray(base, base + B);
        acc.fill(0);
        for (let i = 0; i < M; i++) {
          const gij = g[i * N + j]!;
          const o = base + i * stride;
          for (let b = 0; b < nb; b++) acc[b]! += gij * U[o + b]!;
        }
        for (let b = 0; b < nb; b++) acc[b]! *= inv;
        for (let i = 1; i < M; i++) W.copyWithin(base + i * stride, base, base + nb);
        continue;
      }
      const invm = f.invm;
      const gm = f.gm;
      const lm = f.lm;
      {
        const a = lm[0]!;
        for (let b = 0; b < nb; b++) W[base + b] = a * U[base + b]!;
      }
      for (let i = 1; i < M; i++) {
        const a = lm[i]!;
        const gi = gCol * invm[i]!;
        const o = base + i * stride;
        const p = o - stride;
        for (let b = 0; b < nb; b++) W[o + b] = a * U[o + b]! + gi * W[p + b]!;
      }
      for (let i = M - 2; i >= 0; i--) {
        const c = gm[i]!;
        const o = base + i * stride;
        const n = o + stride;
        for (let b = 0; b < nb; b++) W[o + b]! += c * W[n + b]!;
      }
    }
  }

  /** Column currents I[j·B + b]: through the sense path, or Σ_i G_ij·U_ij when bit lines are held at 0 V. */
  private currents(nb: number, B: number, U: Float64Array, W: Float64Array, I: Float64Array): void {
    const { M, N, g, gSense } = this;
    const stride = N * B;
    for (let j = 0; j < N; j++) {
      const o = j * B;
      if (gSense !== Infinity) {
        const e = (M - 1) * stride + j * B;
        for (let b = 0; b < nb; b++) I[o + b] = gSense * W[e + b]!;
      } else {
        for (let b = 0; b < nb; b++) I[o + b] = 0;
        for (let i = 0; i < M; i++) {
          const gij = g[i * N + j]!;
          const e = i * stride + j * B;
          for (let b = 0; b < nb; b++) I[o + b]! += gij * U[e + b]!;
        }
      }
    }
  }

  /** Largest change of a current relative to the largest current of its right-hand side. */
  private relChange(nb: number, B: number, I: Float64Array, Iold: Float64Array): number {
    return relChange(this.N, nb, B, I, Iold);
  }

  /**
   * Conjugate gradients on the bit-line Schur complement S w = f, S = A_W − D A_U⁻¹ D,
   * f = D A_U⁻¹ b, preconditioned by A_W (the bit-line solves), per right-hand side, warm-started
   * from the current W. Only used when every bit line is a chain (r_col > 0). Applying S costs one word-line sweep (on D·x, no drive) plus an A_W product.
   */
  private cgBlock(
    k0: number,
    nb: number,
    B: number,
    U: Float64Array,
    W: Float64Array,
    I: Float64Array,
    tol: number,
    maxIter: number,
  ): { iterations: number; errorEstimate: number } {
    const { M, N } = this;
    const n = M * N * B;
    const x = W; // solution (bit-line voltages)
    const r = new Float64Array(n);
    const z = new Float64Array(n);
    const p = new Float64Array(n);
    const q = new Float64Array(n);
    const t = new Float64Array(n);
    const Iold = new Float64Array(I.length);
    const coef = new Float64Array(nb);
    // r = f − S x = D A_U⁻¹(b + D x) − A_W x  (U holds A_U⁻¹(b + D x) after a driven row sweep)
    this.rowSweep(k0, nb, B, U, x, true);
    this.residual(nb, B, U, x, r);
    this.precondition(B, r, z);
    p.set(z);
    const rz = this.dots(nb, B, r, z);
    for (let it = 1; it <= maxIter; it++) {
      // q = S p = A_W p − D A_U⁻¹ D p
      this.rowSweep(k0, nb, B, t, p, false);
      this.applyS(nb, B, t, p, q);
      const pq = this.dots(nb, B, p, q);
      // per-rhs step lengths, applied with the rhs index innermost (a strided pass per rhs would
      // walk the whole array B times)
      for (let b = 0; b < nb; b++) coef[b] = pq[b]! > 0 ? rz[b]! / pq[b]! : 0;
      for (let e = 0; e < n; e += B) {
        for (let b = 0; b < nb; b++) {
          const alpha = coef[b]!;
          x[e + b]! += alpha * p[e + b]!;
          r[e + b]! -= alpha * q[e + b]!;
        }
      }
      this.precondition(B, r, z);
      const rzNew = this.dots(nb, B, r, z);
      for (let b = 0; b < nb; b++) {
        coef[b] = rz[b]! > 0 ? rzNew[b]! / rz[b]! : 0;
        rz[b] = rzNew[b]!;
      }
      for (let e = 0; e < n; e += B) for (let b = 0; b < nb; b++) p[e + b] = z[e + b]! + coef[b]! * p[e + b]!;
      Iold.set(I);
      this.rowSweep(k0, nb, B, U, x, true);
      this.currents(nb, B, U, x, I);
      const delta = this.relChange(nb, B, I, Iold);
      // CG error is not monotone per element; demand a change well below tol before stopping.
      if (delta < tol * 0.1) return { iterations: it, errorEstimate: delta };
    }
    throw new Error(`fcm: the circuit solve did not converge (conjugate gradients, ${maxIter} iterations)`);
  }

  /** r = D U − A_W x (bit-line residual given word-line voltages U). */
  private residual(nb: number, B: number, U: Float64Array, x: Float64Array, r: Float64Array): void {
    this.applyAW(nb, B, x, r);
    const { M, N, g } = this;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        const gij = g[i * N + j]!;
        const o = (i * N + j) * B;
        for (let b = 0; b < nb; b++) r[o + b] = gij * U[o + b]! - r[o + b]!;
      }
  }

  /** q = A_W p − D t with t = A_U⁻¹ D p. */
  private applyS(nb: number, B: number, t: Float64Array, p: Float64Array, q: Float64Array): void {
    this.applyAW(nb, B, p, q);
    const { M, N, g } = this;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        const gij = g[i * N + j]!;
        const o = (i * N + j) * B;
        for (let b = 0; b < nb; b++) q[o + b]! -= gij * t[o + b]!;
      }
  }

  /** y = A_W x: the bit-line tridiagonal operators (lumped / held lines act on their one node). */
  private applyAW(nb: number, B: number, x: Float64Array, y: Float64Array): void {
    const { M, N, g, gCol, gSense } = this;
    const stride = N * B;
    for (let j = 0; j < N; j++) {
      for (let i = 0; i < M; i++) {
        const o = i * stride + j * B;
        const d = g[i * N + j]! + (i > 0 ? gCol : 0) + (i < M - 1 ? gCol : 0) + (i === M - 1 ? gSense : 0);
        for (let b = 0; b < nb; b++) {
          let v = d * x[o + b]!;
          if (i > 0) v -= gCol * x[o - stride + b]!;
          if (i < M - 1) v -= gCol * x[o + stride + b]!;
          y[o + b] = v;
        }
      }
    }
  }

  /** z = A_W⁻¹ r (bit-line solves with r as right-hand side). */
  private precondition(B: number, r: Float64Array, z: Float64Array): void {
    this.colSweepPlanes(B, r, z, false);
  }

  private dots(nb: number, B: number, a: Float64Array, c: Float64Array): Float64Array {
    const out = new Float64Array(nb);
    for (let e = 0; e < a.length; e += B) for (let b = 0; b < nb; b++) out[b]! += a[e + b]! * c[e + b]!;
    return out;
  }
}
