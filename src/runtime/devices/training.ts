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
 *    through `applyUpdate` (ideal, txsim, nonlinear, aihwkit pulsed models), with the pair's
 *    persistent per-device state (`createDeviceState`, stream "update/<layer>/devices") and the
 *    random draws of stream "update/<layer>".
 *  - read-back: W = (G⁺ − G⁻)/s.
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
import { applyUpdate, createDeviceState, updateOf, type ConductanceRange, type DeviceState, type UpdateModel } from './update.js';

export interface LayerDevices {
  layer: string;
  /** State name of the layer's weight tensor ("fc1/weight"). */
  param: string;
  model: UpdateModel;
  range: ConductanceRange;
  /** ΔG = ΔW · scale (siemens per weight unit). */
  scale: number;
  /** [G⁺ (n values), G⁻ (n values)]. */
  g: Float64Array;
  state: DeviceState;
  rng: Rng;
  /** Requested ΔG buffer (2n). */
  dG: Float64Array;
  /** Updates written and weights (pairs) pinned at a device bound after the last update. */
  updates: number;
}

/** Overrides of the plan's weight ↔ conductance mapping (`train.headroom`, `train.weight_range`), for library callers. */
export interface DeviceUpdaterOptions {
  /** Representable weight range as a multiple of the initial max |W|. */
  headroom?: number;
  /** |W| mapped onto a pair's full range, for every layer (train.weight_range); overrides headroom. */
  weightRange?: number;
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
      u.layers.push({ layer: layer.name, param, model, range, scale, g, state, rng, dG, updates: 0 });
    }
    return u.layers.length > 0 ? u : null;
  }

  /** Weights read back from the devices, by state name (W = (G⁺ − G⁻)/s). */
  readBack(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const d of this.layers) {
      const n = d.g.length / 2;
      const w = new Float32Array(n);
      for (let k = 0; k < n; k++) w[k] = (d.g[k]! - d.g[n + k]!) / d.scale;
      out[d.param] = w;
    }
    return out;
  }

  /**
   * Write one step's proposed changes: `before` are the weights the step was fed (the read-back of
   * the previous update), `after` the optimizer's new weights, overwritten in place with the
   * read-back of the devices.
   */
  update(before: ReadonlyMap<string, Float32Array>, after: Map<string, Float32Array>): void {
    const t0 = performance.now();
    for (const d of this.layers) {
      const w0 = before.get(d.param)!;
      const w1 = after.get(d.param)!;
      const n = w1.length;
      for (let k = 0; k < n; k++) {
        const half = ((w1[k]! - w0[k]!) * d.scale) / 2;
        d.dG[k] = half;
        d.dG[n + k] = -half;
      }
      applyUpdate(d.g, d.dG, d.model, d.range, d.rng, d.state);
      for (let k = 0; k < n; k++) w1[k] = (d.g[k]! - d.g[n + k]!) / d.scale;
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
