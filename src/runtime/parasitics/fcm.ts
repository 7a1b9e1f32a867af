/**
 * Crossbar parasitics (MODELS.md §2): the full circuit model (FCM), the approximate lumped-path
 * model (AAM) and interpolated FCM.
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
 * pre-factored Thomas sweep), and with the word-line voltages fixed, every bit line is one. The
 * right-hand sides are processed in blocks with the block index innermost, so each tridiagonal sweep
 * runs over contiguous memory. The iteration contracts with factor ρ ≈ (Σ_j G_ij·R_row path) ×
 * (Σ_i G_ij·R_col path), tiny when devices are much more resistive than wires; it stops when the
 * estimated remaining error (change × ρ/(1−ρ)) is below `tol` relative (default 1e-7), element by
 * element (after two sweeps when an a-priori bound on ρ is already small enough). Where it
 * converges slowly (ρ > 0.5: very low device resistance against long, resistive lines) it continues
 * with conjugate gradients on the bit-line Schur complement, preconditioned by the bit-line
 * solves — the same two line sweeps per step, and convergence in √κ steps.
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

export interface Wires {
  /** Word-line segment resistance between adjacent cells (Ω). */
  row: number;
  /** Bit-line segment resistance between adjacent cells (Ω). */
  col: number;
  /** Driver (source) resistance R_source (Ω). */
  source: number;
  /** Sense (sink) resistance R_sense (Ω). */
  sense: number;
}

export interface FcmOptions {
  /** Relative accuracy of every element of G_ni (estimated; default 1e-7). */
  tol?: number;
  /** Iteration cap (line sweeps) before giving up with an error (default 2000). */
  maxIter?: number;
  /** Right-hand sides solved together (default 32): trades cache footprint against loop length. */
  block?: number;
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
}

const DEFAULT_TOL = 1e-7;

export function checkWires(w: Wires): void {
  for (const k of ['row', 'col', 'source', 'sense'] as const) {
    const v = w[k];
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new RangeError(`wires.${k} must be a finite resistance ≥ 0 Ω, got ${v}`);
  }
}

function checkTile(g: ArrayLike<number>, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) throw new RangeError(`tile size must be positive integers, got ${rows} × ${cols}`);
  if (g.length !== rows * cols) throw new RangeError(`conductance array has ${g.length} values, a ${rows} × ${cols} tile needs ${rows * cols}`);
  for (let i = 0; i < g.length; i++) {
    const x = g[i]!;
    if (!(x >= 0 && Number.isFinite(x))) throw new RangeError(`conductance [${Math.floor(i / cols)}, ${i % cols}] must be a finite value ≥ 0 S, got ${x}`);
  }
}

/** Forward FCM: G_ni (M × N) such that I_out[j] = Σ_i V[i]·G_ni[i, j]. */
export function fcm(g: ArrayLike<number>, rows: number, cols: number, wires: Wires, opts: FcmOptions = {}): FcmResult {
  checkTile(g, rows, cols);
  checkWires(wires);
  if (wires.row === 0 && wires.col === 0 && wires.source === 0 && wires.sense === 0) {
    return { gni: Float64Array.from(g), rows, cols, iterations: 0, errorEstimate: 0, method: 'exact' };
  }
  return new LineSolver(Float64Array.from(g), rows, cols, wires).solveAll(opts);
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

/** AAM lumped path resistance of cell (i, j): R_source + (j+1)·r_row + (M−i)·r_col + R_sense. */
export function aamPathResistance(i: number, j: number, rows: number, wires: Wires): number {
  return wires.source + (j + 1) * wires.row + (rows - i) * wires.col + wires.sense;
}

/** AAM: G_ni[i, j] = 1 / (1/G_ij + R_ij) — each cell in series with its lumped shortest path. */
export function aam(g: ArrayLike<number>, rows: number, cols: number, wires: Wires): Float64Array {
  checkTile(g, rows, cols);
  checkWires(wires);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const x = g[i * cols + j]!;
      out[i * cols + j] = x / (1 + x * aamPathResistance(i, j, rows, wires));
    }
  }
  return out;
}

/**
 * AAM for the transposed drive (N × M): the lumped path from the bit-line driver to the word-line
 * sense passes the same segments, so it is the forward AAM transposed.
 */
export function aamTransposed(g: ArrayLike<number>, rows: number, cols: number, wires: Wires): Float64Array {
  const f = aam(g, rows, cols, { ...wires, source: wires.source, sense: wires.sense });
  return transpose(f, rows, cols);
}

export function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

/** Currents I[b, j] = Σ_i V[b, i]·Geff[i, j] for a batch of B input vectors (row-major B × M). */
export function mvm(v: ArrayLike<number>, geff: ArrayLike<number>, rows: number, cols: number): Float64Array {
  if (v.length % rows !== 0) throw new RangeError(`inputs hold ${v.length} values, not a multiple of the ${rows} rows`);
  const batch = v.length / rows;
  const out = new Float64Array(batch * cols);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < rows; i++) {
      const x = v[b * rows + i]!;
      if (x === 0) continue;
      const o = b * cols;
      const r = i * cols;
      for (let j = 0; j < cols; j++) out[o + j] += x * geff[r + j]!;
    }
  }
  return out;
}

// ---- interpolated FCM ------------------------------------------------------------------------

/** Kept distortion D = (G − G_ni)/G (0 where G = 0). */
export function distortion(g: ArrayLike<number>, gni: ArrayLike<number>): Float64Array {
  if (g.length !== gni.length) throw new RangeError(`distortion: G has ${g.length} values, G_ni ${gni.length}`);
  const d = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) d[i] = g[i]! === 0 ? 0 : (g[i]! - gni[i]!) / g[i]!;
  return d;
}

/** Interpolated FCM between refreshes: G ⊙ (1 − D). */
export function applyDistortion(g: ArrayLike<number>, d: ArrayLike<number>, out = new Float64Array(g.length)): Float64Array {
  if (g.length !== d.length || out.length !== g.length) throw new RangeError(`applyDistortion: G has ${g.length} values, D ${d.length}, out ${out.length}`);
  for (let i = 0; i < g.length; i++) out[i] = g[i]! * (1 - d[i]!);
  return out;
}

/**
 * Interpolated FCM state: the full circuit is solved on the first call and every `refresh` calls
 * after it; in between, the kept distortion is applied to the current conductances.
 */
export class InterpolatedFcm {
  private d: Float64Array | null = null;
  private calls = 0;
  constructor(readonly rows: number, readonly cols: number, readonly wires: Wires, readonly refresh: number, readonly opts: FcmOptions & { transposed?: boolean } = {}) {
    if (!(Number.isInteger(refresh) && refresh >= 1)) throw new RangeError(`refresh must be an integer ≥ 1, got ${refresh}`);
  }
  /** Effective matrix for the current G; `solved` says whether the circuit was solved this call. */
  effective(g: ArrayLike<number>): { gni: Float64Array; solved: boolean } {
    const due = this.d === null || this.calls % this.refresh === 0;
    this.calls++;
    if (due) {
      const gni = this.opts.transposed ? fcmTransposed(g, this.rows, this.cols, this.wires, this.opts).gni : fcm(g, this.rows, this.cols, this.wires, this.opts).gni;
      this.d = distortion(this.opts.transposed ? transpose(g, this.rows, this.cols) : g, gni);
      return { gni, solved: true };
    }
    const base = this.opts.transposed ? transpose(g, this.rows, this.cols) : g;
    return { gni: applyDistortion(base, this.d!), solved: false };
  }
}

// ---- the line solver -------------------------------------------------------------------------

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

class LineSolver {
  private readonly gRow: number; // word-line segment conductance (Infinity when r_row = 0)
  private readonly gCol: number;
  private readonly gDrive: number; // 1/(R_source + r_row) (Infinity when both zero)
  private readonly gSense: number; // 1/(r_col + R_sense)
  private readonly rowF: LineFactor[];
  private readonly colF: LineFactor[];

  constructor(private readonly g: Float64Array, private readonly M: number, private readonly N: number, wires: Wires) {
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

  private readonly cLm: Float64Array;
  private readonly cG: Float64Array;
  private readonly cGm: Float64Array;

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

  private rhoBound = -1;

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
      if (k > 0) d -= (gSeg * gSeg) * prev;
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
  private solveBlock(k0: number, nb: number, B: number, U: Float64Array, W: Float64Array, I: Float64Array, Iold: Float64Array, tol: number, maxIter: number): { iterations: number; errorEstimate: number; cg: boolean } {
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

  private readonly driveCache = new Map<number, Float64Array>();

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
    const { N } = this;
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

  /**
   * Conjugate gradients on the bit-line Schur complement S w = f, S = A_W − D A_U⁻¹ D,
   * f = D A_U⁻¹ b, preconditioned by A_W (the bit-line solves), per right-hand side, warm-started
   * from the current W. Only used when every bit line is a chain (r_col > 0). Applying S costs one word-line sweep (on D·x, no drive) plus an A_W product.
   */
  private cgBlock(k0: number, nb: number, B: number, U: Float64Array, W: Float64Array, I: Float64Array, tol: number, maxIter: number): { iterations: number; errorEstimate: number } {
    const { M, N } = this;
    const n = M * N * B;
    const x = W; // solution (bit-line voltages)
    const r = new Float64Array(n);
    const z = new Float64Array(n);
    const p = new Float64Array(n);
    const q = new Float64Array(n);
    const t = new Float64Array(n);
    const Iold = new Float64Array(I.length);
    // r = f − S x = D A_U⁻¹(b + D x) − A_W x  (U holds A_U⁻¹(b + D x) after a driven row sweep)
    this.rowSweep(k0, nb, B, U, x, true);
    this.residual(nb, B, U, x, r);
    this.precondition(nb, B, r, z);
    p.set(z);
    const rz = this.dots(nb, B, r, z);
    for (let it = 1; it <= maxIter; it++) {
      // q = S p = A_W p − D A_U⁻¹ D p
      this.rowSweep(k0, nb, B, t, p, false);
      this.applyS(nb, B, t, p, q);
      const pq = this.dots(nb, B, p, q);
      for (let b = 0; b < nb; b++) {
        const alpha = pq[b]! > 0 ? rz[b]! / pq[b]! : 0;
        for (let e = b; e < n; e += B) {
          x[e]! += alpha * p[e]!;
          r[e]! -= alpha * q[e]!;
        }
      }
      this.precondition(nb, B, r, z);
      const rzNew = this.dots(nb, B, r, z);
      for (let b = 0; b < nb; b++) {
        const beta = rz[b]! > 0 ? rzNew[b]! / rz[b]! : 0;
        for (let e = b; e < n; e += B) p[e] = z[e]! + beta * p[e]!;
        rz[b] = rzNew[b]!;
      }
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
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      const gij = g[i * N + j]!;
      const o = (i * N + j) * B;
      for (let b = 0; b < nb; b++) r[o + b] = gij * U[o + b]! - r[o + b]!;
    }
  }

  /** q = A_W p − D t with t = A_U⁻¹ D p. */
  private applyS(nb: number, B: number, t: Float64Array, p: Float64Array, q: Float64Array): void {
    this.applyAW(nb, B, p, q);
    const { M, N, g } = this;
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
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
  private precondition(nb: number, B: number, r: Float64Array, z: Float64Array): void {
    void nb;
    this.colSweepPlanes(B, r, z, false);
  }

  private dots(nb: number, B: number, a: Float64Array, c: Float64Array): Float64Array {
    const out = new Float64Array(nb);
    for (let e = 0; e < a.length; e += B) for (let b = 0; b < nb; b++) out[b]! += a[e + b]! * c[e + b]!;
    return out;
  }
}

// ---- SPICE netlist ---------------------------------------------------------------------------

/**
 * An ngspice-compatible netlist of the same circuit (forward drive), for cross-checking: inputs V
 * (one per row, volts), every resistor in Ω, and zero-volt sources `vm<j>` in series with the
 * sense resistors so `print i(vm0) …` shows the column currents (A, positive into the sense).
 * Zero resistances are written as 1 µΩ (SPICE needs non-zero resistors).
 */
export function spiceNetlist(g: ArrayLike<number>, rows: number, cols: number, wires: Wires, v: ArrayLike<number>, title = 'xbarc crossbar'): string {
  checkTile(g, rows, cols);
  checkWires(wires);
  if (v.length !== rows) throw new RangeError(`spiceNetlist: ${v.length} inputs for ${rows} rows`);
  const r = (x: number) => (x > 0 ? x : 1e-6).toPrecision(12).replace(/\.?0+$/, '').replace(/\.?0+e/, 'e');
  const out: string[] = [`* ${title}: ${rows} x ${cols}, forward drive (docs/parasitics.md)`];
  for (let i = 0; i < rows; i++) {
    out.push(`v${i} in${i} 0 dc ${v[i]!}`);
    out.push(`rsrc${i} in${i} d${i} ${r(wires.source)}`);
    out.push(`rrow${i}_0 d${i} u${i}_0 ${r(wires.row)}`);
    for (let j = 1; j < cols; j++) out.push(`rrow${i}_${j} u${i}_${j - 1} u${i}_${j} ${r(wires.row)}`);
  }
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
    const x = g[i * cols + j]!;
    if (x > 0) out.push(`rcell${i}_${j} u${i}_${j} w${i}_${j} ${r(1 / x)}`);
  }
  for (let j = 0; j < cols; j++) {
    for (let i = 1; i < rows; i++) out.push(`rcol${i}_${j} w${i - 1}_${j} w${i}_${j} ${r(wires.col)}`);
    out.push(`rcol${rows}_${j} w${rows - 1}_${j} s${j} ${r(wires.col)}`);
    out.push(`rsense${j} s${j} m${j} ${r(wires.sense)}`);
    out.push(`vm${j} m${j} 0 dc 0`);
  }
  out.push('.control', 'op', `print ${Array.from({ length: cols }, (_, j) => `i(vm${j})`).join(' ')}`, '.endc', '.end', '');
  return out.join('\n');
}

// ---- from a plan -----------------------------------------------------------------------------

export interface ParasiticsConfig {
  kind: 'none' | 'fcm' | 'aam';
  /** fcm: recompute every `refresh` batches (interpolated FCM in between). */
  refresh: number;
  /** Backward pass: solve the transposed-drive circuit, or reuse the forward matrix transposed. */
  backward: 'transposed' | 'reuse';
  wires: Wires;
  rows: number;
  cols: number;
}

/** The parasitic model of a plan crossbar (`parasitics = fcm(...) | aam(...) | none`, `wires = {...}`, SI). */
export function parasiticsFromSettings(settings: Record<string, unknown>): ParasiticsConfig {
  const p = (settings['parasitics'] ?? { kind: 'none' }) as Record<string, unknown>;
  const kind = p['kind'] === 'fcm' || p['kind'] === 'aam' ? p['kind'] : 'none';
  if (p['kind'] !== undefined && p['kind'] !== kind) throw new RangeError(`unknown parasitic model ${JSON.stringify(p['kind'])}`);
  const w = (settings['wires'] ?? {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const wires: Wires = { row: num(w['row']), col: num(w['col']), source: num(w['source']), sense: num(w['sense']) };
  checkWires(wires);
  const size = (settings['size'] as number[] | undefined) ?? [64, 64];
  const refresh = typeof p['refresh'] === 'number' ? p['refresh'] : 1;
  return { kind, refresh, backward: p['backward'] === 'reuse' ? 'reuse' : 'transposed', wires, rows: size[0]!, cols: size[1] ?? size[0]! };
}

/** Forward effective matrix (M × N) under a parasitics config (`none`: G itself). */
export function forwardEffective(g: ArrayLike<number>, cfg: ParasiticsConfig, opts: FcmOptions = {}): Float64Array {
  if (cfg.kind === 'none') return Float64Array.from(g);
  if (cfg.kind === 'aam') return aam(g, cfg.rows, cfg.cols, cfg.wires);
  return fcm(g, cfg.rows, cfg.cols, cfg.wires, opts).gni;
}

/**
 * Backward effective matrix (N × M: drive column j → current of row i) under a parasitics config:
 * the transposed-drive circuit, or (`backward = reuse`) the forward matrix transposed — pass
 * `forward` to reuse one already computed.
 */
export function backwardEffective(g: ArrayLike<number>, cfg: ParasiticsConfig, opts: FcmOptions = {}, forward?: ArrayLike<number>): Float64Array {
  if (cfg.kind === 'none') return transpose(g, cfg.rows, cfg.cols);
  if (cfg.backward === 'reuse') return transpose(forward ?? forwardEffective(g, cfg, opts), cfg.rows, cfg.cols);
  if (cfg.kind === 'aam') return aamTransposed(g, cfg.rows, cfg.cols, cfg.wires);
  return fcmTransposed(g, cfg.rows, cfg.cols, cfg.wires, opts).gni;
}
