/**
 * The tile circuit of fcm.ts with nonlinear cells I = G·h(V) (iv.ts), solved per input vector by
 * Newton iterations over lines, and its secant linearisation into an effective matrix
 * (docs/parasitics.md, "Nonlinear devices").
 *
 * Solver: nonlinear block Gauss–Seidel over the same lines as the linear FCM. A word-line sweep
 * holds the bit-line voltages, linearises every cell of the line at its present voltage
 * (I ≈ G·h(Δ₀) + G·h'(Δ₀)·(Δ − Δ₀)) and solves the line's tridiagonal system (Thomas) — one Newton
 * step on that line; a bit-line sweep does the same with the word lines held. With h linear this
 * is exactly the linear FCM iteration; the nonlinearity adds one h, h' evaluation per cell and
 * half-sweep and a re-factorisation of each line (O(M·N) per sweep, one right-hand side).
 * Node voltages are clamped to the range of the drives (and 0 V): a network of resistors and
 * increasing cells obeys the maximum principle, so the clamp only stops an overshooting Newton
 * step. Stopping rule as in the linear solver: the estimated remaining relative error of every
 * column current, δ·ρ/(1−ρ), below `tol`.
 *
 * Linearisation (`linearizeTile`): solve the circuit once at an operating point V* (every row at
 * a fixed voltage), replace each cell by its secant conductance G_s = G·h(Δ*)/Δ* and reduce that
 * linear network with `fcm`. The matrix is exact at V* (the nonlinear node voltages satisfy the
 * secant network's equations) and for linear cells equals the FCM matrix.
 */

import { XbarcRuntimeError } from '../../model/errors.js';
import { checkTile, checkWires, type Wires } from './circuit.js';
import { fcm, fcmTransposed, type FcmOptions } from './fcm.js';
import { checkIv, evalIv, monotoneLimit, secantFactor, type IvModel, type IvPoint } from './iv.js';
import { DEFAULT_TOL } from './line-solver.js';

export interface NonlinearOptions {
  /** Relative accuracy of every column current (estimated; default 1e-7, as fcm). */
  tol?: number;
  /** Sweep cap before giving up with an error (default 1000). */
  maxIter?: number;
}

export interface NonlinearSolve {
  /** Output currents (A): forward N column currents; transposed M row currents. */
  currents: Float64Array;
  /** Cell voltages Δ (V), M × N row-major, word line minus bit line (forward) or bit minus word (transposed). */
  cellVoltage: Float64Array;
  iterations: number;
  errorEstimate: number;
}

interface Circuit {
  g: ArrayLike<number>;
  M: number;
  N: number;
  gRow: number;
  gCol: number;
  gDrive: number;
  gSense: number;
}

const inv = (r: number) => (r === 0 ? Infinity : 1 / r);

/** Forward drive: rows at V (M volts), column currents out. */
export function solveNonlinear(
  g: ArrayLike<number>,
  rows: number,
  cols: number,
  wires: Wires,
  iv: IvModel,
  v: ArrayLike<number>,
  opts: NonlinearOptions = {},
): NonlinearSolve {
  checkTile(g, rows, cols);
  checkWires(wires);
  checkIv(iv);
  if (v.length !== rows) throw new RangeError(`nonlinear solve: ${v.length} inputs for ${rows} rows`);
  const c: Circuit = {
    g,
    M: rows,
    N: cols,
    gRow: inv(wires.row),
    gCol: inv(wires.col),
    gDrive: inv(wires.source + wires.row),
    gSense: inv(wires.col + wires.sense),
  };
  return iterate(c, iv, v, opts);
}

/** Transposed drive: columns at V (N volts, at their sensing end through R_source), row currents out (through R_sense). */
export function solveNonlinearTransposed(
  g: ArrayLike<number>,
  rows: number,
  cols: number,
  wires: Wires,
  iv: IvModel,
  v: ArrayLike<number>,
  opts: NonlinearOptions = {},
): NonlinearSolve {
  checkTile(g, rows, cols);
  if (v.length !== cols) throw new RangeError(`nonlinear solve (transposed): ${v.length} inputs for ${cols} columns`);
  // The relabelling of fcmTransposed: a forward circuit on H (N × M), H[N−1−j, M−1−i] = G[i, j];
  // the curves are odd, so the reversed cell polarity needs nothing else.
  const h = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) h[(cols - 1 - j) * rows + (rows - 1 - i)] = g[i * cols + j]!;
  const hv = new Float64Array(cols);
  for (let j = 0; j < cols; j++) hv[cols - 1 - j] = v[j]!;
  const r = solveNonlinear(h, cols, rows, { row: wires.col, col: wires.row, source: wires.source, sense: wires.sense }, iv, hv, opts);
  const currents = new Float64Array(rows);
  for (let i = 0; i < rows; i++) currents[i] = r.currents[rows - 1 - i]!;
  const dv = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) dv[i * cols + j] = r.cellVoltage[(cols - 1 - j) * rows + (rows - 1 - i)]!;
  return { ...r, currents, cellVoltage: dv };
}

/** A batch of input vectors (B × M forward, B × N transposed), one Newton solve each: B × N (B × M) currents. */
export function nonlinearCurrents(
  g: ArrayLike<number>,
  rows: number,
  cols: number,
  wires: Wires,
  iv: IvModel,
  v: ArrayLike<number>,
  transposed = false,
  opts: NonlinearOptions = {},
): { currents: Float64Array; iterations: number; errorEstimate: number } {
  const nin = transposed ? cols : rows;
  const nout = transposed ? rows : cols;
  if (v.length % nin !== 0) throw new RangeError(`inputs hold ${v.length} values, not a multiple of the ${nin} ${transposed ? 'columns' : 'rows'}`);
  const batch = v.length / nin;
  const out = new Float64Array(batch * nout);
  let iterations = 0;
  let errorEstimate = 0;
  const vec = new Float64Array(nin);
  for (let b = 0; b < batch; b++) {
    for (let k = 0; k < nin; k++) vec[k] = v[b * nin + k]!;
    const r = transposed ? solveNonlinearTransposed(g, rows, cols, wires, iv, vec, opts) : solveNonlinear(g, rows, cols, wires, iv, vec, opts);
    out.set(r.currents, b * nout);
    iterations = Math.max(iterations, r.iterations);
    errorEstimate = Math.max(errorEstimate, r.errorEstimate);
  }
  return { currents: out, iterations, errorEstimate };
}

function iterate(c: Circuit, iv: IvModel, v: ArrayLike<number>, opts: NonlinearOptions): NonlinearSolve {
  const { M, N } = c;
  const tol = opts.tol ?? DEFAULT_TOL;
  const maxIter = opts.maxIter ?? 1000;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < M; i++) {
    lo = Math.min(lo, v[i]!);
    hi = Math.max(hi, v[i]!);
  }
  const U = new Float64Array(M * N);
  const W = new Float64Array(M * N);
  for (let i = 0; i < M; i++) U.fill(v[i]!, i * N, (i + 1) * N);
  const s: Scratch = { p: { h: 0, dh: 0 }, d: new Float64Array(Math.max(M, N)), r: new Float64Array(Math.max(M, N)), limit: monotoneLimit(iv), lo, hi };
  const I = new Float64Array(N);
  const Iold = new Float64Array(N);
  let prevDelta = Infinity;
  let est = Infinity;
  for (let it = 1; it <= maxIter; it++) {
    for (let i = 0; i < M; i++) wordLine(c, iv, v, i, U, W, s);
    for (let j = 0; j < N; j++) bitLine(c, iv, j, U, W, s);
    Iold.set(I);
    columnCurrents(c, iv, U, W, I, s);
    if (it === 1) continue;
    const delta = relChange(I, Iold);
    if (delta === 0) return done(c, U, W, I, it, 0);
    const rho = delta / prevDelta;
    prevDelta = delta;
    if (it >= 3 && rho < 1) {
      est = (delta * rho) / (1 - rho);
      if (est < tol) return done(c, U, W, I, it, est);
    }
  }
  throw new XbarcRuntimeError(
    'parasitics/no-convergence',
    `the nonlinear crossbar solve did not converge in ${maxIter} sweeps (estimated error ${est.toExponential(1)}): the curve is too steep (or a table's kinks too sharp) for these wires and drives; raise v0, smooth the table, or lower the drive voltages`,
  );
}

function done(c: Circuit, U: Float64Array, W: Float64Array, I: Float64Array, iterations: number, errorEstimate: number): NonlinearSolve {
  const dv = new Float64Array(c.M * c.N);
  for (let k = 0; k < dv.length; k++) dv[k] = U[k]! - W[k]!;
  return { currents: Float64Array.from(I), cellVoltage: dv, iterations, errorEstimate };
}

interface Scratch {
  p: IvPoint;
  /** Thomas pivots and right-hand side of one line. */
  d: Float64Array;
  r: Float64Array;
  limit: number;
  lo: number;
  hi: number;
}

/** G·h'(Δ) and the Newton current offset G·(h(Δ) − h'(Δ)·Δ) of one cell, into s.p (dh → gp, h → jc). */
function linearise(iv: IvModel, gij: number, x: number, s: Scratch, i: number, j: number): void {
  const p = evalIv(iv, x, s.p);
  if (!(p.dh >= 0)) {
    throw new RangeError(
      `nonlinear solve: cell (${i}, ${j}) reached ${x.toPrecision(4)} V, outside the I-V curve's increasing range (|V| < ${s.limit.toPrecision(4)} V); lower the drive voltages`,
    );
  }
  const gp = gij * p.dh;
  p.h = gij * p.h - gp * x;
  p.dh = gp;
}

const clamp = (x: number, s: Scratch) => (x < s.lo ? s.lo : x > s.hi ? s.hi : x);

/** One Newton step on word line i with the bit lines held (KCL: drive + segments = cell currents). */
function wordLine(c: Circuit, iv: IvModel, v: ArrayLike<number>, i: number, U: Float64Array, W: Float64Array, s: Scratch): void {
  const { N, g, gRow, gDrive } = c;
  const o = i * N;
  const vi = v[i]!;
  if (gRow === Infinity && gDrive === Infinity) {
    U.fill(vi, o, o + N);
    return;
  }
  if (gRow === Infinity) {
    // one node: (gDrive + Σ gp) u = gDrive·V + Σ (gp·W − jc)
    let a = gDrive;
    let b = gDrive * vi;
    for (let j = 0; j < N; j++) {
      linearise(iv, g[o + j]!, U[o + j]! - W[o + j]!, s, i, j);
      a += s.p.dh;
      b += s.p.dh * W[o + j]! - s.p.h;
    }
    U.fill(clamp(b / a, s), o, o + N);
    return;
  }
  const { d, r } = s;
  let prev = 0;
  for (let j = 0; j < N; j++) {
    linearise(iv, g[o + j]!, U[o + j]! - W[o + j]!, s, i, j);
    let diag = s.p.dh + (j > 0 ? gRow : 0) + (j < N - 1 ? gRow : 0) + (j === 0 ? gDrive : 0);
    let rhs = s.p.dh * W[o + j]! - s.p.h + (j === 0 ? gDrive * vi : 0);
    if (j > 0) {
      diag -= gRow * gRow * prev;
      rhs += gRow * prev * r[j - 1]!;
    }
    prev = 1 / diag;
    d[j] = prev;
    r[j] = rhs;
  }
  let x = r[N - 1]! * d[N - 1]!;
  U[o + N - 1] = clamp(x, s);
  for (let j = N - 2; j >= 0; j--) {
    x = (r[j]! + gRow * x) * d[j]!;
    U[o + j] = clamp(x, s);
  }
}

/** One Newton step on bit line j with the word lines held (KCL: cell currents in = segments + sense out). */
function bitLine(c: Circuit, iv: IvModel, j: number, U: Float64Array, W: Float64Array, s: Scratch): void {
  const { M, N, g, gCol, gSense } = c;
  if (gCol === Infinity && gSense === Infinity) {
    for (let i = 0; i < M; i++) W[i * N + j] = 0;
    return;
  }
  if (gCol === Infinity) {
    let a = gSense;
    let b = 0;
    for (let i = 0; i < M; i++) {
      const k = i * N + j;
      linearise(iv, g[k]!, U[k]! - W[k]!, s, i, j);
      a += s.p.dh;
      b += s.p.dh * U[k]! + s.p.h;
    }
    const w = a > 0 ? clamp(b / a, s) : 0;
    for (let i = 0; i < M; i++) W[i * N + j] = w;
    return;
  }
  const { d, r } = s;
  let prev = 0;
  for (let i = 0; i < M; i++) {
    const k = i * N + j;
    linearise(iv, g[k]!, U[k]! - W[k]!, s, i, j);
    let diag = s.p.dh + (i > 0 ? gCol : 0) + (i < M - 1 ? gCol : 0) + (i === M - 1 ? gSense : 0);
    let rhs = s.p.dh * U[k]! + s.p.h;
    if (i > 0) {
      diag -= gCol * gCol * prev;
      rhs += gCol * prev * r[i - 1]!;
    }
    prev = 1 / diag;
    d[i] = prev;
    r[i] = rhs;
  }
  let x = r[M - 1]! * d[M - 1]!;
  W[(M - 1) * N + j] = clamp(x, s);
  for (let i = M - 2; i >= 0; i--) {
    x = (r[i]! + gCol * x) * d[i]!;
    W[i * N + j] = clamp(x, s);
  }
}

/** Column currents: through the sense path, or Σ_i G·h(U) when the bit line is held at 0 V. */
function columnCurrents(c: Circuit, iv: IvModel, U: Float64Array, W: Float64Array, I: Float64Array, s: Scratch): void {
  const { M, N, g, gSense } = c;
  for (let j = 0; j < N; j++) {
    if (gSense !== Infinity) {
      I[j] = gSense * W[(M - 1) * N + j]!;
      continue;
    }
    let sum = 0;
    for (let i = 0; i < M; i++) sum += g[i * N + j]! * evalIv(iv, U[i * N + j]!, s.p).h;
    I[j] = sum;
  }
}

function relChange(I: Float64Array, Iold: Float64Array): number {
  let peak = 0;
  for (let j = 0; j < I.length; j++) peak = Math.max(peak, Math.abs(I[j]!));
  const floor = peak * 1e-12 || Number.MIN_VALUE;
  let worst = 0;
  for (let j = 0; j < I.length; j++) worst = Math.max(worst, Math.abs(I[j]! - Iold[j]!) / Math.max(Math.abs(I[j]!), floor));
  return worst;
}

export interface LinearizedTile {
  /** Effective matrix (forward M × N, transposed N × M), exact at the operating point. */
  gni: Float64Array;
  /** Secant conductances G·h(Δ*)/Δ* (M × N) the linear reduction ran on. */
  secant: Float64Array;
  /** Newton sweeps of the operating-point solve. */
  iterations: number;
}

/**
 * The per-tile linearisation: the secant conductances at the operating point (every driven line at
 * `vOp` volts: the rows forward, the columns transposed), reduced by the linear FCM.
 */
export function linearizeTile(
  g: ArrayLike<number>,
  rows: number,
  cols: number,
  wires: Wires,
  iv: IvModel,
  vOp: number,
  transposed = false,
  opts: NonlinearOptions & FcmOptions = {},
): LinearizedTile {
  const op = new Float64Array(transposed ? cols : rows).fill(vOp);
  const r = transposed ? solveNonlinearTransposed(g, rows, cols, wires, iv, op, opts) : solveNonlinear(g, rows, cols, wires, iv, op, opts);
  const secant = secantConductances(g, iv, r.cellVoltage);
  const gni = transposed ? fcmTransposed(secant, rows, cols, wires, opts).gni : fcm(secant, rows, cols, wires, opts).gni;
  return { gni, secant, iterations: r.iterations };
}

/** G·h(Δ)/Δ per cell. */
export function secantConductances(g: ArrayLike<number>, iv: IvModel, cellVoltage: ArrayLike<number>): Float64Array {
  const p: IvPoint = { h: 0, dh: 0 };
  const out = new Float64Array(g.length);
  for (let k = 0; k < g.length; k++) out[k] = g[k]! * secantFactor(iv, cellVoltage[k]!, p);
  return out;
}
