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
 * pre-factored Thomas sweep), and with the word-line voltages fixed, every bit line is one;
 * R_source and R_sense are end terms of those systems, so they are exact inside each line solve.
 * The right-hand sides are processed in blocks (default 32) with the block index innermost, so each
 * sweep streams over contiguous memory. The unit drive is the end term of its row's forward
 * elimination; in the first sweep (bit lines still at 0 V) only the driven rows need solving.
 *
 * With every line a chain (r_row, r_col > 0, the usual case) the sweeps run in a small WebAssembly
 * SIMD kernel (`y = a·x + c·z` over the lanes of a segment, built in this file), about 4× the
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

import type { CrossbarSpec } from '../../model/crossbar.js';

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

// ---- WebAssembly SIMD kernel ------------------------------------------------------------------

/**
 * The one inner loop of the Gauss–Seidel sweeps, in WebAssembly with f64x2 SIMD (about 4× the
 * scalar JS loop here; plain IEEE multiplies and adds, no fused ones, so results are deterministic
 * and agree with the JS loops to rounding). Exported as `axpby(n, B, y, x, z, a, c, vstep, astep, cstep)`:
 * for s < n, y[s·B + b] = a[s]·x[s·B + b] + c[s]·z[s·B + b] for b < B (B a multiple of 4), all
 * addresses in bytes; after each segment y, x, z advance by vstep and a, c by astep, cstep (signed),
 * so a recurrence runs forwards or backwards (z = the previous segment of y). Built here byte by
 * byte (no toolchain, no binary blob to trust): one type, one function, one exported memory.
 */
interface WasmKernel {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  axpby: (n: number, B: number, y: number, x: number, z: number, a: number, c: number, vstep: number, astep: number, cstep: number) => void;
}

function wasmModuleBytes(): Uint8Array {
  const leb = (v: number): number[] => {
    const o: number[] = [];
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v) b |= 0x80;
      o.push(b);
    } while (v);
    return o;
  };
  const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
  const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];
  const name = (t: string) => [...leb(t.length), ...Array.from(t, (ch) => ch.charCodeAt(0))];
  const I32 = 0x7f;
  const V128 = 0x7b;
  // params 0…9: n B y x z a c vstep astep cstep; locals 10 bb, 11 end (i32), 12 av, 13 cv (v128)
  const [n, B, y, x, z, a, c, vs, as, cs, bb, end, av, cv] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] as const;
  const get = (l: number) => [0x20, l];
  const set = (l: number) => [0x21, l];
  const simd = (op: number) => [0xfd, ...leb(op)];
  const load = (off: number) => [...simd(0x00), 4, ...leb(off)]; // v128.load align=16
  const store = (off: number) => [...simd(0x0b), 4, ...leb(off)]; // v128.store
  const F64X2_ADD = simd(240);
  const F64X2_MUL = simd(242);
  const F64X2_SPLAT = simd(20);
  const addr = (p: number) => [...get(p), ...get(bb), 0x6a]; // p + bb
  const lanes = (off: number) => [...addr(y), ...get(av), ...addr(x), ...load(off), ...F64X2_MUL, ...get(cv), ...addr(z), ...load(off), ...F64X2_MUL, ...F64X2_ADD, ...store(off)];
  const bump = (p: number, step: number) => [...get(p), ...get(step), 0x6a, ...set(p)];
  const splatAt = (p: number, l: number) => [...get(p), 0x2b, 3, 0, ...F64X2_SPLAT, ...set(l)]; // f64.load, splat
  const body = [
    ...get(B), 0x41, 3, 0x74, ...set(end), // end = B·8
    0x02, 0x40, ...get(n), 0x45, 0x0d, 0, // block; if n == 0 break
    0x03, 0x40, // loop over segments
    ...splatAt(a, av), ...splatAt(c, cv),
    0x41, 0, ...set(bb),
    0x03, 0x40, // loop over b, 4 values per turn
    ...lanes(0), ...lanes(16),
    ...get(bb), 0x41, 32, 0x6a, 0x22, bb, ...get(end), 0x49, 0x0d, 0, // bb += 32; continue while bb < end
    0x0b,
    ...bump(y, vs), ...bump(x, vs), ...bump(z, vs), ...bump(a, as), ...bump(c, cs),
    ...get(n), 0x41, 1, 0x6b, 0x22, n, 0x0d, 0, // continue while --n != 0
    0x0b, 0x0b, 0x0b,
  ];
  const locals = [2, 2, I32, 2, V128];
  const code = [...leb(locals.length + body.length), ...locals, ...body];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vec([[0x60, 10, ...new Array<number>(10).fill(I32), 0]])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0, 1]])), // memory: 1 page to start, grown on demand
    ...section(7, vec([[...name('memory'), 2, 0], [...name('axpby'), 0, 0]])),
    ...section(10, vec([code])),
  ]);
}

let kernelCache: WasmKernel | null | undefined;

function wasmKernel(): WasmKernel | null {
  if (kernelCache !== undefined) return kernelCache;
  kernelCache = null;
  type Api = { validate(b: Uint8Array): boolean; Module: new (b: Uint8Array) => object; Instance: new (m: object) => { exports: Record<string, unknown> } };
  const api = (globalThis as unknown as { WebAssembly?: Api }).WebAssembly;
  try {
    const bytes = wasmModuleBytes();
    if (api && api.validate(bytes)) {
      const ex = new api.Instance(new api.Module(bytes)).exports;
      kernelCache = { memory: ex['memory'] as WasmKernel['memory'], axpby: ex['axpby'] as WasmKernel['axpby'] };
    }
  } catch {
    kernelCache = null; // no WebAssembly SIMD here: the JS line solver does the work
  }
  return kernelCache;
}

/** Which inner loops `fcm` uses by default on this platform. */
export function fcmKernel(): 'wasm' | 'js' {
  return wasmKernel() ? 'wasm' : 'js';
}

/** Remaining sweeps the WebAssembly Gauss–Seidel may take before conjugate gradients take over. */
const SWEEPS_BEFORE_CG = 150;

/** Largest change of a current I[j·B + b] relative to the largest current of its right-hand side b. */
function relChange(N: number, nb: number, B: number, I: Float64Array, Iold: Float64Array): number {
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
 * The Gauss–Seidel iteration of `LineSolver.solveBlock` with the WebAssembly kernel, for chains
 * only (r_row, r_col > 0). One pass per sweep goes down the planes i: the word-line solve of row i
 * (forward and back substitution, in a one-plane buffer that stays in L1), then at once the
 * forward elimination of every bit line at row i; a second pass back-substitutes the bit lines.
 * The currents need only the last plane, which the forward elimination already leaves final, so a
 * converged sweep skips the back substitution. The Thomas factors are computed straight into the
 * kernel's memory, laid out [i·N + j] for both line directions. Returns null where the iteration is
 * too slow (`LineSolver` then continues with conjugate gradients) or the memory cannot grow.
 */
function solveChainsWasm(k: WasmKernel, g: ArrayLike<number>, M: number, N: number, wires: Wires, opts: FcmOptions): FcmResult | null {
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
      if (M > 1) ax((M - 1) * N, B, (W + (M - 1) * plane + (N - 1) * B) * 8, (W + (M - 1) * plane + (N - 1) * B) * 8, (W + M * plane + (N - 1) * B) * 8, ONE * 8, (cGm + (M - 2) * N + N - 1) * 8, -B8, 0, -8);
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
    return relChange(this.N, nb, B, I, Iold);
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
    const coef = new Float64Array(nb);
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
      this.precondition(nb, B, r, z);
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

/** The parasitic model of a plan crossbar (its `parasitics`, `wires` and tile size). */
export function parasiticsOf(xb: Pick<CrossbarSpec, 'parasitics' | 'wires' | 'rows' | 'cols'>): ParasiticsConfig {
  const p = xb.parasitics;
  const wires: Wires = { ...xb.wires };
  checkWires(wires);
  return { kind: p.kind, refresh: p.kind === 'fcm' ? p.refresh : 1, backward: p.kind === 'none' ? 'transposed' : p.backward, wires, rows: xb.rows, cols: xb.cols };
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
