/**
 * Device update models (MODELS.md §3): how a requested conductance change ΔG lands on a cell.
 * Pure functions on conductance arrays (S); every random draw comes from the Rng passed in, so a
 * run is reproducible bit for bit.
 *
 *  - `ideal`:         G ← G + ΔG.
 *  - `txsim(v, γ)`:   the CrossSim ASYM asymmetric nonlinearity with factor v on the range
 *                     [G_min, G_max], then TxSim write noise N(0, σ²), σ = γ·sqrt((G_max − G_min)·|ΔG|).
 *  - `nonlinear(ltp, ltd, c2c, d2d)`: the NeuroSim pulse model. The state is a pulse number
 *                     P ∈ [0, P_max], P_max = levels − 1, on the curve
 *                     G(P) = G_min + B·(1 − e^(−P/A)), B = (G_max − G_min)/(1 − e^(−P_max/A)),
 *                     A = sign(α)·A_norm(|α|)·P_max. Potentiation uses A_LTP, depression A_LTD: the
 *                     current P is read back from G through the curve of the update's direction,
 *                     n = round(ΔG / ((G_max − G_min)/P_max)) pulses are added, and G is the curve at
 *                     P + n. A positive label gives the saturating (concave) curve, a negative one the
 *                     flipped (convex) curve — NeuroSim's convention, in which the usual saturating
 *                     depression carries a negative LTD label (Ag:a-Si: 2.4 / −4.88). MODELS.md's
 *                     G_LTD(P) = −B(1 − e^((P−P_max)/A)) + G_max with A = A_norm(|α|)·P_max is exactly
 *                     this curve for a negative label. α = 0 is linear. C2C: N(0, (c2c·(G_max−G_min))²·|n|)
 *                     added per update of n pulses (NeuroSim; one pulse: σ = c2c of the range). D2D:
 *                     each device's labels are α + N(0, d2d²), drawn once (deviceState).
 *  - `constant_step`, `soft_bounds`, `exp_step`, `pow_step`: aihwkit's pulsed devices, on a weight
 *                     w ∈ [w_min, w_max] mapped linearly onto [G_min, G_max]; the update is
 *                     n = round(|Δw| / dw_min) pulses, each Δw = scale·f(w)·(1 + dw_min_std·ξ), clipped.
 *                     Per-device scales (drawn once): gain = 1 + dw_min_dtod·ξ, up_down biases
 *                     scale_up = dw_min·gain·(up_down > 0 ? 1 : 1 + up_down),
 *                     scale_down = dw_min·gain·(up_down > 0 ? 1 − up_down : 1).
 *
 * Bounds: every model keeps G within [G_min, G_max]. Level grid: `ideal` and `txsim` snap the
 * result to the `levels` evenly spaced states G_min + k·(G_max − G_min)/(levels − 1) (nearest, or
 * stochastic rounding); the pulse models move on their own pulse grids (NeuroSim's curve points,
 * aihwkit's dw_min steps), which noise moves off the grid, as in the originals.
 */

import type { AihwkitStepParams, DeviceSpec, UpdateModelSpec } from '../../model/crossbar.js';

import type { Rng } from '../rng.js';

export interface ConductanceRange {
  gMin: number;
  gMax: number;
  /** Number of programmable states (≥ 2); absent or 0 for a continuum. */
  levels?: number | undefined;
}

/** The update models (plan contract, src/model/crossbar.ts). */
export type UpdateModel = UpdateModelSpec;
export type { AihwkitStepParams };

export interface UpdateOptions {
  /** Snapping to the level grid (ideal, txsim): nearest level (default) or stochastic rounding. */
  rounding?: 'nearest' | 'stochastic';
}

/** Per-device parameters drawn once (device-to-device variation of the update). */
export interface DeviceState {
  /** nonlinear: the per-device A of LTP and LTD (in pulses). */
  aLtp?: Float64Array;
  aLtd?: Float64Array;
  /** aihwkit models: per-device up and down step scales (weight units). */
  scaleUp?: Float64Array;
  scaleDown?: Float64Array;
}

// ---- NeuroSim nonlinearity labels ------------------------------------------------------------

/** NeuroSim's anchors α → A_norm (MODELS.md §3). */
export const A_NORM_ANCHORS: ReadonlyArray<readonly [number, number]> = [
  [0.01, 126.269],
  [0.04, 31.567],
  [0.1, 12.626],
  [0.5, 2.52],
  [0.61, 2.063],
  [0.63, 1.997],
  [1.0, 1.2517],
  [1.46, 0.8487],
  [1.75, 0.7021],
  [1.94, 0.6292],
  [2.4, 0.4992],
  [3.68, 0.3006],
  [4.88, 0.2003],
  [6.76, 0.1003],
  [9.0, 0.0228],
];

/**
 * A_norm(α) for α > 0: exact at the anchors, piecewise linear in log α – log A between them
 * (monotone decreasing), 1.26269/α below the first anchor, the last segment's slope beyond 9.
 */
export function aNorm(alpha: number): number {
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new RangeError(`nonlinearity label must be a positive finite number, got ${alpha}`);
  const a = A_NORM_ANCHORS;
  if (alpha <= a[0]![0]) return (a[0]![1] * a[0]![0]) / alpha;
  let k = 1;
  while (k < a.length - 1 && alpha > a[k]![0]) k++;
  const [x0, y0] = a[k - 1]!;
  const [x1, y1] = a[k]!;
  const t = (Math.log(alpha) - Math.log(x0)) / (Math.log(x1) - Math.log(x0));
  return Math.exp(Math.log(y0) + t * (Math.log(y1) - Math.log(y0)));
}

/** Signed A (in pulses) of a label: sign(α)·A_norm(|α|)·P_max; Infinity for α = 0 (linear). */
export function paramA(alpha: number, pMax: number): number {
  if (alpha === 0) return Infinity;
  return Math.sign(alpha) * aNorm(Math.abs(alpha)) * pMax;
}

/** NeuroSim curve: G(P) = G_min + (G_max − G_min)·(1 − e^(−P/A))/(1 − e^(−P_max/A)); linear for A = ±∞. */
export function pulseCurve(p: number, a: number, pMax: number, gMin: number, gMax: number): number {
  if (p <= 0) return gMin;
  if (p >= pMax) return gMax;
  if (!Number.isFinite(a)) return gMin + ((gMax - gMin) * p) / pMax;
  return gMin + ((gMax - gMin) * -Math.expm1(-p / a)) / -Math.expm1(-pMax / a);
}

/** Inverse of pulseCurve: the (real) pulse number of a conductance, clamped to [0, P_max]. */
export function pulseOf(g: number, a: number, pMax: number, gMin: number, gMax: number): number {
  const x = Math.min(1, Math.max(0, (g - gMin) / (gMax - gMin)));
  if (!Number.isFinite(a)) return x * pMax;
  // x = (1 − e^(−P/A)) / (1 − e^(−Pmax/A))  ⇒  P = −A·ln(1 − x·(1 − e^(−Pmax/A)))
  const p = -a * Math.log1p(x * Math.expm1(-pMax / a));
  return Math.min(pMax, Math.max(0, p));
}

// ---- TxSim / CrossSim ASYM -------------------------------------------------------------------

/**
 * CrossSim ASYM nonlinearity (MODELS.md §3) on w ∈ [w_min, w_max]: the applied change Δ' for a
 * requested Δ. w0 = (w_max−w_min)/(1−e^(−v)), d = Δ/(w_max−w_min);
 * Δ > 0: Δ' = (w0 + w_min − w)(1 − e^(−v·d));  Δ ≤ 0: Δ' = (w_max − w0 − w)(1 − e^(v·d)). v = 0: Δ' = Δ.
 */
export function asymDelta(w: number, delta: number, v: number, wMin: number, wMax: number): number {
  if (v === 0) return delta;
  const range = wMax - wMin;
  const w0 = range / -Math.expm1(-v);
  const d = delta / range;
  return delta > 0 ? (w0 + wMin - w) * -Math.expm1(-v * d) : (wMax - w0 - w) * -Math.expm1(v * d);
}

/** TxSim write-noise σ for a requested change: γ·sqrt((G_max − G_min)·|ΔG|). */
export function writeNoiseSigma(gamma: number, dG: number, range: ConductanceRange): number {
  return gamma * Math.sqrt((range.gMax - range.gMin) * Math.abs(dG));
}

// ---- device state ----------------------------------------------------------------------------

function checkRange(r: ConductanceRange): void {
  if (!(r.gMin >= 0 && r.gMax > r.gMin && Number.isFinite(r.gMax)))
    throw new RangeError(`conductance range must satisfy 0 ≤ G_min < G_max, got [${r.gMin}, ${r.gMax}]`);
  if (r.levels !== undefined && r.levels !== 0 && !(Number.isInteger(r.levels) && r.levels >= 2))
    throw new RangeError(`levels must be an integer ≥ 2 (or 0 for a continuum), got ${r.levels}`);
}

function pMaxOf(r: ConductanceRange): number {
  if (!r.levels || r.levels < 2) throw new RangeError('the nonlinear (NeuroSim) update model needs levels ≥ 2 (its pulse grid)');
  return r.levels - 1;
}

/** Draw the per-device parameters of `count` devices (device-to-device variation), once. */
export function createDeviceState(model: UpdateModel, range: ConductanceRange, count: number, rng: Rng): DeviceState {
  checkRange(range);
  switch (model.kind) {
    case 'ideal':
    case 'txsim':
      return {};
    case 'nonlinear': {
      const pMax = pMaxOf(range);
      const aLtp = new Float64Array(count);
      const aLtd = new Float64Array(count);
      for (let k = 0; k < count; k++) {
        // NeuroSim: the label (not A) varies device to device; a label that crosses 0 flips sign.
        const ltp = model.d2d > 0 ? model.ltp + model.d2d * rng.normal() : model.ltp;
        const ltd = model.d2d > 0 ? model.ltd + model.d2d * rng.normal() : model.ltd;
        aLtp[k] = paramA(ltp, pMax);
        aLtd[k] = paramA(ltd, pMax);
      }
      return { aLtp, aLtd };
    }
    default: {
      const upDown = model.up_down ?? 0;
      const dtod = model.dw_min_dtod ?? 0;
      const scaleUp = new Float64Array(count);
      const scaleDown = new Float64Array(count);
      for (let k = 0; k < count; k++) {
        const gain = Math.max(0, 1 + (dtod > 0 ? dtod * rng.normal() : 0));
        scaleUp[k] = model.dw_min * gain * (upDown > 0 ? 1 : 1 + upDown);
        scaleDown[k] = model.dw_min * gain * (upDown > 0 ? 1 - upDown : 1);
      }
      return { scaleUp, scaleDown };
    }
  }
}

// ---- the update ------------------------------------------------------------------------------

type Conductances = Float64Array | Float32Array;

function snap(g: number, r: ConductanceRange, rounding: 'nearest' | 'stochastic', rng: Rng): number {
  const clipped = Math.min(r.gMax, Math.max(r.gMin, g));
  if (!r.levels || r.levels < 2) return clipped;
  const step = (r.gMax - r.gMin) / (r.levels - 1);
  const x = (clipped - r.gMin) / step;
  let k = rounding === 'stochastic' ? Math.floor(x) + (rng.uniform() < x - Math.floor(x) ? 1 : 0) : Math.round(x);
  k = Math.min(r.levels - 1, Math.max(0, k));
  return k === r.levels - 1 ? r.gMax : r.gMin + k * step;
}

/**
 * Apply requested changes dG to conductances g (both length n); writes the new conductances to
 * `out` (default: g itself, in place) and returns it. `state` holds per-device parameters
 * (createDeviceState); it is created without variation when absent and the model needs it.
 */
export function applyUpdate(
  g: Conductances,
  dG: ArrayLike<number>,
  model: UpdateModel,
  range: ConductanceRange,
  rng: Rng,
  state?: DeviceState,
  opts: UpdateOptions = {},
  out: Conductances = g,
): Conductances {
  checkRange(range);
  const n = g.length;
  if (dG.length !== n || out.length !== n) throw new RangeError(`applyUpdate: G has ${n} values, ΔG ${dG.length}, out ${out.length}`);
  const rounding = opts.rounding ?? 'nearest';
  const { gMin, gMax } = range;
  const span = gMax - gMin;
  switch (model.kind) {
    case 'ideal': {
      for (let k = 0; k < n; k++) out[k] = dG[k]! === 0 ? g[k]! : snap(g[k]! + dG[k]!, range, rounding, rng);
      return out;
    }
    case 'txsim': {
      for (let k = 0; k < n; k++) {
        const d = dG[k]!;
        if (d === 0) {
          out[k] = g[k]!;
          continue;
        }
        const gk = Math.min(gMax, Math.max(gMin, g[k]!));
        let next = gk + asymDelta(gk, d, model.v, gMin, gMax);
        if (model.gamma > 0) next += writeNoiseSigma(model.gamma, d, range) * rng.normal();
        out[k] = snap(next, range, rounding, rng);
      }
      return out;
    }
    case 'nonlinear': {
      const pMax = pMaxOf(range);
      const st = state?.aLtp ? state : createDeviceState({ ...model, d2d: 0 }, range, n, rng);
      if (st.aLtp!.length !== n) throw new RangeError(`device state holds ${st.aLtp!.length} devices, the update ${n}`);
      const step = span / pMax;
      const sigma = model.c2c * span;
      for (let k = 0; k < n; k++) {
        const pulses = Math.round(dG[k]! / step);
        if (pulses === 0) {
          out[k] = g[k]!;
          continue;
        }
        const a = pulses > 0 ? st.aLtp![k]! : st.aLtd![k]!;
        let p = pulseOf(g[k]!, a, pMax, gMin, gMax);
        // on the curve's grid (no noise so far), keep the pulse number an exact integer
        if (Math.abs(p - Math.round(p)) < 1e-9) p = Math.round(p);
        const pNew = Math.min(pMax, Math.max(0, p + pulses));
        let next = pulseCurve(pNew, a, pMax, gMin, gMax);
        if (sigma > 0) next += sigma * Math.sqrt(Math.abs(pulses)) * rng.normal();
        out[k] = Math.min(gMax, Math.max(gMin, next));
      }
      return out;
    }
    default: {
      const m = model;
      if (!(m.dw_min > 0) || !(m.w_max > m.w_min)) throw new RangeError(`${m.kind}: needs dw_min > 0 and w_min < w_max`);
      const st = state?.scaleUp ? state : createDeviceState({ ...m, dw_min_dtod: 0 } as UpdateModel, range, n, rng);
      if (st.scaleUp!.length !== n) throw new RangeError(`device state holds ${st.scaleUp!.length} devices, the update ${n}`);
      const wSpan = m.w_max - m.w_min;
      // More pulses than it takes to sweep the whole range (at the smallest step) change nothing but noise.
      const cap = Math.ceil(wSpan / m.dw_min) * 4 + 16;
      for (let k = 0; k < n; k++) {
        const dw = (dG[k]! / span) * wSpan;
        let pulses = Math.round(Math.abs(dw) / m.dw_min);
        if (pulses === 0) {
          out[k] = g[k]!;
          continue;
        }
        pulses = Math.min(pulses, cap);
        let w = m.w_min + ((Math.min(gMax, Math.max(gMin, g[k]!)) - gMin) / span) * wSpan;
        const up = dw > 0;
        const scale = up ? st.scaleUp![k]! : st.scaleDown![k]!;
        for (let p = 0; p < pulses; p++) {
          const noise = m.dw_min_std > 0 ? 1 + m.dw_min_std * rng.normal() : 1;
          const f = stepShape(m, w, up);
          w += (up ? 1 : -1) * scale * f * noise;
          if (w > m.w_max) w = m.w_max;
          else if (w < m.w_min) w = m.w_min;
        }
        out[k] = gMin + ((w - m.w_min) / wSpan) * span;
      }
      return out;
    }
  }
}

/** f(w) of an aihwkit pulsed device: the step of one pulse relative to its scale. */
export function stepShape(m: Exclude<UpdateModel, { kind: 'ideal' } | { kind: 'txsim' } | { kind: 'nonlinear' }>, w: number, up: boolean): number {
  switch (m.kind) {
    case 'constant_step':
      return 1;
    case 'soft_bounds':
      // aihwkit SoftBounds: Δw_up ∝ (1 − w/w_max), Δw_down ∝ (1 − w/w_min) (w_min < 0 < w_max).
      return Math.max(0, up ? 1 - w / m.w_max : 1 - w / m.w_min);
    case 'exp_step': {
      // aihwkit ExpStep: z = 2a·w/(w_max − w_min) + b; up: 1 − A_up·e^(γ_up·z); down: 1 − A_down·e^(−γ_down·z).
      const z = (2 * m.a * w) / (m.w_max - m.w_min) + m.b;
      return Math.max(0, up ? 1 - m.A_up * Math.exp(m.gamma_up * z) : 1 - m.A_down * Math.exp(-m.gamma_down * z));
    }
    case 'pow_step': {
      // aihwkit PowStep: up ∝ ((w_max − w)/(w_max − w_min))^γ, down ∝ ((w − w_min)/(w_max − w_min))^γ, γ biased by pow_up_down.
      const span = m.w_max - m.w_min;
      const gUp = m.pow_gamma * (m.pow_up_down > 0 ? 1 : 1 + m.pow_up_down);
      const gDown = m.pow_gamma * (m.pow_up_down > 0 ? 1 - m.pow_up_down : 1);
      return up ? Math.max(0, (m.w_max - w) / span) ** gUp : Math.max(0, (w - m.w_min) / span) ** gDown;
    }
  }
}

// ---- from a plan -----------------------------------------------------------------------------

/** The update model and conductance range of a plan device: [G_off, G_on] with its `levels`. */
export function updateOf(device: DeviceSpec): { model: UpdateModel; range: ConductanceRange } {
  return { model: device.update, range: { gMin: device.gOff, gMax: device.gOn, levels: device.levels } };
}
