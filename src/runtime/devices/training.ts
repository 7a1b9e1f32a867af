/**
 * Device update models in training (MODELS.md §3, TxSim semantics): after each optimizer step the
 * digital optimizer's proposed change of a crossbar layer's weights, ΔW = W_after − W_before
 * (including momentum and weight decay), is written to the layer's devices through the device's
 * update model, and the weights the next step sees are the ones read back from the devices.
 *
 * Mapping (one differential pair per weight, fixed at programming):
 *  - scale s = (G_max − G_min) / (h · max|W₀|) per layer, from the initial weights W₀ (h = headroom,
 *    1 by default): the largest initial weight spans the full device range, and the weight range
 *    ±h·max|W₀| is all the pair can ever represent — updates saturate at the device bounds. With
 *    train.weight_range = r, s = (G_max − G_min) / r for every layer (NeuroSim: weights in [−1, 1]).
 *  - programming (write-verify): G± = G_mid ± W₀·s/2 (G_mid = (G_min + G_max)/2), snapped to the
 *    nearest level of the update grid; both devices start mid-range, so each has headroom in both
 *    directions. train.program_offset = o adds o·G_min to every written device's target (clamped
 *    to the range): NeuroSim's ideal write omits G_min (o = −1).
 *  - update: ΔG = ΔW·s is split symmetrically, ΔG⁺ = +ΔG/2 and ΔG⁻ = −ΔG/2, and each half goes
 *    through `applyUpdate` (ideal, txsim, nonlinear, aihwkit pulsed models) with the step's learning
 *    rate (txsim's write noise acts on the pre-learning-rate gradient ΔG/LR: MODELS.md §3; ΔW/LR is
 *    the optimizer's direction, momentum and weight decay included), with the pair's
 *    persistent per-device state (`createDeviceState`, stream "update/<layer>/devices") and the
 *    random draws of stream "update/<layer>".
 *  - read-back: W = (G⁺ − G⁻)/s.
 *
 * Mapping `offset` (one device per weight against a reference column, NeuroSim's MLP training
 * mapping, docs/reproductions.md (b)): the same record with G⁻ the reference, fixed at G_mid and
 * never written. s = (G_max − G_min) / (2·r) (r = weight_range, or h·max|W₀|), so the one device
 * spans the same weight range ±r as a pair; programming G = G_mid + W₀·s (nearest level); the
 * whole ΔG = ΔW·s goes to the one device, which takes the full LTP/LTD asymmetry of its model;
 * read-back W = (G − G_mid)/s.
 *
 * Cost: a step touches only the pairs whose ΔW is not exactly 0 and, for the pulse models, not
 * inside the dead band that rounds to 0 pulses (such a request changes no device and draws no
 * random number, in any model — batch-1 rank-one updates leave every row of a zero input and every
 * column of an inactive unit alone), writes them through one typed-array loop per model and half
 * (all G⁺, then all G⁻: the order of the random draws), and reads back only those weights; the
 * others take the cached read-back. The numbers are those of the element-by-element definition,
 * every bit (test/runtime/update-kernels.test.ts against test/reference/device-update.ts).
 * Given a dense layer's input at a plain-SGD step, the scan visits only the rows of the weight
 * whose input is non-zero (ΔW = xᵀ·δ is exactly 0 elsewhere: scanRows), with the same result
 * (test/runtime/online.test.ts): at batch 1 on [0, 1] MNIST pixels, about a fifth of fc1's rows.
 * At batch 1 the train graph may leave a dense layer's step to the updater (its input and error
 * instead of its new weight: scanRowsRankOne), which then forms only the few pairs that leave the
 * dead band, with the graph's bits.
 *
 * Level grid: the device's `levels` when a weight is stored in one cell (weight_bits ≤ cell_bits)
 * and always for the pulse models (nonlinear, aihwkit: their pulse grid is the device's physics);
 * with ideal/txsim, a weight sliced over several cells (weight_bits > cell_bits) is updated as a
 * whole on the 2^weight_bits-level grid of the composed weight (TxSim: the slices are re-programmed
 * from the updated weight; the forward MVM requantizes the read-back weight anyway). Rounding is to
 * the nearest level, so an update smaller than half a level step per device is lost, as on hardware.
 */

import type { PlanExperiment } from '../../model/plan.js';
import { Rng } from '../rng.js';
import {
  applyUpdate,
  applyUpdateList,
  createDeviceState,
  deadBand,
  updateOf,
  type ConductanceRange,
  type DeviceState,
  type UpdateList,
  type UpdateModel,
} from './update.js';

export interface LayerDevices {
  layer: string;
  /** State name of the layer's weight tensor ("fc1/weight"). */
  param: string;
  model: UpdateModel;
  range: ConductanceRange;
  /** ΔG = ΔW · scale (siemens per weight unit). */
  scale: number;
  /** The crossbar's mapping: a differential pair per weight, or one device against a reference (G⁻ ≡ G_mid, never written). */
  mapping: 'differential' | 'offset';
  /** [G⁺ (n values), G⁻ (n values)]; owned by the updater, which caches their read-back (call readBack() after changing them). */
  g: Float64Array;
  state: DeviceState;
  rng: Rng;
  /** This layer's learning-rate factor (train.lr_scale; 1 when absent). */
  lrScale: number;
  /** Updates written. */
  updates: number;
}

/** Per-layer buffers of the update: the read-back cache and the list of changed pairs. */
interface LayerWork {
  /** W = (G⁺ − G⁻)/s of every pair, as float32 (kept current by update()). */
  read: Float32Array;
  /** The weights array update() wrote last (the trainer's state tensor since). */
  last: Float32Array | null;
  /** Pairs with ΔW ≠ 0 (outside the dead band) and their requested ΔG⁺ = ΔW·reqPerDw (capacity n). */
  list: UpdateList;
  /** ΔG⁺ requested per unit ΔW: s/2 (pair, each device half) or s (offset: the one device). */
  reqPerDw: number;
  /**
   * |ΔW| below which a pair's update is certainly lost (the model's dead band, in weight units:
   * both halves round to 0 pulses); the smallest positive double where every non-zero ΔW acts.
   */
  dead: number;
  /** Row indices of a dense layer's weight [K × N] (capacity K; empty for other layers): the active rows of a step (scanRows). */
  rows: Int32Array;
  /** Column indices of a dense layer's weight (capacity N): the candidate columns of a rank-one step (scanRowsRankOne). */
  cand: Int32Array;
}

/** Overrides of the plan's weight ↔ conductance mapping (`train.headroom`, `train.weight_range`), for library callers. */
export interface DeviceUpdaterOptions {
  /** Representable weight range as a multiple of the initial max |W|. */
  headroom?: number;
  /** |W| mapped onto a pair's full range, for every layer (train.weight_range); overrides headroom. */
  weightRange?: number;
  /** Offset of the initial write as a fraction of G_min (train.program_offset). */
  programOffset?: number;
}

/**
 * Fill work.list with the pairs whose ΔW = w1 − w0 is outside the dead band (and their requests
 * ΔG⁺ = ΔW·reqPerDw); every other pair keeps its devices, so its new weight is the cached read-back.
 * Returns the count. (A pair inside the dead band is one the model would not touch: its 0-pulse
 * update is a no-op.) The usual weight of a sparse step — old value, new value and read-back the
 * same non-zero number, so already right — is checked four at a time. When w0 is the array this
 * updater wrote last step, it holds the read-back (the trainer replaces state tensors, never
 * mutates them: Trainer.peekState), and the check skips the cache.
 */
function changedPairs(w0: Float32Array, w1: Float32Array, work: LayerWork, x?: Float32Array): number {
  const own = w0 === work.last;
  const count = own && x && work.rows.length > 0 ? scanRows(w0, w1, work, x) : own ? scanOwn(w0, w1, work) : scanForeign(w0, w1, work);
  work.list.count = count;
  work.last = w1;
  return count;
}
/**
 * changedPairs of a dense layer's weight W [K × N] (row-major) at plain SGD when w0 holds the
 * read-back: only the rows whose input is non-zero in some sample of the batch (`x`, [B × K]).
 * Row i of ΔW is Σ_b x_bi·δ_b, so a row with x_bi = 0 for every b has a gradient of ±0, and
 * w1 = w0 − fl(±0·lr) = w0 there: every pair of the row is already right (w0 is the read-back;
 * a read-back is never −0, as (G⁺ − G⁻)/s of equal conductances is +0), as the full scan would find.
 * The listed pairs and their order are the full scan's (test/runtime/online.test.ts).
 */
function scanRows(w0: Float32Array, w1: Float32Array, work: LayerWork, x: Float32Array): number {
  const n = work.read.length;
  const rows = x.length === 0 ? 0 : activeRows(x, work);
  const cols = rows === 0 ? 0 : n / work.rows.length;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const start = work.rows[r]! * cols;
    count = scanRange(w0, w1, work, start, start + cols, count);
  }
  return count;
}

/** The rows i with x_bi ≠ 0 for some sample b, ascending, into work.rows; returns their count. */
function activeRows(x: Float32Array, work: LayerWork): number {
  const k = work.rows.length;
  const batch = x.length / k;
  let count = 0;
  for (let i = 0; i < k; i++) {
    let any = false;
    for (let b = 0; b < batch && !any; b++) any = x[b * k + i] !== 0;
    if (any) work.rows[count++] = i;
  }
  return count;
}

/**
 * pairAt on weights [from, to) when w0 holds the read-back (so r = w0, bit for bit): a pair
 * inside the dead band — which includes ΔW = 0 — takes w1 ← w0, the others are listed (after
 * `count`). In an active row the columns of active and inactive units alternate at random, so
 * this loop has no data-dependent branch but the rare listing (pairAt's "already right" test
 * mispredicted about every other weight here).
 */
function scanRange(w0: Float32Array, w1: Float32Array, work: LayerWork, from: number, to: number, count: number): number {
  const { dead, reqPerDw } = work;
  const { idx, req } = work.list;
  for (let k = from; k < to; k++) {
    const b = w0[k]!;
    const dw = w1[k]! - b;
    if (dw < dead && dw > -dead) {
      w1[k] = b;
    } else {
      idx[count] = k;
      req[count] = dw * reqPerDw;
      count++;
    }
  }
  return count;
}

/** changedPairs when w0 holds the read-back (each loop alone in its function: see update.ts on warm-up). */
function scanOwn(w0: Float32Array, w1: Float32Array, work: LayerWork): number {
  const n = work.read.length;
  const n4 = n - (n & 3);
  let count = 0;
  let k = 0;
  for (; k < n4; k += 4) {
    const a0 = w1[k]!;
    const a1 = w1[k + 1]!;
    const a2 = w1[k + 2]!;
    const a3 = w1[k + 3]!;
    // (non-zero: a zero may be either sign; NaN never compares equal)
    if (a0 === w0[k]! && a1 === w0[k + 1]! && a2 === w0[k + 2]! && a3 === w0[k + 3]! && a0 * a1 * a2 * a3 !== 0) continue;
    for (let j = k; j < k + 4; j++) count = pairAt(w0, w1, j, work, count);
  }
  for (; k < n; k++) count = pairAt(w0, w1, k, work, count);
  return count;
}

/** changedPairs for any w0: the check also compares the cached read-back. */
function scanForeign(w0: Float32Array, w1: Float32Array, work: LayerWork): number {
  const read = work.read;
  const n = read.length;
  const n4 = n - (n & 3);
  let count = 0;
  let k = 0;
  for (; k < n4; k += 4) {
    const a0 = w1[k]!;
    const a1 = w1[k + 1]!;
    const a2 = w1[k + 2]!;
    const a3 = w1[k + 3]!;
    if (
      a0 === w0[k]! &&
      a1 === w0[k + 1]! &&
      a2 === w0[k + 2]! &&
      a3 === w0[k + 3]! &&
      a0 * a1 * a2 * a3 !== 0 &&
      a0 === read[k]! &&
      a1 === read[k + 1]! &&
      a2 === read[k + 2]! &&
      a3 === read[k + 3]!
    )
      continue;
    for (let j = k; j < k + 4; j++) count = pairAt(w0, w1, j, work, count);
  }
  for (; k < n; k++) count = pairAt(w0, w1, k, work, count);
  return count;
}

/**
 * scanRows for a weight the caller did not update (batch 1, `errors` given to update()): the new
 * weight of row i, column j is the train graph's plain SGD step fl(w − fl(fl(x_i·δ_j)·lr)),
 * formed here in the graph's float32 operations (each product and difference of float32 values,
 * exact in double, rounded once: the graph's bits) and only in the rows of non-zero inputs; w1
 * holds w0's values, so a pair inside the dead band is left as it is.
 *
 * Most pairs of an active row stay inside the dead band, and a cheap bound finds them without the
 * float32 steps: with u = fl(fl(x_i·δ_j)·lr), |fl(w − u) − w| ≤ 2|u| (w itself is a float32 at
 * distance |u| from w − u, so the nearest is no farther), and |u| ≤ |x_i·δ_j·lr|·(1 + 2⁻²²) + 2⁻¹⁴⁸
 * (two roundings, relative or, below the normal range, absolute). A column whose |δ_j| is below
 * the row's threshold (`rankOneThreshold`) therefore has |ΔW| < dead and is skipped; the others
 * get the exact test. Listed pairs and their order are the exact scan's. A non-finite input,
 * error or learning rate takes the exact scan of every column.
 */
function scanRowsRankOne(w0: Float32Array, work: LayerWork, x: Float32Array, delta: Float32Array, lr: number): number {
  const rows = activeRows(x, work);
  const cols = delta.length;
  const { dead, reqPerDw, cand } = work;
  const { idx, req } = work.list;
  const rate = Math.abs(lr);
  let xMax = 0;
  for (let r = 0; r < rows; r++) xMax = Math.max(xMax, Math.abs(x[work.rows[r]!]!));
  const exact = !(Number.isFinite(xMax) && Number.isFinite(rate) && finiteSum(delta));
  // The columns that can leave the dead band in some row: those of the row with the largest |x_i|.
  const tMin = exact ? 0 : rankOneThreshold(dead, xMax, rate);
  let candidates = 0;
  for (let j = 0; j < cols; j++) if (exact || !(Math.abs(delta[j]!) < tMin)) cand[candidates++] = j;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const i = work.rows[r]!;
    const xi = x[i]!;
    const t = exact ? 0 : rankOneThreshold(dead, Math.abs(xi), rate);
    const start = i * cols;
    for (let m = 0; m < candidates; m++) {
      const j = cand[m]!;
      const dj = delta[j]!;
      if (Math.abs(dj) < t) continue;
      const k = start + j;
      const b = w0[k]!;
      const dw = Math.fround(b - Math.fround(Math.fround(xi * dj) * lr)) - b;
      // (as scanRange: a NaN is listed)
      if (!(dw < dead && dw > -dead)) {
        idx[count] = k;
        req[count] = dw * reqPerDw;
        count++;
      }
    }
  }
  return count;
}

/**
 * |δ| below which 2·(|x·δ·lr|·(1 + 2⁻²²) + 2⁻¹⁴⁸) < dead (scanRowsRankOne's bound), made smaller
 * by a relative 2⁻²⁰ for the rounding of this very division; 0 (every column) when dead is that small.
 */
function rankOneThreshold(dead: number, absX: number, rate: number): number {
  const t = ((dead * 0.5 - 2 ** -148) / (absX * rate * (1 + 2 ** -22))) * (1 - 2 ** -20);
  return t > 0 ? t : 0;
}

/** Whether every value is finite (their sum is). */
function finiteSum(a: Float32Array): boolean {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return Number.isFinite(s);
}

/** The train graph's new weight fl(w − fl(fl(x_i·δ_j)·lr)) of a dense layer at batch 1, every weight (w: [K × N] row-major). */
function rankOneStep(w: Float32Array, x: Float32Array, delta: Float32Array, lr: number): Float32Array {
  const out = new Float32Array(w.length);
  const cols = delta.length;
  for (let i = 0; i < x.length; i++) {
    for (let j = 0; j < cols; j++) out[i * cols + j] = Math.fround(w[i * cols + j]! - Math.fround(Math.fround(x[i]! * delta[j]!) * lr));
  }
  return out;
}

/** Run every scan once on a few weights of every kind (before the first real, long scan). */
function warmUpScans(): void {
  const n = 12;
  const w0 = Float32Array.from({ length: n }, (_, k) => (k % 5 === 0 ? 0 : 0.1 * k));
  const work: LayerWork = {
    read: Float32Array.from(w0),
    last: null,
    list: { idx: new Int32Array(n), req: new Float64Array(n), count: 0 },
    reqPerDw: 1,
    dead: 0.05,
    rows: new Int32Array(3),
    cand: new Int32Array(4),
  };
  const x = Float32Array.of(0.5, 0, 1); // a [1 × 3] input of a [3 × 4] weight
  const g = new Float64Array(2 * n).fill(1);
  for (let rep = 0; rep < 2; rep++) {
    const w1 = Float32Array.from(w0, (v, k) => v + [0, 0, 0.01, 0.2, -0.3][k % 5]!);
    readListed(g, n, 2, work.list.idx, changedPairs(w0, w1, work), w1, work.read);
    const w2 = Float32Array.from(w1);
    readListed(g, n, 2, work.list.idx, changedPairs(w1, w2, work), w2, work.read);
    const w3 = Float32Array.from(w2, (v, k) => (k >= 4 && k < 8 ? v : v + 0.2));
    readListed(g, n, 2, work.list.idx, changedPairs(w2, w3, work, x), w3, work.read);
    const count = scanRowsRankOne(w3, work, x, Float32Array.of(1, -2, 0, 30), 0.01);
    readListed(g, n, 2, work.list.idx, count, w3, work.read);
  }
}

let warm = false;

/** readListed; whether every value read back is finite. */
function readListedFinite(g: Float64Array, n: number, scale: number, idx: Int32Array, count: number, w1: Float32Array, read: Float32Array): boolean {
  readListed(g, n, scale, idx, count, w1, read);
  let sum = 0;
  for (let j = 0; j < count; j++) sum += w1[idx[j]!]!;
  return Number.isFinite(sum);
}

/** The learning rate of a layer as the train graph forms it: the fed float32 lr, times a lr_scale factor in float32. */
function graphLr(lr: number, lrScale: number): number {
  const fed = Math.fround(lr);
  return lrScale === 1 ? fed : Math.fround(fed * Math.fround(lrScale));
}

/** Read back the listed pairs (the ones that may have changed) into w1 and the cache. */
function readListed(g: Float64Array, n: number, scale: number, idx: Int32Array, count: number, w1: Float32Array, read: Float32Array): void {
  for (let j = 0; j < count; j++) {
    const k = idx[j]!;
    const w = (g[k]! - g[n + k]!) / scale;
    w1[k] = w;
    read[k] = w;
  }
}

/** One weight of changedPairs: already right, inside the dead band (w1 ← read-back), or listed. */
function pairAt(w0: Float32Array, w1: Float32Array, k: number, work: LayerWork, count: number): number {
  const a = w1[k]!;
  const b = w0[k]!;
  const r = work.read[k]!;
  if (a === b && a !== 0 && a === r) return count;
  const dw = a - b;
  if (dw < work.dead && dw > -work.dead) {
    w1[k] = r;
    return count;
  }
  work.list.idx[count] = k;
  work.list.req[count] = dw * work.reqPerDw;
  return count + 1;
}

/** Describe an update model for results.json ("txsim(v=0.01, gamma=5)"). */
export function describeModel(m: UpdateModel): string {
  const args = Object.entries(m)
    .filter(([k]) => k !== 'kind')
    .map(([k, v]) => `${k}=${v}`);
  return `${m.kind}${args.length ? `(${args.join(', ')})` : ''}`;
}

export class DeviceUpdater {
  readonly layers: LayerDevices[] = [];
  /** Wall time spent in update() (ms). */
  ms = 0;
  private readonly work: LayerWork[] = [];

  private constructor() {}

  /**
   * The updater of an experiment's crossbar layers, or null when no device update applies
   * (fidelity ideal, no `update` in train.nonideal, or no crossbar layers).
   * `weights` are the initial weights by state name; `params` maps layer → weight state name.
   */
  static create(
    exp: PlanExperiment,
    weights: Record<string, Float32Array>,
    params: Map<string, string>,
    opts: DeviceUpdaterOptions = {},
  ): DeviceUpdater | null {
    if (exp.fidelity === 'ideal' || !exp.train || !exp.train.nonideal.includes('update')) return null;
    if (!warm) {
      warm = true;
      warmUpScans();
    }
    const u = new DeviceUpdater();
    const headroom = opts.headroom ?? exp.train.headroom;
    const weightRange = opts.weightRange ?? exp.train.weightRange;
    for (const layer of exp.network.layers) {
      if (layer.mapping?.target !== 'crossbar') continue;
      const pc = exp.crossbars[layer.mapping.crossbar ?? ''];
      const param = params.get(layer.name);
      if (!pc || !param || !weights[param]) continue;
      const { model, range: devRange } = updateOf(pc.device);
      const wb = pc.weightBits;
      const cb = pc.cellBits;
      // ideal/txsim on a sliced weight: the composed weight's grid; pulse models: the device's own pulse grid.
      const composed = wb > cb && (model.kind === 'ideal' || model.kind === 'txsim');
      const range: ConductanceRange = { ...devRange, levels: composed ? 2 ** wb : devRange.levels };
      const w0 = weights[param]!;
      const n = w0.length;
      let maxAbs = 0;
      for (let k = 0; k < n; k++) maxAbs = Math.max(maxAbs, Math.abs(w0[k]!));
      const mapping = pc.mapping;
      // A pair spans ±r with each device ±range/2; one device against G_mid spans ±r alone.
      const span = (mapping === 'offset' ? 2 : 1) * (weightRange ?? headroom * (maxAbs > 0 ? maxAbs : 1));
      const scale = (range.gMax - range.gMin) / span;
      const reqPerDw = mapping === 'offset' ? scale : scale / 2;
      const g = new Float64Array(2 * n);
      const mid = (range.gMin + range.gMax) / 2;
      // Write-verify programming: nearest level of the grid (the ideal model from mid-range); the reference (offset) stays at G_mid.
      const dG = new Float64Array(2 * n);
      g.fill(mid);
      // train.program_offset: an offset of the initial write (NeuroSim's missing + G_min: −1·G_min).
      const shift = (opts.programOffset ?? exp.train.programOffset) * range.gMin;
      for (let k = 0; k < n; k++) {
        dG[k] = w0[k]! * reqPerDw + shift;
        dG[n + k] = mapping === 'offset' ? 0 : -w0[k]! * reqPerDw + shift;
      }
      const rng = new Rng(exp.seed, `update/${layer.name}`);
      applyUpdate(g, dG, { kind: 'ideal' }, range, rng);
      const state = createDeviceState(model, range, 2 * n, new Rng(exp.seed, `update/${layer.name}/devices`));
      u.layers.push({ layer: layer.name, param, model, range, scale, mapping, g, state, rng, lrScale: exp.train.lrScale?.[layer.name] ?? 1, updates: 0 });
      const read = new Float32Array(n);
      // |ΔW| < dead ⇒ |ΔG±| = |ΔW|·reqPerDw < deadBand: every written device is a no-op.
      const dead = Math.max(Number.MIN_VALUE, deadBand(model, range) / reqPerDw);
      // A dense weight [K × N]: its rows, for the steps that skip the rows of zero inputs.
      const rows = new Int32Array(layer.op.kind === 'dense' ? layer.inputShape.reduce((a, b) => a * b, 1) : 0);
      const cand = new Int32Array(rows.length > 0 ? n / rows.length : 0);
      u.work.push({ read, last: null, list: { idx: new Int32Array(n), req: new Float64Array(n), count: 0 }, reqPerDw, dead, rows, cand });
    }
    u.readBack();
    return u.layers.length > 0 ? u : null;
  }

  /** Weights read back from the devices, by state name (W = (G⁺ − G⁻)/s); also refreshes the read-back cache from the conductances. */
  readBack(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const [i, d] of this.layers.entries()) {
      const n = d.g.length / 2;
      const work = this.work[i]!;
      const read = work.read;
      for (let k = 0; k < n; k++) read[k] = (d.g[k]! - d.g[n + k]!) / d.scale;
      work.last = null;
      out[d.param] = Float32Array.from(read);
    }
    return out;
  }

  /**
   * Write one step's proposed changes: `before` are the weights the step was fed (the read-back of
   * the previous update), `after` the optimizer's new weights, overwritten in place with the
   * read-back of the devices. `lr` is the learning rate of the step (ΔW = −LR·direction; each
   * layer's own is lr × its train.lr_scale factor). `inputs` (by layer name, [batch × K]) are the
   * inputs of dense layers at a step of plain SGD (no momentum, no weight decay) — the caller's
   * promise that a zero input row left its row of ΔW at 0 — so that only the other rows are
   * scanned; the result is the same.
   *
   * `errors` (by layer, [1 × N]): the dense layers whose step the train graph left to the updater
   * at batch 1 (Trainer `externalUpdates`). Their `after` weights hold `before`'s values; the new
   * weights of plain SGD at the fed learning rate `lr` (lr_scale as the graph applies it) are formed
   * here from the layer's input and error (scanRowsRankOne), with the numbers of the graph's
   * update. Returns the weights whose new values this call wrote and checked finite, and that were
   * its own read-back before (so finite), for the trainer's divergence check to skip.
   */
  update(
    before: ReadonlyMap<string, Float32Array>,
    after: Map<string, Float32Array>,
    lr: number,
    inputs?: ReadonlyMap<string, Float32Array>,
    errors?: ReadonlyMap<string, Float32Array>,
  ): Set<string> {
    const t0 = performance.now();
    const checked = new Set<string>();
    for (let i = 0; i < this.layers.length; i++) {
      const d = this.layers[i]!;
      const work = this.work[i]!;
      const w0 = before.get(d.param)!;
      const w1 = after.get(d.param)!;
      const read = work.read;
      const n = read.length;
      if (w0.length !== n || w1.length !== n) throw new RangeError(`DeviceUpdater: ${d.param} has ${n} weights, the step ${w0.length} → ${w1.length}`);
      const x = inputs?.get(d.layer);
      if (x && work.rows.length > 0 && x.length % work.rows.length !== 0)
        throw new RangeError(`DeviceUpdater: the input of ${d.layer} has ${x.length} values, not a batch of ${work.rows.length}`);
      const delta = errors?.get(d.layer);
      const own = w0 === work.last;
      let count: number;
      let target = w1;
      if (delta && x && x.length === work.rows.length && delta.length === work.cand.length && own) {
        count = scanRowsRankOne(w0, work, x, delta, graphLr(lr, d.lrScale));
        work.list.count = count;
        work.last = w1;
      } else {
        // The graph's new weights, in full, where the shortcut does not hold (the first step, on a weight set from outside).
        if (delta) {
          if (!x || x.length !== work.rows.length || delta.length * work.rows.length !== n)
            throw new RangeError(
              `DeviceUpdater: ${d.layer} has no batch-1 input and error of a [${work.rows.length} × ${n / Math.max(1, work.rows.length)}] weight`,
            );
          target = rankOneStep(w0, x, delta, graphLr(lr, d.lrScale));
        }
        count = changedPairs(w0, target, work, x);
      }
      const layerLr = lr * d.lrScale;
      // ΔG⁺ = +ΔW·s/2 on every G⁺, then ΔG⁻ = −ΔW·s/2 on every G⁻ (the order of the random draws);
      // offset: ΔG = ΔW·s on the one device, the reference untouched.
      applyUpdateList(d.g, d.g, 0, work.list, 1, d.model, d.range, d.rng, d.state, 'nearest', layerLr);
      if (d.mapping === 'differential') applyUpdateList(d.g, d.g, n, work.list, -1, d.model, d.range, d.rng, d.state, 'nearest', layerLr);
      if (readListedFinite(d.g, n, d.scale, work.list.idx, count, target, read) && delta && own) checked.add(d.param);
      if (target !== w1) {
        w1.set(target);
        work.last = w1;
      }
      d.updates++;
    }
    this.ms += performance.now() - t0;
    return checked;
  }

  /** Per-layer description for results.json. */
  describe(): Record<string, { update: string; scale: number; levels: number; saturated: number; updates: number; updateMsPerStep: number }> {
    const out: Record<string, { update: string; scale: number; levels: number; saturated: number; updates: number; updateMsPerStep: number }> = {};
    for (const d of this.layers) {
      let sat = 0;
      const n = d.g.length / 2;
      for (let k = 0; k < n; k++) {
        const p = d.g[k]!;
        const m = d.g[n + k]!;
        if (
          d.mapping === 'offset' ? p >= d.range.gMax || p <= d.range.gMin : (p >= d.range.gMax && m <= d.range.gMin) || (p <= d.range.gMin && m >= d.range.gMax)
        )
          sat++;
      }
      const on = d.mapping === 'offset' ? 'one device per weight against a reference at G_mid' : 'differential pairs';
      out[d.layer] = {
        update: `device: ${describeModel(d.model)} on ${on}, ${d.range.levels ?? 0} levels in [${d.range.gMin.toExponential(3)}, ${d.range.gMax.toExponential(3)}] S, scale ${d.scale.toExponential(3)} S per weight unit`,
        scale: d.scale,
        levels: d.range.levels ?? 0,
        saturated: sat / n,
        updates: d.updates,
        updateMsPerStep: d.updates > 0 ? this.ms / d.updates : 0,
      };
    }
    return out;
  }
}
