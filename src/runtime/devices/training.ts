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
 *    directions.
 *  - update: ΔG = ΔW·s is split symmetrically, ΔG⁺ = +ΔG/2 and ΔG⁻ = −ΔG/2, and each half goes
 *    through `applyUpdate` (ideal, txsim, nonlinear, aihwkit pulsed models) with the step's learning
 *    rate (txsim's write noise acts on the pre-learning-rate gradient ΔG/LR: MODELS.md §3; ΔW/LR is
 *    the optimizer's direction, momentum and weight decay included), with the pair's
 *    persistent per-device state (`createDeviceState`, stream "update/<layer>/devices") and the
 *    random draws of stream "update/<layer>".
 *  - read-back: W = (G⁺ − G⁻)/s.
 *
 * Cost: a step touches only the pairs whose ΔW is not exactly 0 and, for the pulse models, not
 * inside the dead band that rounds to 0 pulses (such a request changes no device and draws no
 * random number, in any model — batch-1 rank-one updates leave every row of a zero input and every
 * column of an inactive unit alone), writes them through one typed-array loop per model and half
 * (all G⁺, then all G⁻: the order of the random draws), and reads back only those weights; the
 * others take the cached read-back. The numbers are those of the element-by-element definition,
 * every bit (test/runtime/update-kernels.test.ts against test/reference/device-update.ts).
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
  /** [G⁺ (n values), G⁻ (n values)]; owned by the updater, which caches their read-back (call readBack() after changing them). */
  g: Float64Array;
  state: DeviceState;
  rng: Rng;
  /** Updates written. */
  updates: number;
}

/** Per-layer buffers of the update: the read-back cache and the list of changed pairs. */
interface LayerWork {
  /** W = (G⁺ − G⁻)/s of every pair, as float32 (kept current by update()). */
  read: Float32Array;
  /** The weights array update() wrote last (the trainer's state tensor since). */
  last: Float32Array | null;
  /** Pairs with ΔW ≠ 0 (outside the dead band) and their requested ΔG⁺ = ΔW·s/2 (capacity n). */
  list: UpdateList;
  /**
   * |ΔW| below which a pair's update is certainly lost (the model's dead band, in weight units:
   * both halves round to 0 pulses); the smallest positive double where every non-zero ΔW acts.
   */
  dead: number;
}

/** Overrides of the plan's weight ↔ conductance mapping (`train.headroom`, `train.weight_range`), for library callers. */
export interface DeviceUpdaterOptions {
  /** Representable weight range as a multiple of the initial max |W|. */
  headroom?: number;
  /** |W| mapped onto a pair's full range, for every layer (train.weight_range); overrides headroom. */
  weightRange?: number;
}

/**
 * Fill work.list with the pairs whose ΔW = w1 − w0 is outside the dead band (and their requests
 * ΔG⁺ = ΔW·s/2); every other pair keeps its devices, so its new weight is the cached read-back.
 * Returns the count. (A pair inside the dead band is one the model would not touch: its 0-pulse
 * update is a no-op.) The usual weight of a sparse step — old value, new value and read-back the
 * same non-zero number, so already right — is checked four at a time. When w0 is the array this
 * updater wrote last step, it holds the read-back (the trainer replaces state tensors, never
 * mutates them: Trainer.peekState), and the check skips the cache.
 */
function changedPairs(w0: Float32Array, w1: Float32Array, work: LayerWork, scale: number): number {
  const count = w0 === work.last ? scanOwn(w0, w1, work, scale) : scanForeign(w0, w1, work, scale);
  work.list.count = count;
  work.last = w1;
  return count;
}

/** changedPairs when w0 holds the read-back (each loop alone in its function: see update.ts on warm-up). */
function scanOwn(w0: Float32Array, w1: Float32Array, work: LayerWork, scale: number): number {
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
    for (let j = k; j < k + 4; j++) count = pairAt(w0, w1, j, work, scale, count);
  }
  for (; k < n; k++) count = pairAt(w0, w1, k, work, scale, count);
  return count;
}

/** changedPairs for any w0: the check also compares the cached read-back. */
function scanForeign(w0: Float32Array, w1: Float32Array, work: LayerWork, scale: number): number {
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
    for (let j = k; j < k + 4; j++) count = pairAt(w0, w1, j, work, scale, count);
  }
  for (; k < n; k++) count = pairAt(w0, w1, k, work, scale, count);
  return count;
}

/** Run both scans once on a few weights of every kind (before the first real, long scan). */
function warmUpScans(): void {
  const n = 11;
  const w0 = Float32Array.from({ length: n }, (_, k) => (k % 5 === 0 ? 0 : 0.1 * k));
  const work: LayerWork = { read: Float32Array.from(w0), last: null, list: { idx: new Int32Array(n), req: new Float64Array(n), count: 0 }, dead: 0.05 };
  const g = new Float64Array(2 * n).fill(1);
  for (let rep = 0; rep < 2; rep++) {
    const w1 = Float32Array.from(w0, (v, k) => v + [0, 0, 0.01, 0.2, -0.3][k % 5]!);
    readListed(g, n, 2, work.list.idx, changedPairs(w0, w1, work, 2), w1, work.read);
    const w2 = Float32Array.from(w1);
    readListed(g, n, 2, work.list.idx, changedPairs(w1, w2, work, 2), w2, work.read);
  }
}

let warm = false;

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
function pairAt(w0: Float32Array, w1: Float32Array, k: number, work: LayerWork, scale: number, count: number): number {
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
  work.list.req[count] = (dw * scale) / 2;
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
      const scale = (range.gMax - range.gMin) / (weightRange ?? headroom * (maxAbs > 0 ? maxAbs : 1));
      const g = new Float64Array(2 * n);
      const mid = (range.gMin + range.gMax) / 2;
      // Write-verify programming: nearest level of the grid (the ideal model from mid-range).
      const dG = new Float64Array(2 * n);
      g.fill(mid);
      for (let k = 0; k < n; k++) {
        dG[k] = (w0[k]! * scale) / 2;
        dG[n + k] = -(w0[k]! * scale) / 2;
      }
      const rng = new Rng(exp.seed, `update/${layer.name}`);
      applyUpdate(g, dG, { kind: 'ideal' }, range, rng);
      const state = createDeviceState(model, range, 2 * n, new Rng(exp.seed, `update/${layer.name}/devices`));
      u.layers.push({ layer: layer.name, param, model, range, scale, g, state, rng, updates: 0 });
      const read = new Float32Array(n);
      // |ΔW| < dead ⇒ |ΔG±| = |ΔW|·s/2 < deadBand: both halves are no-ops.
      const dead = Math.max(Number.MIN_VALUE, (2 * deadBand(model, range)) / scale);
      u.work.push({ read, last: null, list: { idx: new Int32Array(n), req: new Float64Array(n), count: 0 }, dead });
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
   * read-back of the devices. `lr` is the learning rate of the step (ΔW = −LR·direction).
   */
  update(before: ReadonlyMap<string, Float32Array>, after: Map<string, Float32Array>, lr: number): void {
    const t0 = performance.now();
    for (let i = 0; i < this.layers.length; i++) {
      const d = this.layers[i]!;
      const work = this.work[i]!;
      const w0 = before.get(d.param)!;
      const w1 = after.get(d.param)!;
      const read = work.read;
      const n = read.length;
      if (w0.length !== n || w1.length !== n) throw new RangeError(`DeviceUpdater: ${d.param} has ${n} weights, the step ${w0.length} → ${w1.length}`);
      const count = changedPairs(w0, w1, work, d.scale);
      // ΔG⁺ = +ΔW·s/2 on every G⁺, then ΔG⁻ = −ΔW·s/2 on every G⁻ (the order of the random draws).
      applyUpdateList(d.g, d.g, 0, work.list, 1, d.model, d.range, d.rng, d.state, 'nearest', lr);
      applyUpdateList(d.g, d.g, n, work.list, -1, d.model, d.range, d.rng, d.state, 'nearest', lr);
      readListed(d.g, n, d.scale, work.list.idx, count, w1, read);
      d.updates++;
    }
    this.ms += performance.now() - t0;
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
        if ((p >= d.range.gMax && m <= d.range.gMin) || (p <= d.range.gMin && m >= d.range.gMax)) sat++;
      }
      out[d.layer] = {
        update: `device: ${describeModel(d.model)} on differential pairs, ${d.range.levels ?? 0} levels in [${d.range.gMin.toExponential(3)}, ${d.range.gMax.toExponential(3)}] S, scale ${d.scale.toExponential(3)} S per weight unit`,
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
