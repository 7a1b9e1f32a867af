/**
 * Training pairs for the learned parasitics surrogate (GENIEx; docs/parasitics.md, "Learned
 * surrogate"): tiles of conductances G and input vectors V as a real layer puts them on a
 * crossbar, and the factor f = I_ideal / I_solver of every column that a circuit solver gives.
 *
 * THE SEAM. The ground truth is a `TileSolver`: (G, V, circuit) → column currents. Two solvers:
 * `linearTileSolver` (the linear resistive network of fcm.ts: I = V·G_ni) and
 * `nonlinearTileSolver(iv)` (the same wires with cells I = G·h(V), one Newton solve of
 * nonlinear.ts per input vector — GENIEx's ground truth, HSPICE with sinh cells). Pass one as
 * `solver` to `generateSurrogateData`; everything downstream (training, the saved file's `solver`
 * field, the RMSE report) follows.
 *
 * Where V and G come from (`source: 'mnist-mlp'`, the one source so far): the first dense layer of
 * an MLP on the embedded MNIST digits, as the crossbar mapping cuts it (docs/crossbar.md):
 *   - G: per tile t, a freshly He-initialised weight matrix W [784, cols] (stream
 *     `surrogate/weights/<t>`), quantized like the graphs quantize (s_W = max|W|/q_max, round half
 *     to even, differential planes) and bit-sliced; one (plane, slice, row window) of it is the
 *     tile: G = G_off + ℓ·ΔG, ΔG = (G_on − G_off)/(2^cell_bits − 1). The higher slices of
 *     normal weights are mostly zero, so the tiles are as sparse as bit slicing makes them. Rows
 *     past pixel 784 are padding at G_off (undriven, 0 V), like an edge tile.
 *   - V: per vector, a random digit (stream `surrogate/inputs/<t>`), pixels quantized unsigned to
 *     input_bits (q = round(p/255·(2^input_bits − 1))), one random DAC stream k of it:
 *     V_i = digit_k(q_i)·V_read/(2^dac_bits − 1), for the tile's row window of pixels. Vectors
 *     that drive no row (all digits 0: I_ideal = 0, f undefined) are redrawn; a row window that
 *     stays dark for 64 draws in a row is replaced by another (the tile's vectors start over).
 * Every draw comes from a named stream of (seed, name), so the data is reproducible bit for bit
 * and tile t does not depend on how many tiles are generated: held-out tiles are simply other
 * tile indices (`firstTile`).
 *
 * Features (normalized, what the MLP sees, row-major): x = [V_i / V_read for i < rows] ++
 * [(G_ij − G_off)/(G_on − G_off) for i < rows, j < cols] — M + M·N values in [0, 1] for the
 * nominal levels. Targets: f_j = I_ideal,j / I_solver,j with I_ideal = Σ_i V_i·G_ij.
 */

import { Rng } from '../rng.js';
import type { Wires } from './circuit.js';
import { fcm, type FcmOptions } from './fcm.js';
import { checkIv, isLinear, type IvModel } from './iv.js';
import { nonlinearCurrents, type NonlinearOptions } from './nonlinear.js';

/** The circuit a tile solver simulates: size and wires (device models live in the solver). */
export interface TileCircuit {
  rows: number;
  cols: number;
  wires: Wires;
}

/**
 * Ground truth of the surrogate: the column currents (A) of a tile with conductances `g`
 * (rows × cols, S, row-major) for a batch of drive vectors `v` (B × rows, V, row-major); returns
 * B × cols currents. Any device physics (linear, sinh, table I-V) lives behind this function.
 */
export type TileSolver = (g: Float64Array, v: Float64Array, circuit: TileCircuit) => Float64Array;

/** Name and solver together, so a saved surrogate records what it was trained against. */
export interface NamedTileSolver {
  name: string;
  solve: TileSolver;
  /** The cells' I-V curve the solver simulates (absent or linear: ohmic cells). */
  iv?: IvModel;
}

/** The linear resistive network (fcm.ts): one solve of G_ni per call, then I = V·G_ni per vector. */
export function linearTileSolver(opts: FcmOptions = {}): NamedTileSolver {
  return {
    name: 'linear-fcm',
    solve: (g, v, c) => {
      const gni = fcm(g, c.rows, c.cols, c.wires, opts).gni;
      return matVec(v, gni, c.rows, c.cols);
    },
  };
}

/** The name a saved surrogate records for a curve: `linear-fcm`, `nonlinear-sinh(v0=0.25)`, `nonlinear-cubic(k=-0.25)`, `nonlinear-table(n points)`. */
export function solverName(iv: IvModel): string {
  if (isLinear(iv)) return 'linear-fcm';
  if (iv.kind === 'sinh') return `nonlinear-sinh(v0=${iv.v0})`;
  if (iv.kind === 'cubic') return `nonlinear-cubic(k=${iv.k})`;
  if (iv.kind === 'table') return `nonlinear-table(${iv.v.length} points)`;
  return 'linear-fcm';
}

/**
 * The tile circuit with nonlinear cells I = G·h(V) (iv.ts): per input vector one Newton solve of
 * nonlinear.ts (tolerance 1e-7 on every column current, as FCM). A linear curve gives the linear
 * solver (the same currents, one FCM solve per tile).
 */
export function nonlinearTileSolver(iv: IvModel, opts: NonlinearOptions & FcmOptions = {}): NamedTileSolver {
  checkIv(iv);
  if (isLinear(iv)) return linearTileSolver(opts);
  return {
    name: solverName(iv),
    iv,
    solve: (g, v, c) => nonlinearCurrents(g, c.rows, c.cols, c.wires, iv, v, false, opts).currents,
  };
}

/** I[b, j] = Σ_i v[b, i]·g[i, j]. */
export function matVec(v: Float64Array, g: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const batch = v.length / rows;
  const out = new Float64Array(batch * cols);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < rows; i++) {
      const x = v[b * rows + i]!;
      if (x === 0) continue;
      for (let j = 0; j < cols; j++) out[b * cols + j]! += x * g[i * cols + j]!;
    }
  }
  return out;
}

/** What the data is drawn from and how it is encoded (the crossbar's mapping settings). */
export interface SurrogateDataConfig {
  rows: number;
  cols: number;
  wires: Wires;
  /** Device range (S): G_on = 1/r_on, G_off = G_on/on_off. */
  gOn: number;
  gOff: number;
  /** Read voltage (V) of a full-scale DAC digit. */
  vRead: number;
  weightBits: number;
  cellBits: number;
  inputBits: number;
  dacBits: number;
  seed: number;
  /** Input vectors per tile. */
  vectorsPerTile: number;
}

export interface SurrogateData {
  /** Tiles generated; sample s belongs to tile firstTile + ⌊s / vectorsPerTile⌋. */
  tiles: number;
  firstTile: number;
  samples: number;
  /** samples × (rows + rows·cols) normalized features (float32, what the MLP is fed). */
  x: Float32Array;
  /** samples × cols targets f = I_ideal / I_solver. */
  f: Float64Array;
  /** samples × cols ideal currents (A), for current-domain errors. */
  iIdeal: Float64Array;
  /** The tiles' conductances (tiles × rows × cols, S) and drives (samples × rows, V), for baselines. */
  g: Float64Array;
  v: Float64Array;
}

/** MNIST pixels of a real first layer, one byte each (784 per digit). */
export interface PixelSource {
  pixels: Uint8Array;
  count: number;
}

const PIXELS = 784;

export const featureCount = (rows: number, cols: number): number => rows + rows * cols;

/** Generate tiles [firstTile, firstTile + tiles) and their vectors, solved by `solver`. */
export function generateSurrogateData(cfg: SurrogateDataConfig, digits: PixelSource, solver: TileSolver, firstTile: number, tiles: number): SurrogateData {
  checkConfig(cfg);
  const { rows: M, cols: N, vectorsPerTile: P } = cfg;
  const F = featureCount(M, N);
  const samples = tiles * P;
  const data: SurrogateData = {
    tiles,
    firstTile,
    samples,
    x: new Float32Array(samples * F),
    f: new Float64Array(samples * N),
    iIdeal: new Float64Array(samples * N),
    g: new Float64Array(tiles * M * N),
    v: new Float64Array(samples * M),
  };
  const circuit: TileCircuit = { rows: M, cols: N, wires: cfg.wires };
  for (let t = 0; t < tiles; t++) {
    const tile = drawTile(cfg, digits, firstTile + t);
    data.g.set(tile.g, t * M * N);
    data.v.set(tile.v, t * P * M);
    const iSolver = solver(tile.g, tile.v, circuit);
    const iIdeal = matVec(tile.v, tile.g, M, N);
    for (let p = 0; p < P; p++) {
      const s = t * P + p;
      writeFeatures(data.x, s * F, tile.v.subarray(p * M, (p + 1) * M), tile.g, cfg);
      for (let j = 0; j < N; j++) {
        const ideal = iIdeal[p * N + j]!;
        const real = iSolver[p * N + j]!;
        if (!(real > 0 && Number.isFinite(real)))
          throw new RangeError(`tile ${firstTile + t}, vector ${p}: the solver returned column current ${real} A for column ${j}`);
        data.f[s * N + j] = ideal / real;
        data.iIdeal[s * N + j] = ideal;
      }
    }
  }
  return data;
}

/** Normalized features of one (V, G) pair into out[at …]: V/V_read, then (G − G_off)/(G_on − G_off). */
export function writeFeatures(
  out: Float32Array,
  at: number,
  v: ArrayLike<number>,
  g: ArrayLike<number>,
  n: Pick<SurrogateDataConfig, 'rows' | 'cols' | 'vRead' | 'gOn' | 'gOff'>,
): void {
  const { rows: M, cols: N } = n;
  for (let i = 0; i < M; i++) out[at + i] = v[i]! / n.vRead;
  const span = n.gOn - n.gOff;
  for (let k = 0; k < M * N; k++) out[at + M + k] = (g[k]! - n.gOff) / span;
}

function checkConfig(c: SurrogateDataConfig): void {
  const ints: [string, number, number][] = [
    ['rows', c.rows, 1],
    ['cols', c.cols, 1],
    ['weight_bits', c.weightBits, 1],
    ['cell_bits', c.cellBits, 1],
    ['input_bits', c.inputBits, 1],
    ['dac_bits', c.dacBits, 1],
    ['vectors per tile', c.vectorsPerTile, 1],
  ];
  for (const [name, v, min] of ints) if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
  if (c.inputBits > 16 || c.weightBits > 16) throw new RangeError(`input_bits and weight_bits must be ≤ 16, got ${c.inputBits} and ${c.weightBits}`);
  if (!(c.gOn > c.gOff && c.gOff > 0 && Number.isFinite(c.gOn)))
    throw new RangeError(`the device range needs G_on > G_off > 0 S, got G_on = ${c.gOn}, G_off = ${c.gOff}`);
  if (!(c.vRead > 0 && Number.isFinite(c.vRead))) throw new RangeError(`v_read must be a voltage > 0 V, got ${c.vRead}`);
}

/** ONNX Round: half to even (as the graphs quantize). */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** One tile's conductances and its vectors (see the file header for the draws). */
function drawTile(cfg: SurrogateDataConfig, digits: PixelSource, t: number): { g: Float64Array; v: Float64Array } {
  const { rows: M, cols: N, vectorsPerTile: P } = cfg;
  const wr = new Rng(cfg.seed, `surrogate/weights/${t}`);
  const vr = new Rng(cfg.seed, `surrogate/inputs/${t}`);
  const W = wr.fillNormal(new Float32Array(PIXELS * N), 0, Math.sqrt(2 / PIXELS));
  const qmax = 2 ** cfg.weightBits - 1;
  let m = 0;
  for (let i = 0; i < W.length; i++) m = Math.max(m, Math.abs(W[i]!));
  const sW = Math.fround(m / qmax);
  const S = Math.ceil(cfg.weightBits / cfg.cellBits);
  const plane = wr.int(2);
  const slice = wr.int(S);
  const windows = Math.ceil(PIXELS / M);
  const mask = 2 ** cfg.cellBits - 1;
  const dG = (cfg.gOn - cfg.gOff) / mask;
  const streams = Math.ceil(cfg.inputBits / cfg.dacBits);
  const dMax = 2 ** cfg.dacBits - 1;
  const iMax = 2 ** cfg.inputBits - 1;
  const v = new Float64Array(P * M);
  let r0 = wr.int(windows) * M;
  // A vector that drives no row is redrawn; a window dark for 64 draws in a row is replaced and
  // the tile's vectors start over, so every vector of a tile sees the tile's own window.
  for (let p = 0, dark = 0; p < P;) {
    const img = vr.int(digits.count) * PIXELS;
    const k = vr.int(streams);
    let lit = false;
    for (let i = 0; i < M; i++) {
      const px = r0 + i < PIXELS ? digits.pixels[img + r0 + i]! : 0;
      const q = Math.round((px / 255) * iMax);
      const d = Math.floor(q / 2 ** (cfg.dacBits * k)) % (dMax + 1);
      v[p * M + i] = (d * cfg.vRead) / dMax;
      if (d > 0) lit = true;
    }
    if (lit) {
      p++;
      dark = 0;
    } else if (++dark === 64) {
      r0 = vr.int(windows) * M;
      p = 0;
      dark = 0;
    }
  }
  const g = new Float64Array(M * N).fill(cfg.gOff);
  for (let i = 0; i < M && r0 + i < PIXELS; i++) {
    for (let j = 0; j < N; j++) {
      const w = W[(r0 + i) * N + j]!;
      const q = Math.min(qmax, Math.max(-qmax, roundEven(Math.fround(w / sW))));
      const u = plane === 0 ? Math.max(q, 0) : Math.max(-q, 0);
      const level = Math.floor(u / 2 ** (cfg.cellBits * slice)) & mask;
      g[i * N + j] = cfg.gOff + level * dG;
    }
  }
  return { g, v };
}
