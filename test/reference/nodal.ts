/**
 * Reference: the crossbar as a dense float64 nodal system, solved by Gaussian elimination with
 * partial pivoting. Independent of src/runtime/parasitics (nothing imported from it) and as
 * literal as possible, to validate the structured solver against.
 *
 * Circuit (docs/parasitics.md): nodes u(i,j) on word lines and w(i,j) on bit lines, cell G[i,j]
 * between them; r_row between u(i,j) and u(i,j+1); r_col between w(i,j) and w(i+1,j).
 * Forward: row i driven at the column-0 end by V_i through R_source + r_row (into u(i,0)); column j
 * sensed at the row-(M−1) end through r_col + R_sense to ground (out of w(M−1,j)).
 * Transposed: column j driven at the row-(M−1) end by V_j through R_source + r_col; row i sensed at
 * the column-0 end through r_row + R_sense to ground.
 * Every one of the series resistances must be > 0 (the reference has no special cases).
 */

export interface RefWires {
  row: number;
  col: number;
  source: number;
  sense: number;
}

/** Solve A X = Bm in place for dense A (n × n) and nrhs right-hand sides (columns of Bm, row-major n × nrhs). */
export function gaussSolve(A: Float64Array, n: number, Bm: Float64Array, nrhs: number): Float64Array {
  for (let k = 0; k < n; k++) {
    let piv = k;
    let best = Math.abs(A[k * n + k]!);
    for (let r = k + 1; r < n; r++) {
      const v = Math.abs(A[r * n + k]!);
      if (v > best) {
        best = v;
        piv = r;
      }
    }
    if (best === 0) throw new Error('singular nodal matrix');
    if (piv !== k) {
      for (let c = 0; c < n; c++) {
        const t = A[k * n + c]!;
        A[k * n + c] = A[piv * n + c]!;
        A[piv * n + c] = t;
      }
      for (let c = 0; c < nrhs; c++) {
        const t = Bm[k * nrhs + c]!;
        Bm[k * nrhs + c] = Bm[piv * nrhs + c]!;
        Bm[piv * nrhs + c] = t;
      }
    }
    const inv = 1 / A[k * n + k]!;
    for (let r = k + 1; r < n; r++) {
      const f = A[r * n + k]! * inv;
      if (f === 0) continue;
      for (let c = k; c < n; c++) A[r * n + c]! -= f * A[k * n + c]!;
      for (let c = 0; c < nrhs; c++) Bm[r * nrhs + c]! -= f * Bm[k * nrhs + c]!;
    }
  }
  for (let k = n - 1; k >= 0; k--) {
    const inv = 1 / A[k * n + k]!;
    for (let c = 0; c < nrhs; c++) {
      let s = Bm[k * nrhs + c]!;
      for (let j = k + 1; j < n; j++) s -= A[k * n + j]! * Bm[j * nrhs + c]!;
      Bm[k * nrhs + c] = s * inv;
    }
  }
  return Bm;
}

function buildNodal(
  g: ArrayLike<number>,
  M: number,
  N: number,
  w: RefWires,
): { A: Float64Array; n: number; u: (i: number, j: number) => number; wn: (i: number, j: number) => number } {
  const n = 2 * M * N;
  const A = new Float64Array(n * n);
  const u = (i: number, j: number) => i * N + j;
  const wn = (i: number, j: number) => M * N + i * N + j;
  const stamp = (a: number, b: number, cond: number) => {
    A[a * n + a]! += cond;
    A[b * n + b]! += cond;
    A[a * n + b]! -= cond;
    A[b * n + a]! -= cond;
  };
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      stamp(u(i, j), wn(i, j), g[i * N + j]!);
      if (j + 1 < N) stamp(u(i, j), u(i, j + 1), 1 / w.row);
      if (i + 1 < M) stamp(wn(i, j), wn(i + 1, j), 1 / w.col);
    }
  return { A, n, u, wn };
}

/** Forward effective matrix (M × N): row k = column currents for 1 V on row k. */
export function denseForward(g: ArrayLike<number>, M: number, N: number, w: RefWires): Float64Array {
  const { A, n, u, wn } = buildNodal(g, M, N, w);
  const gDrive = 1 / (w.source + w.row);
  const gSense = 1 / (w.col + w.sense);
  for (let i = 0; i < M; i++) A[u(i, 0) * n + u(i, 0)]! += gDrive;
  for (let j = 0; j < N; j++) A[wn(M - 1, j) * n + wn(M - 1, j)]! += gSense;
  const rhs = new Float64Array(n * M);
  for (let k = 0; k < M; k++) rhs[u(k, 0) * M + k] = gDrive;
  const x = gaussSolve(A, n, rhs, M);
  const out = new Float64Array(M * N);
  for (let k = 0; k < M; k++) for (let j = 0; j < N; j++) out[k * N + j] = gSense * x[wn(M - 1, j) * M + k]!;
  return out;
}

/** Transposed effective matrix (N × M): row j = row currents for 1 V on column j. */
export function denseTransposed(g: ArrayLike<number>, M: number, N: number, w: RefWires): Float64Array {
  const { A, n, u, wn } = buildNodal(g, M, N, w);
  const gDrive = 1 / (w.source + w.col);
  const gSense = 1 / (w.row + w.sense);
  for (let j = 0; j < N; j++) A[wn(M - 1, j) * n + wn(M - 1, j)]! += gDrive;
  for (let i = 0; i < M; i++) A[u(i, 0) * n + u(i, 0)]! += gSense;
  const rhs = new Float64Array(n * N);
  for (let k = 0; k < N; k++) rhs[wn(M - 1, k) * N + k] = gDrive;
  const x = gaussSolve(A, n, rhs, N);
  const out = new Float64Array(N * M);
  for (let k = 0; k < N; k++) for (let i = 0; i < M; i++) out[k * M + i] = gSense * x[u(i, 0) * N + k]!;
  return out;
}

/** A cell curve for the dense Newton reference: I = G·h(V), returning [h(V), h'(V)]. */
export type RefCurve = (v: number) => [number, number];

/**
 * Dense Newton on the full nodal system with nonlinear cells I = G·h(u − w): F(x) = A x + c(x) − b,
 * Jacobian A + stamps of G·h', each step one dense Gaussian elimination. Forward: rows at V
 * through R_source + r_row, column currents through r_col + R_sense; transposed: columns at V
 * (row-(M−1) end) through R_source + r_col, row currents through r_row + R_sense. Independent of
 * the structured solver: no line structure, no clamping, no Gauss–Seidel, no relabelling.
 */
export function denseNewton(g: ArrayLike<number>, M: number, N: number, w: RefWires, h: RefCurve, v: ArrayLike<number>, transposed = false): Float64Array {
  const base = buildNodal(new Float64Array(M * N), M, N, w); // wires only; the cells are the nonlinear part
  const { n, u, wn } = base;
  const drives = transposed ? Array.from({ length: N }, (_, j) => wn(M - 1, j)) : Array.from({ length: M }, (_, i) => u(i, 0));
  const senses = transposed ? Array.from({ length: M }, (_, i) => u(i, 0)) : Array.from({ length: N }, (_, j) => wn(M - 1, j));
  const gDrive = 1 / (w.source + (transposed ? w.col : w.row));
  const gSense = 1 / ((transposed ? w.row : w.col) + w.sense);
  const b = new Float64Array(n);
  drives.forEach((node, k) => {
    base.A[node * n + node]! += gDrive;
    b[node] = gDrive * v[k]!;
  });
  for (const node of senses) base.A[node * n + node]! += gSense;
  const x = new Float64Array(n);
  for (let step = 0; step < 100; step++) {
    const J = Float64Array.from(base.A);
    const F = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      let s = -b[r]!;
      for (let c = 0; c < n; c++) s += base.A[r * n + c]! * x[c]!;
      F[r] = s;
    }
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        const a = u(i, j);
        const c = wn(i, j);
        const gij = g[i * N + j]!;
        const [hv, dh] = h(x[a]! - x[c]!);
        F[a]! += gij * hv;
        F[c]! -= gij * hv;
        J[a * n + a]! += gij * dh;
        J[c * n + c]! += gij * dh;
        J[a * n + c]! -= gij * dh;
        J[c * n + a]! -= gij * dh;
      }
    const dx = gaussSolve(J, n, F, 1);
    let big = 0;
    let scale = 0;
    for (let k = 0; k < n; k++) {
      x[k]! -= dx[k]!;
      big = Math.max(big, Math.abs(dx[k]!));
      scale = Math.max(scale, Math.abs(x[k]!));
    }
    if (big <= 1e-14 * Math.max(scale, 1e-300)) break;
  }
  return Float64Array.from(senses, (node) => gSense * x[node]!);
}
